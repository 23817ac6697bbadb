from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from conftest import PASSWORD
from stammtisch.accounts.management.commands.createuser import Command
from stammtisch.accounts.models import Profile
from stammtisch.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_test_connection(monkeypatch) -> None:
    # run_from_argv closes database connections when done; the test still needs its own.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


def run(*args: str) -> int:
    try:
        Command().run_from_argv(["stammtisch", "createuser", *args])
    except SystemExit as exit:
        return int(exit.code or 0)
    return 0


def test_it_creates_a_user(capsys) -> None:
    assert run("dora", "--email", "dora@example.org", "--password", PASSWORD) == 0
    user = User.objects.get(username="dora")
    assert user.check_password(PASSWORD) and not user.is_superuser
    assert Profile.objects.filter(user=user).exists()
    assert "dora created" in capsys.readouterr().out
    event = AuditEvent.objects.get(action="account.create")
    assert event.actor_label == "createuser" and PASSWORD not in str(event.data)


def test_it_creates_a_superuser() -> None:
    assert run("root", "--password", PASSWORD, "--superuser") == 0
    assert User.objects.get(username="root").is_superuser


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["alice", "--password", PASSWORD], "taken"),
        (
            ["dora", "--email", "ALICE@example.org", "--password", PASSWORD],
            "used by another account",
        ),
        (["dora", "--email", "no-address", "--password", PASSWORD], "not valid"),
        (["bad name!", "--password", PASSWORD], "not valid"),
        (["dora", "--password", "12345"], "Password not accepted"),
        (["dora"], "no terminal"),
    ],
)
def test_it_exits_2_on_bad_input(cast, capsys, args: list[str], message: str) -> None:
    assert run(*args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not User.objects.filter(username="dora").exists()
