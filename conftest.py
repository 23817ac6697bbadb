"""Shared fixtures: the personas of every test story (STYLE.md §6).

alice owns "Café Königsbau"; adam is its admin, bob its editor, anna its analyst and carol a
client reviewer. charlie is an outsider with a workspace of his own: he must never see alice's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from stammtisch.core.models import Membership, Workspace
from stammtisch.core.roles import Role

PASSWORD = "correct horse battery staple"


@dataclass
class Cast:
    alice: User
    adam: User
    bob: User
    anna: User
    carol: User
    charlie: User
    workspace: Workspace
    other_workspace: Workspace

    def by_role(self) -> dict[str, User]:
        return {
            Role.OWNER: self.alice,
            Role.ADMIN: self.adam,
            Role.EDITOR: self.bob,
            Role.ANALYST: self.anna,
            Role.REVIEWER: self.carol,
        }


def make_user(username: str) -> User:
    return User.objects.create_user(username, f"{username}@example.org", PASSWORD, first_name=username.title())


@pytest.fixture
def cast(db: None) -> Cast:
    workspace = Workspace.objects.create(name="Café Königsbau", slug="cafe-koenigsbau")
    other = Workspace.objects.create(name="Charlie's Chili", slug="charlies-chili")
    users = {name: make_user(name) for name in ["alice", "adam", "bob", "anna", "carol", "charlie"]}
    for name, role in [
        ("alice", Role.OWNER),
        ("adam", Role.ADMIN),
        ("bob", Role.EDITOR),
        ("anna", Role.ANALYST),
        ("carol", Role.REVIEWER),
    ]:
        Membership.objects.create(user=users[name], workspace=workspace, role=role)
    Membership.objects.create(user=users["charlie"], workspace=other, role=Role.OWNER)
    return Cast(workspace=workspace, other_workspace=other, **users)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(cast: Cast) -> Client:
    return client_for(cast.alice)


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    # Hashing with a million PBKDF2 rounds for every persona would dominate the suite's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Ids are reused from test to test: nothing cached by id (the approvals count in the
    # navigation, review-link rate limits) may leak into the next test.
    from django.core.cache import cache

    cache.clear()


CHROMIUM = "/usr/bin/chromium"


def log_in_browser(page, live_server, user) -> None:  # type: ignore[no-untyped-def]
    """Give the browser `user`'s session (replacing any other): a logged-in page without typing
    a password (the log-in form has its own tests)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def _one_request_at_a_time_on_sqlite() -> None:
    """On SQLite the test database lives in memory and the live server shares the test's one
    connection with its request threads: two requests at once (an htmx check while the form is
    sent) then interleave statements on it and fail at random ("cannot release savepoint - SQL
    statements in progress"). A server without threads serves one request at a time; Django's
    plain WSGIServer closes each connection after its answer, so a browser's keep-alive never
    holds it up. PostgreSQL gives each thread its own connection and keeps the threaded server."""
    from django.conf import settings as django_settings
    from django.core.servers.basehttp import WSGIServer
    from django.test.testcases import LiveServerThread

    class SerialWSGIServer(WSGIServer):
        # The live server thread has put the shared connection in place for itself (its run()).
        def __init__(self, *args: Any, connections_override: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)

    if django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        LiveServerThread.server_class = SerialWSGIServer


@pytest.fixture(scope="session", autouse=True)
def _serial_live_server_on_sqlite() -> None:
    _one_request_at_a_time_on_sqlite()


@pytest.fixture
def browser_page(live_server, monkeypatch):  # type: ignore[no-untyped-def]
    """A Playwright page in Debian's headless Chromium (never a downloaded browser).

    Skipped when Chromium is missing, unless STAMMTISCH_REQUIRE_BROWSER=1 (set by .ci/run).
    """
    import os
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        if os.environ.get("STAMMTISCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and STAMMTISCH_REQUIRE_BROWSER=1 (apt-get install chromium)")
        pytest.skip(f"browser test skipped: {CHROMIUM} is missing (apt-get install chromium)")
    # Playwright's sync API runs an event loop; Django's ORM refuses to run beside one unless told.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="de-DE")
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
