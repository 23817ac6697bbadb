"""Weekly and monthly rollups, and reading a series at the grain a range needs
(docs/strategy.md "Rollups").

The rollup job (analytics/rollups.py `refresh`) stores, right after a group's daily rows, one
`PeriodRollup` per ISO week (Monday to Sunday) and per calendar month that the refreshed days
fall in, for each key and dimension of the group. A period's value is computed from its daily
rows only (cheap): a sum for counts, the last day's value for a level (`kpis.LAST_KEYS`), the
median of the daily medians for a median (`kpis.MEDIAN_KEYS`). Every period touched is
recomputed from all its days, so running the job twice gives the same rows (idempotent), and a
day that changes later changes its week and month at the next run.

Pages chart a range of up to `DAILY_UP_TO` days by day, up to `WEEKLY_UP_TO` days by week and
longer ranges by month (`grain_for`), reading at most a few hundred rows either way (`series`).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Max, Q, Sum
from django.utils.translation import gettext_lazy as _

from stammtisch.analytics.kpis import LAST_KEYS, MEDIAN_KEYS
from stammtisch.analytics.models import DailyRollup, PeriodRollup
from stammtisch.core.models import Workspace

DAY = "day"
WEEK = PeriodRollup.Period.WEEK.value
MONTH = PeriodRollup.Period.MONTH.value

DAILY_UP_TO = 120  # a range of at most this many days is charted by day
WEEKLY_UP_TO = 366  # ... of at most this many by ISO week; longer ones by calendar month

GRAIN_LABELS = {DAY: _("Day"), WEEK: _("Week"), MONTH: _("Month")}


def week_start(day: dt.date) -> dt.date:
    """The Monday of the ISO week of `day`."""
    return day - dt.timedelta(days=day.weekday())


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def period_start(period: str, day: dt.date) -> dt.date:
    if period == WEEK:
        return week_start(day)
    if period == MONTH:
        return month_start(day)
    return day


def next_start(period: str, start: dt.date) -> dt.date:
    """The first day of the period after the one beginning on `start`."""
    if period == WEEK:
        return start + dt.timedelta(weeks=1)
    if period == MONTH:
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=1)


def period_end(period: str, start: dt.date) -> dt.date:
    """The last day of the period beginning on `start`."""
    return next_start(period, start) - dt.timedelta(days=1)


def starts_between(period: str, first: dt.date, last: dt.date) -> list[dt.date]:
    """The first days of the periods (days, weeks or months) that the days [first, last] touch."""
    starts = []
    start = period_start(period, first)
    while start <= last:
        starts.append(start)
        start = next_start(period, start)
    return starts


def grain_for(range_days: int) -> str:
    """How a range of `range_days` days is charted: by day, by ISO week or by month."""
    if range_days <= DAILY_UP_TO:
        return DAY
    if range_days <= WEEKLY_UP_TO:
        return WEEK
    return MONTH


def combine(key: str, values: list[float]) -> float:
    """Several days' values of rollup `key` (in day order) as one period's value."""
    if key in LAST_KEYS:
        return values[-1]
    if key in MEDIAN_KEYS:
        return float(statistics.median(values))
    return float(sum(values))


# --- Computing (called by the rollup job inside the group's transaction) -----------------------


def refresh_periods(workspace: Workspace, keys: Iterable[str], first: dt.date, last: dt.date) -> int:
    """Recompute the week and month rows of `keys` for every period the days [first, last] touch,
    from all the daily rows of those periods. Returns the number of rows written."""
    keys = list(keys)
    written = 0
    for period in (WEEK, MONTH):
        starts = starts_between(period, first, last)
        read_from, read_to = starts[0], period_end(period, starts[-1])
        days: dict[tuple[dt.date, str, str], list[float]] = defaultdict(list)
        rows = (
            DailyRollup.objects.filter(workspace=workspace, key__in=keys, day__gte=read_from, day__lte=read_to)
            .order_by("day")
            .values_list("day", "key", "dimension", "value")
        )
        for day, key, dimension, value in rows.iterator(chunk_size=5000):
            days[period_start(period, day), key, dimension].append(value)
        PeriodRollup.objects.filter(
            workspace=workspace, period=period, key__in=keys, start__gte=read_from, start__lte=starts[-1]
        ).delete()
        PeriodRollup.objects.bulk_create(
            [
                PeriodRollup(
                    workspace=workspace,
                    period=period,
                    start=start,
                    key=key,
                    dimension=dimension,
                    value=combine(key, values),
                    days=len(values),
                )
                for (start, key, dimension), values in days.items()
            ],
            batch_size=1000,
        )
        written += len(days)
    return written


# --- Reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """Rollups of several keys over a range at one grain: `starts` are the first days of the
    buckets (days, Mondays or 1sts of months; the first and the last bucket may reach outside the
    range), `values[key][i]` the value of bucket i (None: no rollup row)."""

    grain: str
    starts: list[dt.date]
    values: dict[str, list[float | None]]

    def labels(self) -> list[str]:
        return [start.isoformat() for start in self.starts]


def read(
    workspace: Workspace, grain: str, keys: Iterable[str], first: dt.date, last: dt.date, dimension: str = ""
) -> dict[str, dict[dt.date, float]]:
    """The rollups of `keys` and `dimension` by key and bucket start for the buckets of `grain`
    that the days [first, last] touch: one indexed query of `DailyRollup` or `PeriodRollup`."""
    keys = list(keys)
    result: dict[str, dict[dt.date, float]] = defaultdict(dict)
    if grain == DAY:
        daily = DailyRollup.objects.filter(
            workspace=workspace, key__in=keys, dimension=dimension, day__gte=first, day__lte=last
        ).values_list("key", "day", "value")
        for key, day, value in daily:
            result[key][day] = value
        return result
    rows = PeriodRollup.objects.filter(
        workspace=workspace,
        period=grain,
        key__in=keys,
        dimension=dimension,
        start__gte=period_start(grain, first),
        start__lte=last,
    ).values_list("key", "start", "value")
    for key, start, value in rows:
        result[key][start] = value
    return result


def series(
    workspace: Workspace, keys: Iterable[str], first: dt.date, last: dt.date, dimension: str = "", grain: str = ""
) -> Series:
    """The rollups of `keys` over the days [first, last] at `grain` (by default the one
    `grain_for` picks for the range's length), one value per bucket and key."""
    keys = list(keys)
    grain = grain or grain_for((last - first).days + 1)
    by_key = read(workspace, grain, keys, first, last, dimension)
    starts = starts_between(grain, first, last)
    return Series(grain, starts, {key: [by_key.get(key, {}).get(start) for start in starts] for key in keys})


def pieces(first: dt.date, last: dt.date) -> tuple[list[dt.date], list[dt.date], list[dt.date]]:
    """The days [first, last] as whole calendar months, whole ISO weeks and single days
    (returned as lists of days, Mondays and 1sts of months), so that a long range is summed from
    a few dozen rows per key and dimension instead of one per day."""
    one = dt.timedelta(days=1)
    months = [s for s in starts_between(MONTH, first, last) if s >= first and period_end(MONTH, s) <= last]
    segments = [(first, last)]
    if months:
        segments = [(first, months[0] - one), (period_end(MONTH, months[-1]) + one, last)]
    weeks: list[dt.date] = []
    days: list[dt.date] = []

    def add_days(a: dt.date, b: dt.date) -> None:
        while a <= b:
            days.append(a)
            a += one

    for a, b in segments:
        if a > b:
            continue
        inside = [s for s in starts_between(WEEK, a, b) if s >= a and period_end(WEEK, s) <= b]
        if not inside:
            add_days(a, b)
            continue
        add_days(a, inside[0] - one)
        add_days(period_end(WEEK, inside[-1]) + one, b)
        weeks += inside
    return days, weeks, months


def sums(
    workspace: Workspace, keys: Iterable[str], first: dt.date, last: dt.date, dimensions: Iterable[str] | None = None
) -> dict[str, dict[str, float]]:
    """The sum of each counting key over the days [first, last], by key and dimension (all
    dimensions, or those given), from the month, week and day rows that make up the range
    (`pieces`): two grouped queries. Keys that do not add up (`kpis.LAST_KEYS`,
    `kpis.MEDIAN_KEYS`) are refused."""
    keys = list(keys)
    if not_additive := set(keys) & (LAST_KEYS | MEDIAN_KEYS):
        raise ValueError(f"not a counting key: {sorted(not_additive)}")
    days, weeks, months = pieces(first, last)
    result: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    daily = DailyRollup.objects.filter(workspace=workspace, key__in=keys, day__in=days)
    periodic = PeriodRollup.objects.filter(workspace=workspace, key__in=keys).filter(
        Q(period=WEEK, start__in=weeks) | Q(period=MONTH, start__in=months)
    )
    if dimensions is not None:
        daily = daily.filter(dimension__in=list(dimensions))
        periodic = periodic.filter(dimension__in=list(dimensions))
    for query in (daily if days else None, periodic if weeks or months else None):
        if query is None:
            continue
        for key, dimension, total in (
            query.values("key", "dimension").annotate(total=Sum("value")).values_list("key", "dimension", "total")
        ):
            result[key][dimension] += float(total or 0)
    return result


def latest(
    workspace: Workspace, key: str, first: dt.date, last: dt.date, dimensions: Iterable[str] | None = None
) -> dict[str, tuple[dt.date, float]]:
    """The last daily value of a level key (`channel.followers`) within [first, last], by
    dimension: (day, value). Two indexed queries."""
    rows = DailyRollup.objects.filter(workspace=workspace, key=key, day__gte=first, day__lte=last)
    if dimensions is not None:
        rows = rows.filter(dimension__in=list(dimensions))
    last_days = dict(rows.values("dimension").annotate(last=Max("day")).values_list("dimension", "last"))
    if not last_days:
        return {}
    wanted = Q()
    for dimension, day in last_days.items():
        wanted |= Q(dimension=dimension, day=day)
    values = rows.filter(wanted).values_list("dimension", "day", "value")
    return {dimension: (day, value) for dimension, day, value in values}
