from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from conftest import PASSWORD
from stammtisch.accounts.models import Profile
from stammtisch.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_it_creates_an_account_and_signs_in(client) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {
            "name": "Dora Dietrich",
            "email": "Dora@Example.org",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="Dora@example.org")  # the domain is lower-cased
    assert user.username == "Dora"
    assert user.get_full_name() == "Dora Dietrich"
    assert user.check_password(PASSWORD)
    assert Profile.objects.filter(user=user).exists()
    assert int(client.session["_auth_user_id"]) == user.pk
    assert AuditEvent.objects.filter(action="account.signup", actor=user, workspace=None).exists()


def test_it_refuses_an_address_in_use_whatever_the_case(cast, client) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {
            "name": "Alice Again",
            "email": "ALICE@example.org",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert User.objects.filter(email__iexact="alice@example.org").count() == 1


def test_it_shows_errors_per_field(client) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {"name": " ", "email": "not-an-address", "password1": "12345", "password2": "54321"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"name", "email", "password2"}
    assert b'class="error" role="alert"' in response.content


def test_it_applies_the_password_rules(client) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {
            "name": "Dora",
            "email": "dora@example.org",
            "password1": "12345678",
            "password2": "12345678",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.filter(email="dora@example.org").exists()


def test_it_picks_a_free_username(cast, client) -> None:
    client.post(
        reverse("accounts:signup"),
        {
            "name": "Other Alice",
            "email": "alice@elsewhere.example",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert User.objects.get(email="alice@elsewhere.example").username == "alice2"


def test_it_is_closed_when_switched_off(settings, client) -> None:
    settings.SIGNUP_ENABLED = False
    page = client.get(reverse("accounts:signup"))
    assert page.status_code == 404
    assert "Sign-up is closed" in page.content.decode()
    response = client.post(
        reverse("accounts:signup"),
        {"name": "Dora", "email": "dora@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 404
    assert not User.objects.filter(email="dora@example.org").exists()
    login_page = client.get(reverse("accounts:login"))
    assert reverse("accounts:signup") not in login_page.content.decode()


def test_the_login_page_links_to_it_when_open(client) -> None:
    assert reverse("accounts:signup") in client.get(reverse("accounts:login")).content.decode()
