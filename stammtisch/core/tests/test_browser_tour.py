"""A real browser (Debian's Chromium) walks through the demo: log in, switch the language,
open every navigation page, look at the public Sandbox feed. A screenshot of each page is saved
to test-artifacts/screenshots/ for people to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from stammtisch.networks.models import Channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
NAVIGATION = {
    "en": ["Calendar", "Compose", "Inbox", "People", "Links", "Goals & Analytics", "Settings"],
    "de": ["Kalender", "Verfassen", "Posteingang", "Personen", "Links", "Ziele & Analysen", "Einstellungen"],
}


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_demo_user_tours_every_page_in_both_languages(browser_page) -> None:  # type: ignore[no-untyped-def]
    call_command("demo", verbosity=0)
    alice = User.objects.get(username="alice")
    alice.set_password("demo-tour-password")
    alice.save()
    page = browser_page

    page.goto("/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "de"
    page.get_by_label("Benutzername oder E-Mail").fill("alice")
    page.get_by_label("Passwort").fill("demo-tour-password")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/w/**/calendar/")
    _shot(page, "de-after-login")

    for language in ["en", "de"]:
        page.locator(f".language-switch button[value={language}]").click()
        page.wait_for_load_state("load")
        assert page.locator("html").get_attribute("lang") == language
        nav = page.get_by_role("navigation", name="Main navigation" if language == "en" else "Hauptnavigation")
        for label in NAVIGATION[language]:
            nav.get_by_role("link", name=label, exact=True).click()
            page.wait_for_load_state("load")
            current = nav.get_by_role("link", name=label, exact=True)
            assert current.get_attribute("aria-current") == "page", f"{label} is not marked as current"
            assert page.locator("main h1").first.is_visible()
            assert "Traceback" not in page.content()
            _shot(page, f"{language}-{label.lower().replace(' & ', '-').replace(' ', '-')}")

    channel = Channel.objects.filter(network="sandbox", workspace__is_demo=True).first()
    assert channel is not None
    page.goto(f"/sandbox/{channel.handle}/")
    assert page.locator("article").count() > 0, "the demo's Sandbox feed shows no posts"
    _shot(page, "sandbox-feed")
