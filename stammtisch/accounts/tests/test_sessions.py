from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from stammtisch.accounts.models import UserSession, describe_user_agent
from stammtisch.accounts.tests.utils import FIREFOX, IPHONE, log_in
from stammtisch.core.models import AuditEvent

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _devices(cast) -> tuple[Client, Client]:
    laptop = Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="203.0.113.10")
    phone = Client(HTTP_USER_AGENT=IPHONE, REMOTE_ADDR="198.51.100.7")
    log_in(laptop, "alice")
    log_in(phone, "alice")
    return laptop, phone


def test_it_lists_every_session_and_marks_this_one(cast) -> None:
    with time_machine.travel(START, tick=False):
        laptop, _phone = _devices(cast)
        log_in(Client(), "bob")
        page = laptop.get(reverse("accounts:sessions"))
    sessions = page.context["sessions"]
    assert [(s.device, s.ip, s.is_current) for s in sessions] == [
        ("Firefox 128 on Linux", "203.0.113.10", True),
        ("Safari 17 on iPhone", "198.51.100.7", False),
    ]
    html = page.content.decode()
    assert "This device" in html and "Safari 17 on iPhone" in html
    assert UserSession.objects.filter(user=cast.alice).count() == 2


def test_revoking_a_session_logs_that_client_out(cast) -> None:
    laptop, phone = _devices(cast)
    phone_row = UserSession.objects.get(user=cast.alice, user_agent=IPHONE)
    response = laptop.post(reverse("accounts:session_revoke", args=[phone_row.pk]))
    assert response["Location"] == reverse("accounts:sessions")
    assert phone.get(reverse("accounts:profile")).status_code == 302
    assert laptop.get(reverse("accounts:profile")).status_code == 200
    assert AuditEvent.objects.get(action="account.session_revoke").summary == "Safari 17 on iPhone"
    assert [s.device for s in laptop.get(reverse("accounts:sessions")).context["sessions"]] == ["Firefox 128 on Linux"]


def test_it_signs_out_all_other_sessions(cast) -> None:
    laptop, phone = _devices(cast)
    tablet = Client()
    log_in(tablet, "alice")
    laptop.post(reverse("accounts:sessions_revoke_others"))
    assert phone.get(reverse("accounts:profile")).status_code == 302
    assert tablet.get(reverse("accounts:profile")).status_code == 302
    assert laptop.get(reverse("accounts:profile")).status_code == 200
    assert AuditEvent.objects.get(action="account.sessions_revoke_others").data == {"sessions_ended": 2}


def test_nobody_can_revoke_another_users_session(cast) -> None:
    laptop, _phone = _devices(cast)
    row = UserSession.objects.filter(user=cast.alice).first()
    charlie = Client()
    log_in(charlie, "charlie")
    assert charlie.post(reverse("accounts:session_revoke", args=[row.pk])).status_code == 404
    assert laptop.get(reverse("accounts:profile")).status_code == 200


def test_last_activity_is_updated_at_most_once_a_minute(cast) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        laptop, _phone = _devices(cast)
        row = UserSession.objects.get(user_agent=FIREFOX)
        traveller.shift(timedelta(seconds=30))
        laptop.get(reverse("accounts:profile"))
        row.refresh_from_db()
        assert row.last_seen_at == START
        traveller.shift(timedelta(seconds=31))
        laptop.get(reverse("accounts:profile"))
        row.refresh_from_db()
        assert row.last_seen_at == START + timedelta(seconds=61)
        assert row.created_at == START


def test_logging_out_removes_the_session(cast) -> None:
    laptop, _phone = _devices(cast)
    laptop.post(reverse("accounts:logout"))
    assert not UserSession.objects.filter(user_agent=FIREFOX).exists()


def test_a_session_from_before_tracking_appears_too(cast, alice_client) -> None:
    alice_client.get(reverse("accounts:profile"))
    assert UserSession.objects.filter(user=cast.alice).count() == 1


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (FIREFOX, "Firefox 128 on Linux"),
        (IPHONE, "Safari 17 on iPhone"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge 126 on Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.6478.71 Mobile Safari/537.36",
            "Chrome 126 on Android",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", "Unknown device"),
    ],
)
def test_it_names_devices_shortly(user_agent: str, label: str) -> None:
    assert describe_user_agent(user_agent) == label
