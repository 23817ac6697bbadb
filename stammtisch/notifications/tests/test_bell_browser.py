"""A real browser (Debian's Chromium): the bell counts, refreshes itself, and leads to the post."""

from __future__ import annotations

import pytest

from conftest import log_in_browser
from stammtisch.notifications import kinds
from stammtisch.notifications.notify import notify
from stammtisch.notifications.tests.conftest import failed_delivery, send_failed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, user) -> None:  # type: ignore[no-untyped-def]
    log_in_browser(page, live_server, user)


def test_alice_sees_the_bell_update_and_opens_the_failed_post(browser_page, live_server, cast, channel) -> None:  # type: ignore[no-untyped-def]
    delivery = failed_delivery(cast, channel, author=None, text="Sommerfest am Samstag")
    send_failed(delivery)
    page = browser_page
    page.clock.install()
    log_in(page, live_server, cast.alice)

    page.goto("/notifications/preferences/")
    page.screenshot(path="test-artifacts/notifications-preferences.png", full_page=True)
    bell = page.locator("#notification-bell")
    assert bell.locator(".bell-count").inner_text() == "1"

    notify(
        kinds.CHANNEL_RECONNECT,
        cast.workspace,
        [cast.alice],
        data={"channel": "Café Instagram", "error": ""},
        link="/w/cafe-koenigsbau/channels/",
    )
    page.clock.fast_forward("01:01")  # htmx polls every 60 seconds
    page.locator("#notification-bell .bell-count", has_text="2").wait_for()

    page.locator("#notification-bell").click()
    page.wait_for_url("**/notifications/")
    page.screenshot(path="test-artifacts/notifications-list.png", full_page=True)
    page.locator("li.notification", has_text="Café Facebook").get_by_role("button").first.click()
    page.wait_for_url(f"**/w/cafe-koenigsbau/posts/{delivery.post_id}/")
    assert page.locator("#notification-bell .bell-count").inner_text() == "1"
