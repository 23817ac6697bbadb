"""Weekly and monthly rollups: computed from known daily rows, idempotent, summed over ranges."""

from __future__ import annotations

import datetime as dt

import pytest

from stammtisch.analytics import periods, rollups
from stammtisch.analytics.models import DailyRollup, PeriodRollup
from stammtisch.analytics.tests.builders import DAY, at, channel, published

pytestmark = pytest.mark.django_db

# 2026-06-01 is a Monday; June has 30 days.
JUNE_1 = dt.date(2026, 6, 1)


def daily(workspace, key: str, values: dict[dt.date, float], dimension: str = "") -> None:  # type: ignore[no-untyped-def]
    DailyRollup.objects.bulk_create(
        [DailyRollup(workspace=workspace, day=d, key=key, dimension=dimension, value=v) for d, v in values.items()]
    )


def stored(workspace, period: str, key: str, dimension: str = "") -> dict[dt.date, tuple[float, int]]:  # type: ignore[no-untyped-def]
    rows = PeriodRollup.objects.filter(workspace=workspace, period=period, key=key, dimension=dimension)
    return {row.start: (row.value, row.days) for row in rows}


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    sunday = dt.date(2026, 6, 7)
    assert periods.week_start(sunday) == JUNE_1
    assert periods.week_start(dt.date(2026, 6, 8)) == dt.date(2026, 6, 8)
    assert periods.month_start(dt.date(2026, 2, 28)) == dt.date(2026, 2, 1)
    assert periods.period_end(periods.MONTH, dt.date(2026, 2, 1)) == dt.date(2026, 2, 28)
    assert periods.period_end(periods.MONTH, dt.date(2026, 12, 1)) == dt.date(2026, 12, 31)
    # ISO week 53 of 2026 runs from Monday 28 December into 2027.
    assert periods.period_end(periods.WEEK, dt.date(2026, 12, 28)) == dt.date(2027, 1, 3)


def test_week_and_month_values_come_from_the_daily_rows(cast) -> None:
    workspace = cast.workspace
    # Clicks 1, 2, ... 35 on 27 May ... 30 June: a sum per week and month.
    days = {dt.date(2026, 5, 27) + dt.timedelta(days=n): float(n + 1) for n in range(35)}
    daily(workspace, "links.clicks", days)
    # Followers: a level, the period takes its last reading.
    daily(workspace, "channel.followers", {dt.date(2026, 6, 2): 100.0, dt.date(2026, 6, 5): 110.0}, "7")
    # A daily median: the period takes the median of the days' medians.
    daily(workspace, "inbox.response_median_s", {JUNE_1: 60.0, dt.date(2026, 6, 2): 600.0, dt.date(2026, 6, 3): 120.0})

    periods.refresh_periods(
        workspace,
        ["links.clicks", "channel.followers", "inbox.response_median_s"],
        dt.date(2026, 5, 27),
        dt.date(2026, 6, 30),
    )

    weeks = stored(workspace, periods.WEEK, "links.clicks")
    # Week of 25 May: 27 ... 31 May (values 1 ... 5), five days computed.
    assert weeks[dt.date(2026, 5, 25)] == (15.0, 5)
    # Week of 1 June: values 6 ... 12.
    assert weeks[JUNE_1] == (sum(range(6, 13)), 7)
    # Week of 29 June: 29 and 30 June only (values 34, 35).
    assert weeks[dt.date(2026, 6, 29)] == (69.0, 2)
    months = stored(workspace, periods.MONTH, "links.clicks")
    assert months[dt.date(2026, 5, 1)] == (15.0, 5)
    assert months[JUNE_1] == (sum(range(6, 36)), 30)
    assert stored(workspace, periods.WEEK, "channel.followers", "7") == {JUNE_1: (110.0, 2)}
    assert stored(workspace, periods.MONTH, "inbox.response_median_s") == {JUNE_1: (120.0, 3)}


def test_the_job_stores_periods_idempotently_and_follows_changes(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    tuesday = DAY - dt.timedelta(days=1)
    published(workspace, koenigsbau, at(tuesday, 9))
    gone = published(workspace, koenigsbau, at(DAY, 9))
    first = DAY - dt.timedelta(days=20)

    rollups.refresh(workspace, first, DAY)
    week = periods.week_start(DAY)
    before = sorted(
        PeriodRollup.objects.filter(workspace=workspace).values_list(
            "period", "start", "key", "dimension", "value", "days"
        )
    )
    assert stored(workspace, periods.WEEK, "posts.published")[week] == (2.0, 3)  # Monday to Wednesday computed
    assert stored(workspace, periods.WEEK, "posts.published", str(koenigsbau.pk)) == {week: (2.0, 2)}

    rollups.refresh(workspace, first, DAY)
    again = sorted(
        PeriodRollup.objects.filter(workspace=workspace).values_list(
            "period", "start", "key", "dimension", "value", "days"
        )
    )
    assert again == before

    gone.delete()
    rollups.refresh(workspace, DAY, DAY)  # only one day recomputed: its week and month follow
    assert stored(workspace, periods.WEEK, "posts.published")[week] == (1.0, 3)
    assert stored(workspace, periods.MONTH, "posts.published")[periods.month_start(DAY)][0] == 1.0


def test_pieces_cover_a_range_exactly() -> None:
    for first in [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(0, 400, 13)]:
        for length in (1, 6, 7, 8, 30, 31, 45, 90, 120, 180, 365, 730):
            last = first + dt.timedelta(days=length - 1)
            days, weeks, months = periods.pieces(first, last)
            covered = list(days)
            covered += [w + dt.timedelta(days=n) for w in weeks for n in range(7)]
            for m in months:
                day = m
                while day <= periods.period_end(periods.MONTH, m):
                    covered.append(day)
                    day += dt.timedelta(days=1)
            assert sorted(covered) == [first + dt.timedelta(days=n) for n in range(length)], (first, length)
            if length >= 90:
                assert len(days) <= 24  # few single days: the rest comes from weeks and months


def test_range_sums_from_periods_equal_the_daily_sums(cast) -> None:
    workspace = cast.workspace
    start = dt.date(2025, 11, 20)
    values = {start + dt.timedelta(days=n): float(n % 17) for n in range(300)}
    daily(workspace, "links.clicks", values, "3")
    daily(workspace, "links.clicks", {d: 1.0 for d in values}, "")
    periods.refresh_periods(workspace, ["links.clicks"], start, start + dt.timedelta(days=299))
    # Another workspace's rows are never counted.
    daily(cast.other_workspace, "links.clicks", {d: 1000.0 for d in values}, "3")
    periods.refresh_periods(cast.other_workspace, ["links.clicks"], start, start + dt.timedelta(days=299))

    for first, last in [(start, start + dt.timedelta(days=299)), (dt.date(2026, 1, 3), dt.date(2026, 5, 17))]:
        expected = sum(v for d, v in values.items() if first <= d <= last)
        sums = periods.sums(workspace, ["links.clicks"], first, last)
        assert sums["links.clicks"]["3"] == expected
        assert sums["links.clicks"][""] == (last - first).days + 1
        assert periods.sums(workspace, ["links.clicks"], first, last, ["3"])["links.clicks"].keys() == {"3"}
    with pytest.raises(ValueError):
        periods.sums(workspace, ["channel.followers"], start, start)


def test_long_ranges_are_read_by_week_or_month(cast) -> None:
    workspace = cast.workspace
    assert [periods.grain_for(n) for n in (30, 120, 121, 365, 366, 367, 730)] == [
        "day",
        "day",
        "week",
        "week",
        "week",
        "month",
        "month",
    ]
    daily(workspace, "links.clicks", {JUNE_1 + dt.timedelta(days=n): 1.0 for n in range(30)})
    periods.refresh_periods(workspace, ["links.clicks"], JUNE_1, JUNE_1 + dt.timedelta(days=29))
    series = periods.series(workspace, ["links.clicks"], JUNE_1, JUNE_1 + dt.timedelta(days=29), grain=periods.WEEK)
    assert series.starts == [JUNE_1 + dt.timedelta(weeks=n) for n in range(5)]
    assert series.values["links.clicks"] == [7.0, 7.0, 7.0, 7.0, 2.0]
    by_day = periods.series(workspace, ["links.clicks"], JUNE_1, JUNE_1 + dt.timedelta(days=2))
    assert by_day.grain == "day" and by_day.values["links.clicks"] == [1.0, 1.0, 1.0]


def test_latest_reads_the_last_reading_per_dimension(cast) -> None:
    workspace = cast.workspace
    daily(workspace, "channel.followers", {JUNE_1: 10.0, dt.date(2026, 6, 9): 12.0}, "1")
    daily(workspace, "channel.followers", {dt.date(2026, 6, 3): 50.0}, "2")
    assert periods.latest(workspace, "channel.followers", JUNE_1, dt.date(2026, 6, 30)) == {
        "1": (dt.date(2026, 6, 9), 12.0),
        "2": (dt.date(2026, 6, 3), 50.0),
    }
    assert periods.latest(workspace, "channel.followers", JUNE_1, dt.date(2026, 6, 5), ["1"]) == {"1": (JUNE_1, 10.0)}
    assert periods.latest(workspace, "channel.followers", dt.date(2026, 7, 1), dt.date(2026, 7, 5)) == {}
