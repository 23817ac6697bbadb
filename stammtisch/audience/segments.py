"""Segments (docs/people.md "Segments"): saved filters of people, the one place that turns filter
values into a query of people, and the daily counts.

The filter values are those of the people list (`forms.FilterForm`, cleaned): `stage`,
`min_score`, `max_score`, `network`, `language`, `tag`, `sentiment` (a text with that sentiment in
the last `SENTIMENT_DAYS` days) and `seen` (last seen within 7, 30 or 90 days, or longer ago). A
segment stores them as JSON; the people list (`?segment=ID`) and the inbox list (conversations
with a message of a person in the segment) apply them through `people()`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from stammtisch.audience.models import Engagement, Identity, Person, Segment, SegmentCount
from stammtisch.core.models import Workspace

FIELDS = ("stage", "min_score", "max_score", "network", "language", "tag", "sentiment", "seen")
SENTIMENT_DAYS = 90
HISTORY_DAYS = 30  # counts per day shown on the segments page


def saved_filters(data: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a cleaned filter form worth keeping in a segment (no empty ones)."""
    return {name: data[name] for name in FIELDS if data.get(name) not in (None, "")}


def apply(rows: QuerySet[Person], data: Mapping[str, Any], now: dt.datetime) -> QuerySet[Person]:
    """`rows` narrowed by the filter values in `data` (unknown names are ignored)."""
    if data.get("stage"):
        rows = rows.filter(stage=data["stage"])
    if data.get("min_score") is not None:
        rows = rows.filter(score__gte=data["min_score"])
    if data.get("max_score") is not None:
        rows = rows.filter(score__lte=data["max_score"])
    if data.get("network"):
        rows = rows.filter(pk__in=Identity.objects.filter(network=data["network"]).values("person_id"))
    if data.get("language"):
        rows = rows.filter(language=data["language"])
    if data.get("tag"):
        rows = rows.filter(tags__name=data["tag"])
    if data.get("sentiment"):
        recent = Engagement.objects.filter(
            sentiment=data["sentiment"], occurred_at__gte=now - dt.timedelta(days=SENTIMENT_DAYS)
        )
        rows = rows.filter(pk__in=recent.values("person_id"))
    seen = data.get("seen")
    if seen == "old":
        rows = rows.filter(last_seen__lt=now - dt.timedelta(days=90))
    elif seen and str(seen).isdigit():
        rows = rows.filter(last_seen__gte=now - dt.timedelta(days=int(seen)))
    return rows


def people(segment: Segment, now: dt.datetime | None = None) -> QuerySet[Person]:
    """The people in `segment` now (erased people are in no segment)."""
    rows = Person.objects.filter(workspace_id=segment.workspace_id, erased_at__isnull=True)
    return apply(rows, segment.filters or {}, now or timezone.now())


def for_workspace(workspace: Workspace) -> list[Segment]:
    return list(Segment.objects.filter(workspace=workspace))


def choices(workspace: Workspace) -> list[tuple[int, str]]:
    """(id, name) of the workspace's segments, for a select field (the inbox's filter)."""
    return list(Segment.objects.filter(workspace=workspace).values_list("pk", "name"))


def conversation_ids(workspace: Workspace, segment_id: int) -> Any:
    """A subquery of the ids of the workspace's conversations with a text by a person in the
    segment (nothing for another workspace's segment)."""
    from stammtisch.inbox.models import Message

    segment = Segment.objects.filter(pk=segment_id, workspace=workspace).first()
    if segment is None:
        return Message.objects.none().values("conversation_id")
    texts = Engagement.objects.filter(
        workspace=workspace, source=Engagement.Source.MESSAGE, person_id__in=people(segment).values("pk")
    ).exclude(kind="answered")
    return Message.objects.filter(workspace=workspace, pk__in=texts.values("source_id")).values("conversation_id")


def snapshot(now: dt.datetime, *, workspace_id: int | None = None) -> int:
    """Store today's count of every segment (the workspace's local day); a second run on the same
    day replaces the count. Returns how many segments were counted."""
    segments = Segment.objects.select_related("workspace")
    if workspace_id is not None:
        segments = segments.filter(workspace_id=workspace_id)
    counted = 0
    for segment in segments:
        day = now.astimezone(segment.workspace.tz).date()
        SegmentCount.objects.update_or_create(
            segment=segment, day=day, defaults={"count": people(segment, now).count()}
        )
        counted += 1
    return counted


def history(segment: Segment, days: int = HISTORY_DAYS) -> list[SegmentCount]:
    """The segment's counts of the last `days` stored days, newest first."""
    return list(SegmentCount.objects.filter(segment=segment).order_by("-day")[:days])
