from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from django.urls import reverse

from conftest import PASSWORD
from stammtisch.accounts.models import RecoveryCode, TOTPDevice
from stammtisch.accounts.tests.utils import enable_two_factor, log_in, signed_in_user
from stammtisch.core.crypto import decrypt
from stammtisch.core.models import AuditEvent

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, 10, tzinfo=UTC)
CODE_URL = reverse("accounts:login_code")


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_it_sets_up_with_a_qr_code_and_a_confirming_code(cast, alice_client) -> None:
    page = alice_client.get(reverse("accounts:two_factor_setup"))
    html = page.content.decode()
    assert "<svg" in html and 'role="img"' in html
    secret = decrypt(alice_client.session["accounts_totp_setup"])
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert grouped in html
    assert secret not in str(list(AuditEvent.objects.values()))

    wrong = alice_client.post(reverse("accounts:two_factor_setup"), {"code": "000000"})
    assert wrong.context["form"].errors["code"]
    assert not TOTPDevice.objects.exists()

    done = alice_client.post(reverse("accounts:two_factor_setup"), {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>", done.content.decode())
    assert len(codes) == 10
    device = TOTPDevice.objects.get(user=cast.alice)
    assert device.secret == secret and secret not in device.secret_encrypted
    stored = set(RecoveryCode.objects.filter(user=cast.alice).values_list("code_hash", flat=True))
    assert len(stored) == 10 and not stored & set(codes)
    assert AuditEvent.objects.filter(action="account.two_factor_enable", actor=cast.alice).exists()
    # The codes are not shown again.
    assert not re.search(
        r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}",
        alice_client.get(reverse("accounts:two_factor")).content.decode(),
    )


def test_login_needs_the_code_after_the_password(cast, client) -> None:
    totp, _ = enable_two_factor(cast.alice)
    response = log_in(client, "alice")
    assert response.status_code == 302 and response["Location"].startswith(CODE_URL)
    assert signed_in_user(client) is None
    assert client.get(reverse("accounts:profile")).status_code == 302  # still not signed in

    wrong = client.post(CODE_URL, {"code": "123456"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["code"]
    assert signed_in_user(client) is None

    right = client.post(CODE_URL, {"code": totp.now()})
    assert right.status_code == 302
    assert signed_in_user(client) == cast.alice.pk
    assert AuditEvent.objects.get(action="account.login").data == {"method": "totp"}


def test_a_code_of_the_neighbouring_step_is_accepted(cast, client) -> None:
    totp, _ = enable_two_factor(cast.alice)
    log_in(client, "alice")
    earlier = totp.at(NOW - timedelta(seconds=30))
    assert client.post(CODE_URL, {"code": earlier}).status_code == 302


def test_a_code_two_steps_old_is_refused(cast, client) -> None:
    totp, _ = enable_two_factor(cast.alice)
    log_in(client, "alice")
    stale = totp.at(NOW - timedelta(seconds=60))
    assert client.post(CODE_URL, {"code": stale}).status_code == 200
    assert signed_in_user(client) is None


def test_a_used_code_is_refused_the_second_time(cast, client) -> None:
    totp, _ = enable_two_factor(cast.alice)
    code = totp.now()
    log_in(client, "alice")
    assert client.post(CODE_URL, {"code": code}).status_code == 302
    client.post(reverse("accounts:logout"))

    log_in(client, "alice")
    again = client.post(CODE_URL, {"code": code})
    assert again.status_code == 200 and again.context["form"].errors["code"]
    assert signed_in_user(client) is None


def test_a_recovery_code_works_once(cast, client) -> None:
    _, codes = enable_two_factor(cast.alice)
    log_in(client, "alice")
    assert client.post(CODE_URL, {"code": codes[3].upper().replace("-", " ")}).status_code == 302
    assert AuditEvent.objects.get(action="account.login").data == {"method": "recovery"}
    assert AuditEvent.objects.get(action="account.recovery_code_used").data == {"remaining": 9}
    client.post(reverse("accounts:logout"))

    log_in(client, "alice")
    assert client.post(CODE_URL, {"code": codes[3]}).status_code == 200
    assert signed_in_user(client) is None
    assert client.post(CODE_URL, {"code": codes[4]}).status_code == 302


def test_code_guesses_are_throttled_even_with_the_password(settings, cast, client) -> None:
    settings.LOGIN_FAILURE_LIMIT = 3
    totp, _ = enable_two_factor(cast.alice)
    log_in(client, "alice")
    client.post(CODE_URL, {"code": "111111"})
    client.post(CODE_URL, {"code": "222222"})
    locked = client.post(CODE_URL, {"code": "333333"}, follow=True)
    assert "Too many failed attempts" in locked.content.decode()
    # The password again does not give new guesses.
    again = log_in(client, "alice")
    assert "Too many failed attempts" in again.content.decode()
    assert client.post(CODE_URL, {"code": totp.now()}).status_code == 302  # back to log-in
    assert signed_in_user(client) is None


def test_the_code_step_expires(cast, client, _frozen) -> None:
    totp, _ = enable_two_factor(cast.alice)
    log_in(client, "alice")
    _frozen.shift(timedelta(minutes=11))
    response = client.post(CODE_URL, {"code": totp.now()})
    assert response["Location"] == reverse("accounts:login")
    assert signed_in_user(client) is None


def test_the_code_page_without_a_password_goes_to_login(client) -> None:
    assert client.get(CODE_URL)["Location"] == reverse("accounts:login")


def test_it_is_turned_off_with_the_password(cast, alice_client) -> None:
    enable_two_factor(cast.alice)
    wrong = alice_client.post(reverse("accounts:two_factor_disable"), {"disable-password": "nope"})
    assert wrong.status_code == 200 and wrong.context["disable_form"].errors["password"]
    assert TOTPDevice.objects.filter(user=cast.alice).exists()

    alice_client.post(reverse("accounts:two_factor_disable"), {"disable-password": PASSWORD})
    assert not TOTPDevice.objects.filter(user=cast.alice).exists()
    assert not RecoveryCode.objects.filter(user=cast.alice).exists()
    assert AuditEvent.objects.filter(action="account.two_factor_disable").exists()


def test_new_recovery_codes_replace_the_old_ones(cast, alice_client) -> None:
    _, old = enable_two_factor(cast.alice)
    response = alice_client.post(reverse("accounts:two_factor_recovery_codes"), {"recovery-password": PASSWORD})
    new = re.findall(r"<code>([a-z2-9-]{14})</code>", response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    alice_client.post(reverse("accounts:logout"))
    log_in(alice_client, "alice")
    assert alice_client.post(CODE_URL, {"code": old[0]}).status_code == 200
    assert alice_client.post(CODE_URL, {"code": new[0]}).status_code == 302
