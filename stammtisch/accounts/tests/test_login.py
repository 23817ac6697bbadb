from __future__ import annotations

import pytest
from django.urls import reverse

from stammtisch.accounts.tests.utils import log_in, signed_in_user
from stammtisch.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_it_logs_in_with_the_username(cast, client) -> None:
    response = log_in(client, "alice")
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")
    assert signed_in_user(client) == cast.alice.pk
    event = AuditEvent.objects.get(action="account.login")
    assert event.actor == cast.alice and event.workspace is None and event.data == {"method": "password"}


def test_it_logs_in_with_the_email_address_in_any_case(cast, client) -> None:
    assert log_in(client, "  ALICE@example.org ").status_code == 302
    assert signed_in_user(client) == cast.alice.pk


def test_it_logs_in_with_the_username_in_another_case(cast, client) -> None:
    assert log_in(client, "Alice").status_code == 302
    assert signed_in_user(client) == cast.alice.pk


def test_it_refuses_a_wrong_password_and_records_it(cast, client) -> None:
    response = log_in(client, "alice", "wrong password")
    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    assert signed_in_user(client) is None
    event = AuditEvent.objects.get(action="account.login_failed")
    assert event.actor is None and event.object_id == str(cast.alice.pk)
    assert "wrong password" not in str(event.data) + event.summary


def test_it_answers_an_unknown_name_like_a_wrong_password(cast, client) -> None:
    unknown = log_in(client, "nobody@example.org", "whatever it is")
    wrong = log_in(client, "alice", "whatever it is")
    assert unknown.status_code == wrong.status_code == 200
    assert unknown.context["form"].non_field_errors() == wrong.context["form"].non_field_errors()
    # The typed name is not stored (people type passwords into it).
    assert "nobody" not in str(list(AuditEvent.objects.values()))


def test_it_shows_empty_fields_as_field_errors(client) -> None:
    response = client.post(reverse("accounts:login"), {"username": "", "password": ""})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"username", "password"}


def test_it_follows_a_local_next_only(cast, client) -> None:
    url = reverse("accounts:login")
    response = client.post(url, {"username": "alice", "password": "correct horse battery staple", "next": "/x/"})
    assert response["Location"] == "/x/"
    client.post(reverse("accounts:logout"))
    response = client.post(
        url,
        {
            "username": "alice",
            "password": "correct horse battery staple",
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == reverse("core:home")


def test_it_logs_out_on_post_only(cast, client) -> None:
    log_in(client, "alice")
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert signed_in_user(client) == cast.alice.pk
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("accounts:login")
    assert signed_in_user(client) is None
    assert AuditEvent.objects.filter(action="account.logout", actor=cast.alice).exists()


def test_the_login_page_has_the_language_switch(client) -> None:
    page = client.get(reverse("accounts:login")).content.decode()
    assert f'action="{reverse("accounts:language")}"' in page
    assert 'name="language" value="de"' in page


def test_a_signed_in_user_skips_the_login_page(alice_client) -> None:
    assert alice_client.get(reverse("accounts:login"))["Location"] == reverse("core:home")
