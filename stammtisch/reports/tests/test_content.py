"""What a report says about a seeded week (reports/content.py) and how it says it (render.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from stammtisch.reports import content, render
from stammtisch.reports.periods import DASH, Period
from stammtisch.reports.tests.conftest import WEEK

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)


def test_the_figures_of_a_seeded_week_are_right(seeded) -> None:
    data = content.build(seeded, WEEK, NOW)

    assert data["period"] == {
        "kind": "week",
        "first": "2026-06-01",
        "last": "2026-06-07",
        "previous_first": "2026-05-25",
        "previous_last": "2026-05-31",
    }
    assert data["rollup_days"] == 7
    assert data["posts"]["value"] == 3 and data["posts"]["previous"] == 1
    assert data["posts"]["daily"] == [1, 0, 1, 0, 1, 0, 0]
    assert data["posts"]["by_channel"] == [
        {"name": "Koenigsbau", "network": "sandbox", "stands_in_for": "", "count": 3}
    ]

    engagement = data["engagement"]
    assert (engagement["measured"], engagement["engagements"], engagement["impressions"]) == (3, 26, 400)
    assert engagement["rate"] == 6.5
    assert engagement["previous"]["engagements"] == 3 and engagement["previous"]["rate"] is None  # 1 post < 3
    assert [post["likes"] for post in data["top_posts"]] == [20, 5, 1]

    assert data["links"]["clicks"] == {"value": 4, "previous": 2}
    assert data["links"]["daily_clicks"] == [1, 2, 0, 0, 0, 1, 0]
    assert data["people"]["new"] == {"value": 2, "previous": 0}
    stages = {row["stage"]: row for row in data["people"]["stages"]}
    assert (stages["engaged"]["entered"], stages["engaged"]["previous_entered"]) == (2, 1)
    assert stages["lapsed"]["entered"] == 1 and stages["new"]["left"] == 3

    kpis = {row["key"]: row for row in data["kpis"]}
    assert (kpis["traffic.clicks"]["value"], kpis["traffic.clicks"]["previous"]) == (4, 2)
    assert kpis["loyalty.response_minutes"]["value"] is None  # no answered conversations

    [goal] = data["goals"]
    assert goal["name"] == "Mehr Klicks" and goal["current"] == 6  # clicks since 1 May
    assert goal["progress"] == 6.0

    mix = data["mix"]
    assert [(p["name"], p["count"], p["share"]) for p in mix["pillars"]] == [
        ("Aktionen", 1, 33.3),
        ("Rezepte", 2, 66.7),
    ]
    assert (mix["value_share"], mix["min_value_share"], mix["met"]) == (66.7, 80, False)

    [cadence] = data["cadence"]
    assert cadence["weeks"][-1] == ["2026-06-01", 3] and cadence["weeks"][-2] == ["2026-05-25", 1]


def test_the_summary_says_it_in_plain_words_and_admits_too_little_data(seeded) -> None:
    data = content.build(seeded, WEEK, NOW)
    with translation.override("en"):
        english = render.summary(data)
    with translation.override("de"):
        german = render.summary(data)

    assert "3 posts were published (previous week: 1)." in english
    assert "The posts got 26 likes, comments and shares: 6.5 % of their impressions." in english
    assert "Link clicks: 4, up from 2 (+100 %)." in english
    assert "0 of 1 goal is on track or reached." in english
    assert any(line.startswith("Too little data for the response time: 0 of at least 5") for line in english)
    assert "Value content: 66.7 % of posts, below the target of at least 80 %." in english
    assert "3 Beiträge wurden veröffentlicht (Vorwoche: 1)." in german
    assert any("6,5 %" in line for line in german)


def test_a_period_without_figures_says_so(cast) -> None:
    data = content.build(cast.workspace, Period.containing("month", dt.date(2026, 5, 1)), NOW)
    with translation.override("en"):
        lines = render.summary(data)
    assert lines[0].startswith("Too little data: no figures have been computed for this period.")
    assert "0 posts were published." in lines
    assert data["top_posts"] == [] and data["goals"] == []


def test_numbers_and_periods_follow_the_language() -> None:
    with translation.override("de"):
        assert render.num(1234.5) == "1.234,5"
        assert render.change(150, 100) == "+50 (+50 %)"
        assert WEEK.label() == f"Woche 23: 1. Juni 2026{DASH}7. Juni 2026"
        assert Period.containing("month", dt.date(2026, 6, 9)).label() == "Juni 2026"
    with translation.override("en"):
        assert render.num(1234.5) == "1,234.5"
        assert render.change(80, 100) == "\u221220 (\u221220 %)"
        assert WEEK.label() == f"Week 23: June 1, 2026{DASH}June 7, 2026"
