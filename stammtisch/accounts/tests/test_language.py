from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from stammtisch.accounts.models import Profile
from stammtisch.accounts.tests.utils import log_in
from stammtisch.core.models import AuditEvent

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")


def _switch(client: Client, language: str, next_url: str = PROFILE):
    return client.post(reverse("accounts:language"), {"language": language, "next": next_url})


def test_it_sets_the_cookie_and_the_profile(cast, alice_client) -> None:
    response = _switch(alice_client, "de")
    assert response["Location"] == PROFILE
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert Profile.objects.get(user=cast.alice).language == "de"
    assert '<html lang="de">' in alice_client.get(PROFILE).content.decode()
    assert AuditEvent.objects.get(action="account.language").data == {"language": "de"}

    _switch(alice_client, "en")
    assert '<html lang="en">' in alice_client.get(PROFILE).content.decode()
    assert Profile.objects.get(user=cast.alice).language == "en"


def test_the_saved_language_follows_the_user_to_another_browser(cast, alice_client) -> None:
    _switch(alice_client, "de")
    fresh = Client()  # no cookie; the site default here is English
    assert '<html lang="en">' in fresh.get(reverse("accounts:login")).content.decode()
    response = log_in(fresh, "alice")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert '<html lang="de">' in fresh.get(PROFILE).content.decode()


def test_the_saved_language_wins_over_an_old_cookie(cast, alice_client) -> None:
    _switch(alice_client, "de")
    alice_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert '<html lang="de">' in alice_client.get(PROFILE).content.decode()


def test_it_works_before_logging_in(client) -> None:
    login = reverse("accounts:login")
    response = _switch(client, "de", login)
    assert response["Location"] == login
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert '<html lang="de">' in client.get(login).content.decode()


def test_it_never_redirects_elsewhere(client) -> None:
    response = _switch(client, "de", "https://evil.example/")
    assert response["Location"] == reverse("accounts:login")


def test_an_unknown_language_changes_nothing(cast, alice_client) -> None:
    response = _switch(alice_client, "xx")
    assert response.status_code == 302
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert Profile.objects.filter(user=cast.alice, language="xx").count() == 0


def test_it_takes_posts_only(client) -> None:
    assert client.get(reverse("accounts:language")).status_code == 405
