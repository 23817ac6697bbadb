"""The dashboard page: content mix, cadence, best time (threshold, queue slots), read from rollups."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from conftest import client_for
from stammtisch.analytics import dashboard, rollups
from stammtisch.analytics.tests.builders import DAY, at, channel, published
from stammtisch.publishing.models import QueueSlot
from stammtisch.strategy.models import Cadence, ContentPillar, MixTarget

pytestmark = pytest.mark.django_db


def measured_posts(workspace, on, count: int) -> None:  # type: ignore[no-untyped-def]
    """`count` measured posts: Tuesdays 18:00 do best (10 %), Wednesdays 09:00 worse (2 %)."""
    for n in range(count):
        week = DAY - dt.timedelta(weeks=1 + n // 6)
        if n % 2:
            published(workspace, on, at(week - dt.timedelta(days=1), 18, n), impressions=100, likes=10)
        else:
            published(workspace, on, at(week, 9, n), impressions=100, likes=2)


def test_the_heatmap_needs_enough_measured_posts(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    measured_posts(workspace, koenigsbau, dashboard.BESTTIME_MIN_POSTS - 1)
    first = DAY - dt.timedelta(days=89)
    rollups.refresh(workspace, first, DAY)

    heatmap = dashboard.best_time(workspace, first, DAY)
    assert heatmap.sample == dashboard.BESTTIME_MIN_POSTS - 1
    assert not heatmap.enough and heatmap.top == []

    published(workspace, koenigsbau, at(DAY, 9), impressions=100, likes=2)
    rollups.refresh(workspace, first, DAY)
    heatmap = dashboard.best_time(workspace, first, DAY)
    assert heatmap.enough
    tuesday, wednesday = DAY.weekday() - 1, DAY.weekday()
    assert heatmap.cells[tuesday, 18] == (10.0, 14)
    assert heatmap.cells[wednesday, 9] == (2.0, 16)
    assert [(w, h) for w, h, _rate, _n in heatmap.top] == [(tuesday, 18), (wednesday, 9)]


def test_the_page_says_when_there_is_not_enough_data(cast) -> None:
    with time_machine.travel(at(DAY, 12), tick=False):
        response = client_for(cast.anna).get(
            reverse("analytics:dashboard", args=[cast.workspace.slug]), HTTP_ACCEPT_LANGUAGE="en"
        )
    assert response.status_code == 200
    assert "Not enough data yet: the heatmap is shown from 30 measured posts" in response.content.decode()


def test_the_best_hours_become_queue_slots(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    measured_posts(workspace, koenigsbau, 30)
    rollups.refresh(workspace, DAY - dt.timedelta(days=89), DAY)
    url = reverse("analytics:best_time_slots", args=[workspace.slug])

    with time_machine.travel(at(DAY, 12), tick=False):
        page = client_for(cast.bob).get(
            reverse("analytics:dashboard", args=[workspace.slug]), HTTP_ACCEPT_LANGUAGE="en"
        )
        assert "Tuesday 18:00" in page.content.decode()
        assert client_for(cast.anna).post(url, {"channel": koenigsbau.pk}).status_code == 403
        response = client_for(cast.bob).post(url, {"channel": koenigsbau.pk})
    assert response.status_code == 302
    slots = sorted((s.weekday, s.time) for s in QueueSlot.objects.filter(channel=koenigsbau))
    assert slots == [(DAY.weekday() - 1, dt.time(18)), (DAY.weekday(), dt.time(9))]


def test_content_mix_matches_pillars_by_name_and_checks_the_value_share(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    ContentPillar.objects.create(workspace=workspace, name="Rezepte", target_share=50)
    ContentPillar.objects.create(workspace=workspace, name="Events", target_share=30)
    MixTarget.objects.create(workspace=workspace, min_value_share=80)
    published(workspace, koenigsbau, at(DAY, 9), pillar="rezepte ")
    published(workspace, koenigsbau, at(DAY, 10), pillar="Rezepte")
    published(workspace, koenigsbau, at(DAY, 11), pillar="Team", purpose="promotion")
    published(workspace, koenigsbau, at(DAY, 12))
    rollups.refresh(workspace, DAY, DAY)

    mix = dashboard.content_mix(workspace, list(ContentPillar.objects.filter(workspace=workspace)), 80, DAY, DAY)
    by_name = {row.label: row for row in mix["pillars"]}
    assert (by_name["Rezepte"].count, by_name["Rezepte"].share, by_name["Rezepte"].gap) == (2, 50.0, 0.0)
    assert (by_name["Events"].count, by_name["Events"].gap) == (0, -30.0)
    assert mix["other_labels"].count == 1 and mix["other_labels_names"] == ["team"]
    assert mix["without_pillar"].count == 1
    assert mix["value"].share == 75.0 and not mix["mix_met"]


def test_cadence_adherence_counts_full_weeks(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    cadence = Cadence.objects.create(workspace=workspace, channel=koenigsbau, posts_per_week=2)
    monday = DAY - dt.timedelta(days=DAY.weekday())
    for weeks_ago, posts in [(1, 3), (2, 1), (3, 0), (4, 2)]:
        for n in range(posts):
            published(workspace, koenigsbau, at(monday - dt.timedelta(weeks=weeks_ago) + dt.timedelta(days=n), 9))
    published(workspace, koenigsbau, at(DAY, 9))  # this week: not yet counted
    rollups.refresh(workspace, DAY - dt.timedelta(days=40), DAY)

    [row] = dashboard.cadence_adherence(workspace, [cadence], DAY)
    assert [n for _monday, n in row.weeks] == [2, 0, 1, 3]
    assert row.adherence == pytest.approx(100 * (1 + 0 + 0.5 + 1) / 4, abs=0.1)
