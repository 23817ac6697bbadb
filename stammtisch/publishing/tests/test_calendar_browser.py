"""A real browser (Debian's Chromium) drags a post to another day in the month view."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import log_in_browser
from stammtisch.core.actions import Actor
from stammtisch.publishing.actions import do_create_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bob_drags_a_post_to_another_day(browser_page, live_server, cast, channel) -> None:  # type: ignore[no-untyped-def]
    tz = cast.workspace.tz
    today = timezone.localdate(timezone=tz)
    # From the 2nd to the 5th of next month at 14:45: one month view, always in the future.
    next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    source, target = next_month.replace(day=2), next_month.replace(day=5)
    at = dt.datetime.combine(source, dt.time(14, 45), tzinfo=tz)
    post = do_create_post(Actor.system(), cast.workspace, text="Zieh mich", channels=[channel], scheduled_at=at)
    page = browser_page
    log_in_browser(page, live_server, cast.bob)

    url = reverse("publishing:calendar", kwargs={"slug": cast.workspace.slug})
    page.goto(f"{url}?view=month&date={source.isoformat()}")
    card = page.locator(f'[data-post="{post.pk}"]')
    slot = page.locator(f'td[data-drop-date="{target.isoformat()}"]')
    assert card.get_attribute("draggable") == "true"

    card.drag_to(slot)

    page.locator(f'td[data-drop-date="{target.isoformat()}"] [data-post="{post.pk}"]').wait_for()
    page.locator("[data-calendar-status]").filter(has_text=target.isoformat()).wait_for()
    post.refresh_from_db()
    assert post.scheduled_at == dt.datetime.combine(target, dt.time(14, 45), tzinfo=tz)
    assert {d.due_at for d in post.deliveries.all()} == {post.scheduled_at}

    page.reload()
    assert (
        page.locator(f'td[data-drop-date="{target.isoformat()}"] [data-post="{post.pk}"] time').inner_text() == "14:45"
    )
