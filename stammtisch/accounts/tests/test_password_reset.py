from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from stammtisch.accounts.tests.utils import log_in, signed_in_user
from stammtisch.core.models import AuditEvent

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new stammtisch password"


def _reset_link(client: Client, email: str) -> str:
    response = client.post(reverse("accounts:password_reset"), {"email": email})
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    (url,) = re.findall(r"https?://\S+", mail.outbox[0].body)
    assert url.startswith("http://127.0.0.1:8000/")  # from STAMMTISCH_BASE_URL, not the Host header
    return urlparse(url).path


def test_it_mails_a_link_that_sets_a_new_password(cast, client) -> None:
    other_device = Client()
    log_in(other_device, "alice")

    path = _reset_link(client, "ALICE@example.org")
    assert mail.outbox[0].to == ["alice@example.org"]
    assert "alice" in mail.outbox[0].body
    form_page = client.get(path, follow=True)
    assert form_page.context["validlink"]
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("accounts:password_reset_complete")

    assert log_in(client, "alice", NEW_PASSWORD).status_code == 302
    assert signed_in_user(client) == cast.alice.pk
    # Every session from before the reset has ended.
    assert other_device.get(reverse("accounts:profile")).status_code == 302
    assert AuditEvent.objects.get(action="account.password_reset").data == {"sessions_ended": 1}


def test_the_link_works_once(cast, client) -> None:
    path = _reset_link(client, "alice@example.org")
    set_url = client.get(path, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    again = Client().get(path, follow=True)
    assert not again.context["validlink"]
    assert "does not work any more" in again.content.decode()


def test_it_shows_weak_passwords_as_field_errors(cast, client) -> None:
    path = _reset_link(client, "alice@example.org")
    set_url = client.get(path, follow=True).redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": "123", "new_password2": "123"})
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    assert "&lt;ul&gt;" not in response.content.decode()


def test_it_says_the_same_for_an_unknown_address(cast, client) -> None:
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.org"})
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_a_bad_link_says_so(client) -> None:
    response = client.get(reverse("accounts:password_reset_confirm", args=["MQ", "nonsense"]))
    assert response.status_code == 200 and not response.context["validlink"]
