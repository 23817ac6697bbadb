from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from stammtisch.accounts.tests.utils import log_in, signed_in_user
from stammtisch.core.models import AuditEvent

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _limits(settings) -> None:
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_LOCKOUT_MINUTES = 15
    settings.TIME_ZONE = "UTC"


def test_it_locks_the_account_after_too_many_failures(cast, client) -> None:
    with time_machine.travel(START, tick=False):
        for _ in range(2):
            assert "do not match" in log_in(client, "alice", "nope").content.decode()
        third = log_in(client, "alice", "nope").content.decode()
        assert "Too many failed attempts" in third
        assert "in 15 minutes (at 09:15" in third or "in 15 minutes (at 9:15" in third
        # Even the right password is refused now, from anywhere.
        refused = log_in(client, "alice", REMOTE_ADDR="10.0.0.9")
        assert "Too many failed attempts" in refused.content.decode()
        assert signed_in_user(client) is None
    assert AuditEvent.objects.filter(action="account.login_failed").count() == 3
    lockout = AuditEvent.objects.get(action="account.lockout")
    assert lockout.object_id == str(cast.alice.pk) and lockout.data["scope"] == "account"


def test_it_counts_username_and_email_as_one_account(cast, client) -> None:
    with time_machine.travel(START, tick=False):
        log_in(client, "alice", "nope", REMOTE_ADDR="10.0.0.1")
        log_in(client, "alice@example.org", "nope", REMOTE_ADDR="10.0.0.2")
        log_in(client, "ALICE", "nope", REMOTE_ADDR="10.0.0.3")
        assert "Too many failed attempts" in log_in(client, "alice", REMOTE_ADDR="10.0.0.4").content.decode()


def test_it_says_the_same_for_unknown_accounts(cast, client) -> None:
    with time_machine.travel(START, tick=False):
        answers = [log_in(client, "ghost@example.org", "nope", REMOTE_ADDR="10.0.0.7") for _ in range(4)]
        known = [log_in(client, "bob", "nope", REMOTE_ADDR="10.0.0.8") for _ in range(4)]
    assert [a.content.decode().count("Too many") for a in answers] == [0, 0, 1, 1]
    assert [a.content.decode().count("Too many") for a in known] == [0, 0, 1, 1]
    assert answers[3].context["form"].non_field_errors() == known[3].context["form"].non_field_errors()


def test_it_unlocks_after_the_window(cast, client) -> None:
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            log_in(client, "alice", "nope")
    with time_machine.travel(START + timedelta(minutes=14), tick=False):
        assert "in 1 minute " in log_in(client, "alice").content.decode()
    with time_machine.travel(START + timedelta(minutes=15, seconds=1), tick=False):
        assert log_in(client, "alice").status_code == 302
        assert signed_in_user(client) == cast.alice.pk


def test_it_locks_an_address_that_tries_many_accounts(cast, client) -> None:
    with time_machine.travel(START, tick=False):
        for name in ["alice", "bob", "carol"]:
            log_in(client, name, "nope", REMOTE_ADDR="192.0.2.5")
        refused = log_in(client, "anna", REMOTE_ADDR="192.0.2.5")
        assert "Too many failed attempts" in refused.content.decode()
        assert log_in(client, "anna", REMOTE_ADDR="192.0.2.6").status_code == 302
    assert AuditEvent.objects.get(action="account.lockout").data["scope"] == "ip"


def test_a_successful_login_clears_the_account_count(cast, client) -> None:
    with time_machine.travel(START, tick=False):
        log_in(client, "alice", "nope", REMOTE_ADDR="10.0.0.1")
        log_in(client, "alice", "nope", REMOTE_ADDR="10.0.0.1")
        assert log_in(client, "alice", REMOTE_ADDR="10.0.0.2").status_code == 302
        client.post(reverse("accounts:logout"))
        log_in(client, "alice", "nope", REMOTE_ADDR="10.0.0.2")
        log_in(client, "alice", "nope", REMOTE_ADDR="10.0.0.3")
        assert log_in(client, "alice", REMOTE_ADDR="10.0.0.4").status_code == 302
