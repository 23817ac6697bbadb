"""A seeded week for the report tests, and the PDF requirement.

The week of Monday 1 June 2026 (Europe/Berlin) in alice's "Café Königsbau", compared with the
week before; raw rows are made with the analytics test builders and turned into rollups by the
real rollup computation, so the report reads what a live workspace would:

* 1-7 June: posts (pillar, purpose, impressions/likes) Mon 09:00 Rezepte value 200/20, Wed 18:00
  Rezepte value 100/5, Fri 12:00 Aktionen promotion 100/1; 4 link clicks; 2 new people; stage
  moves: 2 to engaged, 1 to lapsed.
* 25-31 May: Wed 10:00 Rezepte value 100/3; 2 link clicks; no new people; 1 to engaged.

No inbox replies: the response time has too little data. Goal: 100 link clicks from 1 May.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from stammtisch.analytics import rollups
from stammtisch.analytics.tests.builders import at, channel, published
from stammtisch.audience.models import Person, StageTransition
from stammtisch.links.models import Click, ShortLink
from stammtisch.reports import pdf
from stammtisch.reports.periods import Period
from stammtisch.strategy.models import Cadence, ContentPillar, Goal

WEEK = Period("week", dt.date(2026, 6, 1), dt.date(2026, 6, 7))
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "reports"


def pdf_required() -> None:
    """Skip (or, in CI, fail) a test that makes a PDF when WeasyPrint cannot run here."""
    reason = pdf.unavailable_reason()
    if reason is None:
        return
    required = os.environ.get("STAMMTISCH_REQUIRE_BROWSER") == "1" or os.environ.get("STAMMTISCH_CI") == "1"
    message = (
        "PDF report tests need WeasyPrint with Pango "
        "(apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)"
    )
    if required:
        pytest.fail(f"{message}; STAMMTISCH_REQUIRE_BROWSER=1 or STAMMTISCH_CI=1 makes them required: {reason}")
    pytest.skip(f"{message}: {reason}")


@pytest.fixture
def needs_pdf() -> None:
    pdf_required()


def _click(link: ShortLink, when: dt.datetime, n: int) -> None:
    Click.objects.create(
        link=link, workspace=link.workspace, channel=link.channel, occurred_at=when, visitor_hash=f"visitor-{n}"
    )


def seed_week(workspace):  # type: ignore[no-untyped-def]
    koenigsbau = channel(workspace)
    published(workspace, koenigsbau, at(dt.date(2026, 6, 1), 9), pillar="Rezepte", impressions=200, likes=20)
    published(workspace, koenigsbau, at(dt.date(2026, 6, 3), 18), pillar="Rezepte", impressions=100, likes=5)
    published(
        workspace,
        koenigsbau,
        at(dt.date(2026, 6, 5), 12),
        pillar="Aktionen",
        purpose="promotion",
        impressions=100,
        likes=1,
    )
    published(workspace, koenigsbau, at(dt.date(2026, 5, 27), 10), pillar="Rezepte", impressions=100, likes=3)

    link = ShortLink.objects.create(workspace=workspace, target="https://example.org/karte", channel=koenigsbau)
    for n, day in enumerate([dt.date(2026, 6, 1), dt.date(2026, 6, 2), dt.date(2026, 6, 2), dt.date(2026, 6, 6)]):
        _click(link, at(day, 12, n), n)
    for n, day in enumerate([dt.date(2026, 5, 26), dt.date(2026, 5, 30)]):
        _click(link, at(day, 12, n), 10 + n)

    anna = Person.objects.create(workspace=workspace, display_name="Anna", first_seen=at(dt.date(2026, 6, 2), 10))
    ben = Person.objects.create(workspace=workspace, display_name="Ben", first_seen=at(dt.date(2026, 6, 4), 10))
    old = Person.objects.create(workspace=workspace, display_name="Otto", first_seen=at(dt.date(2026, 3, 1), 10))
    for person, to_stage, day in [
        (anna, "engaged", dt.date(2026, 6, 3)),
        (ben, "engaged", dt.date(2026, 6, 5)),
        (old, "lapsed", dt.date(2026, 6, 6)),
        (old, "engaged", dt.date(2026, 5, 28)),
    ]:
        StageTransition.objects.create(
            workspace=workspace, person=person, from_stage="new", to_stage=to_stage, at=at(day, 3)
        )

    Goal.objects.create(
        workspace=workspace,
        kind="traffic",
        name="Mehr Klicks",
        kpi="traffic.clicks",
        target=100,
        start=dt.date(2026, 5, 1),
        deadline=dt.date(2026, 12, 31),
    )
    ContentPillar.objects.create(workspace=workspace, name="Rezepte", target_share=60, colour="#2563eb")
    ContentPillar.objects.create(workspace=workspace, name="Aktionen", target_share=20, colour="#d97706")
    Cadence.objects.create(workspace=workspace, channel=koenigsbau, posts_per_week=3)

    rollups.refresh(workspace, dt.date(2026, 4, 20), dt.date(2026, 6, 9))
    return koenigsbau


@pytest.fixture
def seeded(cast):  # type: ignore[no-untyped-def]
    seed_week(cast.workspace)
    return cast.workspace
