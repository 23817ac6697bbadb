from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import PASSWORD
from stammtisch.accounts.models import Profile
from stammtisch.accounts.tests.utils import enable_two_factor
from stammtisch.core.models import AuditEvent

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")


def _form(**changes: str) -> dict[str, str]:
    return {"name": "Alice Amsel", "email": "alice@example.org", "language": "en", **changes}


def test_it_shows_the_profile_with_links(cast, alice_client) -> None:
    html = alice_client.get(PROFILE).content.decode()
    for name in ["password_change", "two_factor", "sessions"]:
        assert reverse(f"accounts:{name}") in html
    assert 'value="alice@example.org"' in html


def test_it_saves_name_and_language(cast, alice_client) -> None:
    response = alice_client.post(PROFILE, _form(language="de"))
    assert response["Location"] == PROFILE
    cast.alice.refresh_from_db()
    assert cast.alice.get_full_name() == "Alice Amsel"
    assert Profile.objects.get(user=cast.alice).language == "de"
    event = AuditEvent.objects.get(action="account.profile_update")
    assert event.data == {"fields": ["name", "language"]}
    assert '<html lang="de">' in alice_client.get(PROFILE).content.decode()


def test_changing_the_email_needs_the_password(cast, alice_client) -> None:
    response = alice_client.post(PROFILE, _form(email="alice@amsel.example"))
    assert response.status_code == 200
    assert response.context["form"].errors["current_password"]
    cast.alice.refresh_from_db()
    assert cast.alice.email == "alice@example.org"

    alice_client.post(PROFILE, _form(email="alice@amsel.example", current_password=PASSWORD))
    cast.alice.refresh_from_db()
    assert cast.alice.email == "alice@amsel.example"


def test_it_refuses_an_email_of_another_account(cast, alice_client) -> None:
    response = alice_client.post(PROFILE, _form(email="BOB@example.org", current_password=PASSWORD))
    assert response.context["form"].errors["email"]


def test_bad_input_shows_field_errors(cast, alice_client) -> None:
    response = alice_client.post(PROFILE, {"name": "", "email": "nope", "language": "fr"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "email", "language"}


def test_it_shows_whether_two_factor_is_on(cast, alice_client) -> None:
    assert "Set up" in alice_client.get(PROFILE).content.decode()
    enable_two_factor(cast.alice)
    assert "Manage" in alice_client.get(PROFILE).content.decode()
