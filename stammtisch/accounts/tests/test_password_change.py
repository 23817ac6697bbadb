from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD
from stammtisch.accounts.tests.utils import log_in, signed_in_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new stammtisch password"


def test_it_changes_the_password_and_ends_other_sessions(cast) -> None:
    here, there = Client(), Client()
    log_in(here, "alice")
    log_in(there, "alice")
    response = here.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == reverse("accounts:profile")
    assert signed_in_user(here) == cast.alice.pk
    assert here.get(reverse("accounts:profile")).status_code == 200
    assert there.get(reverse("accounts:profile")).status_code == 302
    # This session keeps its row in the list under its new key.
    sessions = here.get(reverse("accounts:sessions")).context["sessions"]
    assert len(sessions) == 1 and sessions[0].is_current
    cast.alice.refresh_from_db()
    assert cast.alice.check_password(NEW_PASSWORD)


def test_it_needs_the_old_password(cast, alice_client) -> None:
    response = alice_client.post(
        reverse("accounts:password_change"),
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
