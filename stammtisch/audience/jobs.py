"""The audience's worker job (core/worker.py "audience"): read new inbox rows into people every
few seconds; once a day, let time move people's scores and stages (to at risk, to lapsed), count
every segment (`SegmentCount`) and erase people inactive for longer than their workspace's
retention."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from stammtisch.audience import actions, consume, loyalty, segments
from stammtisch.audience.models import AudienceCursor, Person

log = logging.getLogger("stammtisch.audience")

DAILY = dt.timedelta(hours=24)
CHUNK = 1000


def run(now: dt.datetime) -> None:
    recorded = consume.consume(now)
    if recorded:
        log.info("recorded %d engagements of people", recorded)
    if daily_due(now):
        moved, erased = daily(now)
        log.info("daily: %d people changed stage, %d erased by retention", moved, erased)


def daily_due(now: dt.datetime) -> bool:
    """Claim today's daily run: True for exactly one caller per 24 hours."""
    AudienceCursor.objects.get_or_create(name=consume.CURSOR)
    claimed = AudienceCursor.objects.filter(name=consume.CURSOR).exclude(daily_at__gt=now - DAILY).update(daily_at=now)
    return claimed == 1


def daily(now: dt.datetime, *, workspace_id: int | None = None) -> tuple[int, int]:
    """Decay every person's score to `now` and move their stage; count the segments; then apply
    retention. Returns (stage changes, people erased). Commits per chunk of people. With
    `workspace_id` (the demo), only that workspace's people and segments, and no retention."""
    moved = 0
    last = 0
    alive = Person.objects.filter(erased_at__isnull=True)
    if workspace_id is not None:
        alive = alive.filter(workspace_id=workspace_id)
    while True:
        with transaction.atomic():
            people = list(alive.filter(pk__gt=last).order_by("pk")[:CHUNK])
            if not people:
                break
            last = people[-1].pk
            for person in people:
                person.score = loyalty.current_score(person, now)
                person.score_at = now if person.score_at is not None else None
            moved += len(consume.save_people(people, now))
    with transaction.atomic():
        segments.snapshot(now, workspace_id=workspace_id)
    if workspace_id is not None:
        return moved, 0
    with transaction.atomic():
        erased = actions.apply_retention(now)
    return moved, erased


def move_stages(now: dt.datetime, *, workspace_id: int) -> int:
    """Only the stage moves of the daily pass (the demo's simulated days, where saving every
    person's decayed score each day would dominate): the people whose stage changes at `now` get
    their decayed score and new stage; the segments are counted. Returns the stage changes."""
    changed = []
    with transaction.atomic():
        for person in Person.objects.filter(workspace_id=workspace_id, erased_at__isnull=True):
            if loyalty.stage_for(person, now) != person.stage:
                person.score = loyalty.current_score(person, now)
                person.score_at = now if person.score_at is not None else None
                changed.append(person)
        moved = len(consume.save_people(changed, now)) if changed else 0
        segments.snapshot(now, workspace_id=workspace_id)
    return moved
