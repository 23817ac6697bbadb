"""The publishing issue's whole story in a real browser (Debian's Chromium): bob composes a post
with a shorter text for X, sees each channel's check and preview, adds it to the queue (the
workspace wants approval, so it waits), drags it to the next day in the calendar; carol logs in
and approves it; when its time comes the worker publishes it, and it is on both Sandbox feeds."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from conftest import log_in_browser
from stammtisch.core.actions import Actor
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.publishing import approvals, publisher
from stammtisch.publishing.models import ApprovalEvent, Delivery, Post, QueueSlot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = (
    "Neu bei uns im Königsbau: jeden Freitag Maultaschen nach Omas Rezept, dazu Kartoffelsalat "
    "und ein Viertele aus Untertürkheim. Wir freuen uns auf Ihren Besuch und auf Ihre Meinung! "
    "Reservieren Sie am besten vorher, die Plätze am Stammtisch sind schnell weg. "
    "Mehr auf https://cafe-koenigsbau.example/maultaschen #Stuttgart #Maultaschen"
)
SHORT = "Freitags Maultaschen nach Omas Rezept! https://cafe-koenigsbau.example/maultaschen #Stuttgart"


def _slot_day(tz) -> dt.date:  # type: ignore[no-untyped-def]
    """A weekday from tomorrow on whose next day is in the same month (one month view shows both)."""
    day = timezone.localdate(timezone=tz) + dt.timedelta(days=1)
    while day.weekday() > 4 or (day + dt.timedelta(days=1)).month != day.month:
        day += dt.timedelta(days=1)
    return day


def test_compose_queue_drag_approve_publish(browser_page, live_server, cast) -> None:  # type: ignore[no-untyped-def]
    workspace, slug, tz = cast.workspace, cast.workspace.slug, cast.workspace.tz
    approvals.do_set_approval_settings(Actor(user=cast.alice), workspace, required=True, link_days=7)
    system = Actor.system("test")
    as_x = do_connect_sandbox_channel(system, workspace, "koenigsbau-x", "Königsbau X", stands_in_for="x")
    as_mastodon = do_connect_sandbox_channel(
        system, workspace, "koenigsbau-m", "Königsbau Mastodon", stands_in_for="mastodon"
    )
    day = _slot_day(tz)
    for channel in (as_x, as_mastodon):
        QueueSlot.objects.create(channel=channel, weekday=day.weekday(), time=dt.time(10, 15))
    page = browser_page

    # bob writes one text for both channels; it is too long for X only
    log_in_browser(page, live_server, cast.bob)
    page.goto(reverse("publishing:compose", kwargs={"slug": slug}))
    page.locator(f'input[name="channels"][value="{as_x.pk}"]').check()
    page.locator(f'input[name="channels"][value="{as_mastodon.pk}"]').check()
    page.locator('textarea[name="text"]').fill(LONG)
    x_check = page.locator("#compose-checks .compose-check").filter(has_text="Königsbau X")
    mastodon_check = page.locator("#compose-checks .compose-check").filter(has_text="Königsbau Mastodon")
    x_check.locator(".compose-length.is-over").wait_for()
    assert x_check.locator(".compose-problems li").count() >= 1
    assert mastodon_check.locator(".compose-ok").is_visible()
    assert page.locator("#compose-checks .pv-x .pv-text").inner_text().startswith("Neu bei uns")
    assert page.locator("#compose-checks .pv-mastodon .pv-hashtag").first.inner_text() == "#Stuttgart"

    # ... so X gets its own, shorter text, and the check turns green
    variant = page.locator(f'textarea[name="variant_{as_x.pk}"]')
    variant.focus()
    variant.fill(SHORT)
    x_check.locator(".compose-ok").wait_for()
    assert "Freitags Maultaschen" in page.locator("#compose-checks .pv-x .pv-text").inner_text()

    # add to the queue: the next common posting time; the workspace wants approval first
    page.locator('input[name="when"][value="queue"]').check()
    page.locator("#queue-next strong").filter(has_text="10:15").wait_for()
    page.locator("form.compose-form button[type=submit]").click()
    page.wait_for_url("**/posts/*/")
    post = Post.objects.get()
    wanted = dt.datetime.combine(day, dt.time(10, 15), tzinfo=tz)
    assert (post.status, post.source, post.scheduled_at) == (Post.Status.PENDING_APPROVAL, Post.Source.QUEUE, wanted)
    assert set(Delivery.objects.filter(post=post).values_list("due_at", flat=True)) == {None}
    assert page.locator(".approval-panel").is_visible()

    # bob drags it to the next day in the month view: still waiting, at the new time
    next_day = day + dt.timedelta(days=1)
    calendar = reverse("publishing:calendar", kwargs={"slug": slug})
    page.goto(f"{calendar}?view=month&date={day.isoformat()}")
    page.locator(f'[data-post="{post.pk}"]').drag_to(page.locator(f'td[data-drop-date="{next_day.isoformat()}"]'))
    page.locator(f'td[data-drop-date="{next_day.isoformat()}"] [data-post="{post.pk}"]').wait_for()
    page.locator("[data-calendar-status]").filter(has_text=next_day.isoformat()).wait_for()
    post.refresh_from_db()
    moved = dt.datetime.combine(next_day, dt.time(10, 15), tzinfo=tz)
    assert (post.status, post.scheduled_at) == (Post.Status.PENDING_APPROVAL, moved)

    # carol, the client's reviewer, approves it from her queue
    log_in_browser(page, live_server, cast.carol)
    page.goto(reverse("publishing:approvals", kwargs={"slug": slug}))
    page.locator(".approval-queue .post-row").filter(has_text="Neu bei uns").get_by_role("link").first.click()
    page.wait_for_url(f"**/posts/{post.pk}/")
    page.locator("#approval-comment").fill("Passt, gerne so.")
    page.locator('button[name="decision"][value="approve"]').click()
    page.locator(".approval-history .approval-approved").wait_for()
    post.refresh_from_db()
    assert post.status == Post.Status.SCHEDULED
    assert set(Delivery.objects.filter(post=post).values_list("due_at", flat=True)) == {moved}
    assert ApprovalEvent.objects.get(post=post, kind=ApprovalEvent.Kind.APPROVED).actor == cast.carol

    # nothing goes out before its time ...
    assert publisher.run_once("story") == 0
    # ... and when the time has come, the worker publishes it on both channels, each its own text
    with time_machine.travel(moved + dt.timedelta(minutes=1), tick=True):
        assert publisher.run_once("story") == 2
        post.refresh_from_db()
        assert post.status == Post.Status.PUBLISHED
        page.goto(reverse("sandbox:feed", kwargs={"handle": "koenigsbau-x"}))
        assert "Freitags Maultaschen nach Omas Rezept!" in page.locator("main").inner_text()
        page.goto(reverse("sandbox:feed", kwargs={"handle": "koenigsbau-m"}))
        assert "Neu bei uns im Königsbau" in page.locator("main").inner_text()
