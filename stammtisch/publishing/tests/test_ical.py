"""The secret iCal feed: RFC 5545 folding and escaping, what the feed holds, and its token."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent, Membership, hash_token
from stammtisch.publishing import ical
from stammtisch.publishing.actions import do_create_calendar_feed, do_create_post
from stammtisch.publishing.models import CalendarFeed, Post

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def feed_url(token: str) -> str:
    return reverse("publishing:calendar_ical", kwargs={"token": token})


# --- The format -----------------------------------------------------------------------------


def test_text_values_escape_backslash_semicolon_comma_and_newlines():
    assert ical.escape_text("a\\b;c,d\ne\r\nf") == "a\\\\b\\;c\\,d\\ne\\nf"


def test_long_lines_fold_at_75_octets_without_splitting_a_character():
    line = "DESCRIPTION:" + "Brezel mit Butter, Käse und Laugenstange 🥨 " * 8
    folded = ical.fold(line)

    physical = folded.split("\r\n")
    assert len(physical) > 1
    assert all(len(part.encode()) <= 75 for part in physical)
    assert all(part.startswith(" ") for part in physical[1:])
    assert folded.replace("\r\n ", "") == line  # each piece is whole UTF-8
    assert ical.fold("SUMMARY:kurz") == "SUMMARY:kurz"


def test_a_calendar_has_crlf_lines_and_utc_times():
    event = ical.Event(
        uid="post-1@example.org",
        start=dt.datetime(2026, 4, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        summary="Hallo, Welt; schön",
        description="Zeile 1\nZeile 2",
        url="https://example.org/w/x/posts/1/",
        last_modified=NOW,
    )
    text = ical.calendar("Café", [event], now=NOW)

    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    lines = unfold(text)
    assert "DTSTART:20260331T223000Z" in lines
    assert "DTSTAMP:20260320T090000Z" in lines
    assert "SUMMARY:Hallo\\, Welt\\; schön" in lines
    assert "DESCRIPTION:Zeile 1\\nZeile 2" in lines


# --- The feed -------------------------------------------------------------------------------


@pytest.fixture
def plan(cast, channel, frozen):
    actor = Actor.system()
    ahead = do_create_post(
        actor,
        cast.workspace,
        text="Frühlingsfest, am Samstag; mit Musik \\ Tanz\nund Brezeln " + "x" * 100,
        channels=[channel],
        scheduled_at=NOW + dt.timedelta(days=3),
        link="https://example.org/fest",
    )
    recent = do_create_post(actor, cast.workspace, text="Vor einem Monat", channels=[channel], scheduled_at=NOW)
    Post.objects.filter(pk=recent.pk).update(scheduled_at=NOW - dt.timedelta(days=30), status=Post.Status.PUBLISHED)
    old = do_create_post(actor, cast.workspace, text="Vor langer Zeit", channels=[channel], scheduled_at=NOW)
    Post.objects.filter(pk=old.pk).update(scheduled_at=NOW - dt.timedelta(days=91), status=Post.Status.PUBLISHED)
    do_create_post(actor, cast.workspace, text="Nur ein Entwurf", channels=[channel])
    return ahead, recent


def test_the_feed_holds_scheduled_and_published_posts_of_the_last_90_days_and_ahead(cast, plan, settings):
    ahead, _recent = plan
    token = do_create_calendar_feed(Actor(user=cast.bob), cast.workspace)

    response = client_for(cast.charlie).get(feed_url(token))  # a calendar app: no session needed

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode()
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    lines = unfold(text)
    assert lines.count("BEGIN:VEVENT") == 2
    host = settings.BASE_URL.split("://")[1].split("/")[0].split(":")[0]
    assert f"UID:post-{ahead.pk}@{host}" in lines
    assert "DTSTART:20260323T090000Z" in lines
    description = next(line for line in lines if line.startswith("DESCRIPTION:Frühlingsfest"))
    assert description.startswith("DESCRIPTION:Frühlingsfest\\, am Samstag\\; mit Musik \\\\ Tanz\\nund Brezeln")
    assert "https://example.org/fest" in description
    post_url = settings.BASE_URL + reverse("publishing:post", kwargs={"slug": cast.workspace.slug, "post_id": ahead.pk})
    assert f"URL:{post_url}" in lines
    assert "Vor einem Monat" in text
    assert "Vor langer Zeit" not in text and "Nur ein Entwurf" not in text
    assert re.search(r"^X-WR-CALNAME:Café Königsbau", text, re.M)


def test_a_wrong_token_is_a_404(cast, plan):
    do_create_calendar_feed(Actor(user=cast.bob), cast.workspace)
    assert client_for(cast.bob).get(feed_url("not-the-token")).status_code == 404


def test_the_url_is_shown_once_and_only_its_hash_is_stored(cast, plan):
    bob = client_for(cast.bob)
    page_url = reverse("publishing:calendar_feed", kwargs={"slug": cast.workspace.slug})

    made = bob.post(page_url).content.decode()

    match = re.search(r"/calendar/([\w-]+)\.ics", made)
    assert match is not None
    token = match.group(1)
    feed = CalendarFeed.objects.get(user=cast.bob)
    assert feed.token_hash == hash_token(token) and token not in feed.token_hash
    assert token not in bob.get(page_url).content.decode()
    event = AuditEvent.objects.get(action="calendar_feed.create")
    assert token not in str(event.data) and token not in event.summary


def test_regenerating_invalidates_the_old_url(cast, plan):
    old = do_create_calendar_feed(Actor(user=cast.bob), cast.workspace)
    new = do_create_calendar_feed(Actor(user=cast.bob), cast.workspace)

    client = client_for(cast.bob)
    assert client.get(feed_url(old)).status_code == 404
    assert client.get(feed_url(new)).status_code == 200
    assert CalendarFeed.objects.filter(user=cast.bob).count() == 1
    assert AuditEvent.objects.filter(action="calendar_feed.regenerate").exists()


def test_switching_off_and_leaving_the_workspace_end_the_feed(cast, plan):
    page_url = reverse("publishing:calendar_feed", kwargs={"slug": cast.workspace.slug})
    token = do_create_calendar_feed(Actor(user=cast.bob), cast.workspace)
    client_for(cast.bob).post(page_url, {"action": "revoke"})
    assert client_for(cast.bob).get(feed_url(token)).status_code == 404

    token = do_create_calendar_feed(Actor(user=cast.anna), cast.workspace)  # analysts may subscribe
    assert client_for(cast.anna).get(feed_url(token)).status_code == 200
    Membership.objects.filter(user=cast.anna, workspace=cast.workspace).delete()
    assert client_for(cast.anna).get(feed_url(token)).status_code == 404
