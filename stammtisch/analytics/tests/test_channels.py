"""The channel overview and one channel's dashboard: figures from rollups, response times,
month over month, too little data, access, both languages."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from conftest import client_for
from stammtisch.analytics import channels, rollups
from stammtisch.analytics.rollups import RESPONSE_KEYS
from stammtisch.analytics.tables import CSV_TYPE, XLSX_TYPE, NotEnough
from stammtisch.analytics.tests.builders import DAY, answered, at, channel, clicks, conversion, followers, published

pytestmark = pytest.mark.django_db

FIRST = DAY - dt.timedelta(days=89)


def test_percentiles_are_estimated_within_the_response_classes() -> None:
    # Class 4 holds 5 to 7 minutes: ten answers spread evenly over it.
    times = channels.response_times({RESPONSE_KEYS[4]: 10})
    assert times.answered == 10
    assert times.median == pytest.approx(6.0)
    assert times.p90 == pytest.approx(6.8)
    assert times.median_cell() == 6.0
    assert times.p90_cell() == NotEnough(10, channels.RESPONSE_P90_MIN)
    slow = channels.response_times({RESPONSE_KEYS[0]: 5, RESPONSE_KEYS[-1]: 20})
    assert slow.p90 == 43200 and slow.p90_at_least  # more than 30 days: only the lower bound
    assert channels.response_times({}).median_cell() == NotEnough(0, channels.RESPONSE_MIN)


def koenigsbau_history(workspace):  # type: ignore[no-untyped-def]
    """A channel with follower readings, six measured posts (two 45 days ago), clicks, a
    conversion and six answered conversations; and a quiet second channel."""
    koenigsbau = channel(workspace)
    quiet = channel(workspace, "markthalle")
    followers(workspace, koenigsbau, DAY - dt.timedelta(days=40), 100)
    followers(workspace, koenigsbau, DAY - dt.timedelta(days=20), 120)
    followers(workspace, koenigsbau, DAY, 150)
    posts = [
        published(workspace, koenigsbau, at(DAY - dt.timedelta(days=n), 9), impressions=1000, likes=30)
        for n in (2, 4, 6, 8)
    ]
    posts += [
        published(workspace, koenigsbau, at(DAY - dt.timedelta(days=45), 9), impressions=1000, likes=10)
        for _n in range(2)
    ]
    published(workspace, quiet, at(DAY - dt.timedelta(days=3), 9), impressions=200, likes=1)
    clicks(workspace, posts[0], at(DAY - dt.timedelta(days=1), 12), 7)
    conversion(workspace, posts[0], at(DAY - dt.timedelta(days=1), 13))
    for n in range(6):
        answered(workspace, koenigsbau, at(DAY - dt.timedelta(days=5), 10, n), minutes=6)
    rollups.refresh(workspace, DAY - dt.timedelta(days=120), DAY)
    return koenigsbau, quiet


def test_the_overview_has_a_row_per_channel_and_a_total(cast) -> None:
    workspace = cast.workspace
    koenigsbau, quiet = koenigsbau_history(workspace)

    with translation.override("en"):
        overview = channels.channel_overview(workspace, FIRST, DAY)
    rows = {row.channel.pk: row for row in overview.rows if row.channel}
    mine = rows[koenigsbau.pk].figures
    assert rows[koenigsbau.pk].followers == 150
    assert mine.follower_change == 50  # 100 -> 120 -> 150
    assert (mine.posts, mine.measured, mine.clicks, mine.conversions) == (6, 6, 7, 1)
    assert mine.rate == pytest.approx(100 * 140 / 6000, abs=0.01)
    assert mine.responses.answered == 6 and mine.responses.median_cell() == pytest.approx(6.0)
    assert rows[quiet.pk].figures.rate == NotEnough(1, channels.RATE_MIN_POSTS)  # one measured post
    assert rows[quiet.pk].followers is None and rows[quiet.pk].figures.follower_change is None
    assert overview.total.figures.posts == 7
    [table] = overview.tables
    assert [str(row[0]) for row in table.rows] == ["Koenigsbau", "Markthalle", "All channels"]


def test_a_channel_report_compares_month_over_month(cast) -> None:
    workspace = cast.workspace
    koenigsbau, _quiet = koenigsbau_history(workspace)

    with translation.override("en"):
        report = channels.channel_report(workspace, koenigsbau, FIRST, DAY, DAY)
        month = {str(row.label): row for row in report.month}
    assert (month["Followers"].now, month["Followers"].before, month["Followers"].change) == (150, 100, 50)
    assert (month["Posts"].now, month["Posts"].before, month["Posts"].change) == (4, 2, 2)
    assert month["Engagement rate (%)"].now == NotEnough(4, channels.RATE_MIN_POSTS)
    assert report.grain == "day" and len(report.charts["activity"]["labels"]) == 90
    assert report.figures.clicks == 7
    assert not report.heatmap.enough  # 6 measured posts: far from the 30 the heatmap needs

    long = channels.channel_report(workspace, koenigsbau, DAY - dt.timedelta(days=729), DAY, DAY)
    assert long.grain == "month"
    activity = next(t for t in long.tables if t.name == "activity")
    assert all(row[0].day == 1 for row in activity.rows)
    assert sum(row[1] for row in activity.rows) == 6


def test_the_channel_page_in_both_languages_and_its_exports(cast) -> None:
    workspace = cast.workspace
    koenigsbau, _quiet = koenigsbau_history(workspace)
    url = reverse("analytics:channel", kwargs={"slug": workspace.slug, "channel_id": koenigsbau.pk})

    with time_machine.travel(at(DAY, 12), tick=False):
        english = client_for(cast.anna).get(url, HTTP_ACCEPT_LANGUAGE="en")
        german = client_for(cast.anna).get(url, {"days": 180}, HTTP_ACCEPT_LANGUAGE="de")
        csv_de = client_for(cast.anna).get(url, {"export": "month", "format": "csv"}, HTTP_ACCEPT_LANGUAGE="de")
        xlsx = client_for(cast.anna).get(url, {"export": "activity", "format": "xlsx"}, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200
    body = english.content.decode()
    assert "Month over month" in body and "not enough data (4 of at least 5)" in body
    assert "export=activity&amp;format=xlsx" in body
    assert german.status_code == 200
    assert "Monatsvergleich" in german.content.decode()

    assert csv_de["Content-Type"] == CSV_TYPE
    assert "attachment" in csv_de["Content-Disposition"]
    text = csv_de.content.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0] == "Kennzahl;Letzte 30 Tage;30 Tage davor;Differenz"
    assert lines[1] == "Follower;150;100;50"
    assert lines[3] == "Interaktionsrate (%);;;"  # too few measured posts: withheld, not 0

    assert xlsx["Content-Type"] == XLSX_TYPE
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert [cell.value for cell in sheet[1]][:3] == ["Day", "Posts", "Measured posts"]
    assert sum(row[1].value for row in sheet.iter_rows(min_row=2)) == 6  # posts of the last 90 days


def test_channels_are_scoped_to_the_workspace(cast) -> None:
    workspace = cast.workspace
    mine = channel(workspace)
    foreign = channel(cast.other_workspace, "charlies")
    with time_machine.travel(at(DAY, 12), tick=False):
        anna = client_for(cast.anna)
        assert anna.get(reverse("analytics:channel", args=[workspace.slug, foreign.pk])).status_code == 404
        assert anna.get(reverse("analytics:channel", args=[workspace.slug, mine.pk])).status_code == 200
        assert (
            client_for(cast.charlie).get(reverse("analytics:channel", args=[workspace.slug, mine.pk])).status_code
            == 404
        )
        page = anna.get(reverse("analytics:channels", args=[workspace.slug]), HTTP_ACCEPT_LANGUAGE="en")
        assert (
            anna.get(reverse("analytics:channel", args=[workspace.slug, mine.pk]), {"export": "nope"}).status_code
            == 404
        )
        bad = anna.get(reverse("analytics:channels", args=[workspace.slug]), {"export": "channels", "format": "pdf"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Koenigsbau" in body and "Charlies" not in body
    assert bad.status_code == 400
