"""A real browser (Debian's Chromium): bob gives a channel a posting time on the Queue page,
composes a post with "Add to queue" and finds it in the calendar at that time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import log_in_browser
from stammtisch.publishing.models import Post, QueueSlot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bob_sets_a_posting_time_and_queues_a_post_into_it(browser_page, live_server, cast, channel) -> None:  # type: ignore[no-untyped-def]
    tz = cast.workspace.tz
    tomorrow = timezone.localdate(timezone=tz) + dt.timedelta(days=1)
    page = browser_page
    log_in_browser(page, live_server, cast.bob)
    slug = cast.workspace.slug

    page.goto(reverse("publishing:queue", kwargs={"slug": slug}))
    section = page.locator(f"#channel-{channel.pk}")
    section.locator(f'input[name="weekdays"][value="{tomorrow.weekday()}"]').check()
    section.locator(f"#time-{channel.pk}").fill("10:15")
    section.locator("form.queue-add button[type=submit]").click()
    page.locator(f'#channel-{channel.pk} .queue-time[data-time="10:15"]').wait_for()
    assert list(QueueSlot.objects.values_list("weekday", "time")) == [(tomorrow.weekday(), dt.time(10, 15))]

    page.goto(reverse("publishing:compose", kwargs={"slug": slug}))
    page.locator(f'input[name="channels"][value="{channel.pk}"]').check()
    page.locator('textarea[name="text"]').fill("Morgen um Viertel nach zehn: frische Brezeln!")
    page.locator('input[name="when"][value="queue"]').check()
    page.locator("#queue-next strong").filter(has_text="10:15").wait_for()  # the hint names the time
    page.locator("form.compose-form button[type=submit]").click()
    page.wait_for_url("**/posts/*/")

    post = Post.objects.get()
    assert post.scheduled_at == dt.datetime.combine(tomorrow, dt.time(10, 15), tzinfo=tz)
    assert post.source == Post.Source.QUEUE
    calendar = reverse("publishing:calendar", kwargs={"slug": slug})
    page.goto(f"{calendar}?view=week&date={tomorrow.isoformat()}")
    card = page.locator(f'[data-post="{post.pk}"]')
    assert card.get_attribute("data-time") == "10:15"
    assert "Brezeln" in card.inner_text()
