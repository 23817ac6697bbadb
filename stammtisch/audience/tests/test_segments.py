"""Segments: bob saves the people list's filters as a segment, uses it in the people list and in
the inbox, and the daily job counts it every day."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stammtisch.audience import consume, jobs, segments
from stammtisch.audience.models import Person, Segment, SegmentCount
from stammtisch.audience.tests.conftest import message
from stammtisch.core.models import AuditEvent
from stammtisch.inbox import ingest
from stammtisch.inbox.models import Conversation

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _crowd(channel) -> dict[str, Person]:  # type: ignore[no-untyped-def]
    """Max: three comments today (engaged); Eva: one negative comment; Olga: a comment 100 days
    ago. Each in a conversation of its own, as the inbox's ingestion would store them."""
    now = timezone.now()
    for n in range(3):
        message(channel, text=f"Lecker {n}", sentiment="neutral", at=now - dt.timedelta(hours=n), root="post-1")
    eva = dict(author_id="u-eva", handle="eva", name="Eva", text="Zu kalt!", sentiment="negative", at=now)
    message(channel, **eva, root="post-2")  # type: ignore[arg-type]
    message(channel, author_id="u-olga", handle="olga", name="Olga", at=now - dt.timedelta(days=100), root="post-3")
    ingest.refresh_conversations(set(Conversation.objects.values_list("pk", flat=True)))
    consume.consume(now)
    return {p.display_name.split()[0]: p for p in Person.objects.all()}


def test_bob_saves_filters_as_a_segment_and_uses_it_in_the_list_and_the_inbox(cast, channel) -> None:
    people = _crowd(channel)
    assert people["Max"].stage == "engaged"
    bob = _client(cast.bob)
    listing = bob.get(reverse("audience:list", args=[cast.workspace.slug]), {"stage": "engaged", "seen": "7"}, **EN)
    assert 'name="stage" value="engaged"' in listing.content.decode()  # the "save as segment" form carries them

    saved = bob.post(
        reverse("audience:segments", args=[cast.workspace.slug]),
        {"name": "Fans", "stage": "engaged", "seen": "7", "tag": "no such tag"},
    )
    assert saved.status_code == 302
    assert not Segment.objects.exists(), "a filter that is not valid saves nothing"
    saved = bob.post(
        reverse("audience:segments", args=[cast.workspace.slug]), {"name": " Fans ", "stage": "engaged", "seen": "7"}
    )
    assert saved.status_code == 302
    segment = Segment.objects.get()
    assert (segment.name, segment.filters) == ("Fans", {"stage": "engaged", "seen": "7"})
    assert AuditEvent.objects.filter(action="segment.create").exists()
    assert list(segments.people(segment)) == [people["Max"]]

    shown = bob.get(reverse("audience:list", args=[cast.workspace.slug]), {"segment": segment.pk}, **EN)
    html = shown.content.decode()
    assert "Max Mustermann" in html and ">Eva<" not in html and "Olga" not in html

    inbox = bob.get(reverse("inbox:list", args=[cast.workspace.slug]), {"segment": segment.pk}, **EN)
    shown_ids = {c.pk for c in inbox.context["conversations"]}
    assert shown_ids == {Conversation.objects.get(root_remote_id="post-1").pk}
    everyone = bob.get(reverse("inbox:list", args=[cast.workspace.slug]), **EN)
    assert len(everyone.context["conversations"]) == 3


def test_sentiment_and_score_filters(cast, channel) -> None:
    people = _crowd(channel)
    now = timezone.now()
    unhappy = Segment.objects.create(workspace=cast.workspace, name="Unzufrieden", filters={"sentiment": "negative"})
    assert list(segments.people(unhappy, now)) == [people["Eva"]]
    scored = Segment.objects.create(workspace=cast.workspace, name="Score", filters={"min_score": 5.0})
    assert list(segments.people(scored, now)) == [people["Max"]]
    quiet = Segment.objects.create(workspace=cast.workspace, name="Still", filters={"seen": "old"})
    assert list(segments.people(quiet, now)) == [people["Olga"]]


def test_the_daily_job_counts_segments_per_day_and_the_page_shows_them(cast, channel) -> None:
    _crowd(channel)
    segment = Segment.objects.create(workspace=cast.workspace, name="Alle", filters={})
    day1 = timezone.now()
    jobs.daily(day1)
    jobs.daily(day1)  # the same day again replaces the count
    message(channel, author_id="u-neu", handle="neu", name="Neu", root="post-4", at=day1)
    consume.consume(day1 + dt.timedelta(days=1))
    jobs.daily(day1 + dt.timedelta(days=1))
    assert list(SegmentCount.objects.filter(segment=segment).values_list("count", flat=True)) == [3, 4]

    page = _client(cast.carol).get(reverse("audience:segments", args=[cast.workspace.slug]), **EN)
    html = page.content.decode()
    assert page.status_code == 200 and "Alle" in html
    assert "4 people" in html  # the current count
    assert html.count("<tr><td><time") == 2  # one row per counted day
    assert "Delete the segment" not in html  # a client reviewer reads only


def test_another_workspaces_segment_filters_nothing_and_only_editors_change_segments(cast, channel) -> None:
    _crowd(channel)
    theirs = Segment.objects.create(workspace=cast.other_workspace, name="Chili", filters={"stage": "loyal"})
    bob = _client(cast.bob)
    inbox = bob.get(reverse("inbox:list", args=[cast.workspace.slug]), {"segment": theirs.pk})
    assert len(inbox.context["conversations"]) == 3  # not one of ours: the filter is dropped
    assert segments.conversation_ids(cast.workspace, theirs.pk).count() == 0
    url = reverse("audience:segment_delete", args=[cast.workspace.slug, theirs.pk])
    assert bob.post(url).status_code == 404
    ours = Segment.objects.create(workspace=cast.workspace, name="Alle", filters={})
    assert (
        _client(cast.anna).post(reverse("audience:segments", args=[cast.workspace.slug]), {"name": "X"}).status_code
        == 403
    )
    delete = reverse("audience:segment_delete", args=[cast.workspace.slug, ours.pk])
    assert _client(cast.anna).post(delete).status_code == 403
    assert bob.post(delete).status_code == 302
    assert not Segment.objects.filter(pk=ours.pk).exists()
