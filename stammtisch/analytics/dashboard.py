"""What the goal pages and the dashboard show, computed from daily rollups only (no raw rows on
page load): a goal's progress, trend and forecast; content mix and pillars against their
targets; the value/promotion mix; cadence adherence; the best time to post
(docs/strategy.md)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Sum
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from stammtisch.analytics import forecast as forecasting
from stammtisch.analytics import periods
from stammtisch.analytics.kpis import FLOW, KPIS, Kpi, Reading, evaluate, level_on, read_rollups
from stammtisch.analytics.models import DailyRollup, RollupState
from stammtisch.analytics.rollups import pillar_dimension
from stammtisch.analytics.tables import DATE, INT, NUMBER, Column, Table
from stammtisch.core.models import Workspace

DEFAULT_RANGE_DAYS = 90
RANGES = (30, 90, 180, 365, 730)  # more than 120 days are charted by week, more than 366 by month
FORECAST_DAYS = 28  # the regression looks at this many last days of the series
MONTH_DAYS = 30  # "month over month": the last 30 days against the 30 before
CHART_AHEAD_DAYS = 90  # the forecast is drawn at most this far beyond today (or to the deadline)

BESTTIME_MIN_POSTS = 30  # measured posts needed before the heatmap is shown at all
BESTTIME_MIN_CELL = 3  # measured posts an hour needs to be rated
BESTTIME_TOP = 3  # the best rated hours offered as queue slots
CADENCE_WEEKS = 4  # full weeks the cadence adherence looks at


def parse_range(value: str | None) -> int:
    try:
        days = int(value or DEFAULT_RANGE_DAYS)
    except ValueError:
        return DEFAULT_RANGE_DAYS
    return days if days in RANGES else DEFAULT_RANGE_DAYS


def last_refresh(workspace: Workspace) -> dt.datetime | None:
    state = RollupState.objects.filter(workspace=workspace).first()
    return state.refreshed_at if state else None


# --- Goals --------------------------------------------------------------------------------------


@dataclass
class GoalStatus:
    kpi: Kpi
    current: Reading
    baseline: float | None
    progress: float | None  # 0 ... 100 (may exceed 100), None without data
    days: list[dt.date]
    values: list[float | None]  # the KPI's trend over `days`
    forecast: forecasting.Forecast | None
    expected: dt.date | None
    earliest: dt.date | None
    latest: dt.date | None
    on_track: bool | None
    this_month: Reading
    last_month: Reading
    chart: dict[str, Any] = field(default_factory=dict)
    grain: str = periods.DAY  # `days` are every day, or the last day of each week or month

    @property
    def month_change(self) -> float | None:
        if self.this_month.value is None or self.last_month.value is None:
            return None
        return self.this_month.value - self.last_month.value


def _cumulative(kpi: Kpi, series: dict[str, dict[dt.date, float]], start: dt.date, day: dt.date) -> Reading:
    return evaluate(kpi, series, start, day)


def _sample_days(grain: str, first: dt.date, today: dt.date) -> list[dt.date]:
    """The days a trend is shown on: every day, or the last day of each week or month (today for
    the current one)."""
    if grain == periods.DAY:
        return [first + dt.timedelta(days=n) for n in range((today - first).days + 1)]
    ends = [periods.period_end(grain, start) for start in periods.starts_between(grain, first, today)]
    return sorted({min(end, today) for end in ends})


def goal_status(
    goal: Any, today: dt.date, range_days: int = DEFAULT_RANGE_DAYS, grain: str = periods.DAY
) -> GoalStatus:
    """Where a goal (strategy.models.Goal) stands on `today`: one rollup query.

    `values` is the goal's trend on `days`: every day of the range (`grain` "day", the default),
    or, with "week" or "month" (`periods.grain_for(range_days)`, as the goal page does for long
    ranges), the last day of each ISO week or month. The forecast always fits the last
    `FORECAST_DAYS` days."""
    kpi = KPIS[goal.kpi]
    first_shown = today - dt.timedelta(days=range_days - 1)
    read_from = min(first_shown, goal.start, today - dt.timedelta(days=2 * MONTH_DAYS)) - dt.timedelta(days=28)
    keys = {*kpi.inputs, kpi.sample_key} - {""}
    series = read_rollups(goal.workspace, keys, read_from, today)
    days = _sample_days(grain, first_shown, today)
    flow = kpi.mode == FLOW

    def reading(day: dt.date) -> Reading:
        return _cumulative(kpi, series, goal.start, day) if flow else level_on(kpi, series, day)

    def trend(on: list[dt.date]) -> list[float | None]:
        values: list[float | None] = []
        for day in on:
            value = reading(day).value if day >= goal.start or not flow else None
            values.append(round(value, 2) if value is not None else None)
        return values

    values = trend(days)
    current = reading(today)
    baseline = goal.baseline
    if baseline is None:
        baseline = 0.0 if flow else level_on(kpi, series, goal.start).value
    progress = None
    if current.value is not None and baseline is not None and goal.target != baseline:
        progress = round(100.0 * (current.value - baseline) / (goal.target - baseline), 1)

    if grain == periods.DAY:
        recent = values[-FORECAST_DAYS:]
    else:
        recent = trend([today - dt.timedelta(days=n) for n in range(min(FORECAST_DAYS, range_days) - 1, -1, -1)])
    rising = None if baseline is None else goal.target >= baseline
    outlook = forecasting.forecast(recent, goal.target, rising=rising)

    def date_of(offset: int | None) -> dt.date | None:
        return today + dt.timedelta(days=offset) if offset is not None else None

    expected = date_of(outlook.expected) if outlook else None
    on_track = None if outlook is None else (expected is not None and expected <= goal.deadline)

    if flow:
        this_month = evaluate(kpi, series, today - dt.timedelta(days=MONTH_DAYS - 1), today)
        last_month = evaluate(
            kpi, series, today - dt.timedelta(days=2 * MONTH_DAYS - 1), today - dt.timedelta(days=MONTH_DAYS)
        )
    else:
        this_month = level_on(kpi, series, today)
        last_month = level_on(kpi, series, today - dt.timedelta(days=MONTH_DAYS))

    status = GoalStatus(
        kpi=kpi,
        current=current,
        baseline=baseline,
        progress=progress,
        days=days,
        values=values,
        forecast=outlook,
        expected=expected,
        earliest=date_of(outlook.earliest) if outlook else None,
        latest=date_of(outlook.latest) if outlook else None,
        on_track=on_track,
        this_month=this_month,
        last_month=last_month,
        grain=grain,
    )
    status.chart = _goal_chart(status, goal, today, len(recent) - 1)
    return status


def _goal_chart(status: GoalStatus, goal: Any, today: dt.date, last_x: int) -> dict[str, Any]:
    """Chart data: the trend over the range, then the forecast line and its band up to the
    deadline (at most `CHART_AHEAD_DAYS` ahead), at the trend's grain. `last_x` is today's x in
    the fitted series."""
    ahead = max(0, min((goal.deadline - today).days, CHART_AHEAD_DAYS))
    end = today + dt.timedelta(days=ahead)
    future = [day for day in _sample_days(status.grain, today, end) if day > today]
    if ahead and status.grain != periods.DAY and end not in future:
        future.append(end)
    labels = [d.isoformat() for d in status.days + future]
    line: list[float | None] = [None] * len(status.days)
    lower: list[float | None] = [None] * len(status.days)
    upper: list[float | None] = [None] * len(status.days)
    outlook = status.forecast
    if outlook is not None and not outlook.reached:
        for day in future:
            x = last_x + (day - today).days
            predicted = outlook.fit.predict(x)
            half = outlook.fit.half_width(x)
            line.append(round(predicted, 2))
            lower.append(round(predicted - half, 2))
            upper.append(round(predicted + half, 2))
    return {
        "labels": labels,
        "actual": status.values + [None] * len(future),
        "forecast": line + [None] * (len(labels) - len(line)),
        "lower": lower + [None] * (len(labels) - len(lower)),
        "upper": upper + [None] * (len(labels) - len(upper)),
        "target": goal.target,
    }


# --- Content mix, pillars, cadence ---------------------------------------------------------------


def sums_by_dimension(
    workspace: Workspace, keys: list[str], first: dt.date, last: dt.date
) -> dict[str, dict[str, float]]:
    """Sum of each key's rollups per dimension over [first, last]: one grouped query."""
    result: dict[str, dict[str, float]] = defaultdict(dict)
    rows = (
        DailyRollup.objects.filter(workspace=workspace, key__in=keys, day__gte=first, day__lte=last)
        .values("key", "dimension")
        .annotate(total=Sum("value"))
    )
    for row in rows:
        result[row["key"]][row["dimension"]] = float(row["total"] or 0)
    return result


@dataclass
class Share:
    label: str
    count: int
    share: float  # % of all published posts
    target: float | None = None
    colour: str = ""

    @property
    def gap(self) -> float | None:
        return None if self.target is None else round(self.share - self.target, 1)


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def content_mix(
    workspace: Workspace, pillars: list[Any], min_value_share: int, first: dt.date, last: dt.date
) -> dict[str, Any]:
    """Published posts by pillar and by purpose against their targets."""
    sums = periods.sums(workspace, ["posts.pillar", "posts.purpose", "posts.published"], first, last)
    total = sums.get("posts.published", {}).get("", 0.0)
    by_pillar = dict(sums.get("posts.pillar", {}))
    rows = []
    for pillar in pillars:
        count = by_pillar.pop(pillar_dimension(pillar.name), 0.0)
        rows.append(Share(pillar.name, int(count), _pct(count, total), float(pillar.target_share), pillar.colour))
    without = by_pillar.pop("-", 0.0)
    other = sum(by_pillar.values())
    purposes = sums.get("posts.purpose", {})
    value = purposes.get("value", 0.0)
    return {
        "total": int(total),
        "pillars": rows,
        "other_labels": Share("", int(other), _pct(other, total)),
        "without_pillar": Share("", int(without), _pct(without, total)),
        "other_labels_names": sorted(by_pillar),
        "value": Share("value", int(value), _pct(value, total), float(min_value_share)),
        "promotion": Share(
            "promotion", int(purposes.get("promotion", 0.0)), _pct(purposes.get("promotion", 0.0), total)
        ),
        "mix_met": total > 0 and _pct(value, total) >= min_value_share,
    }


@dataclass
class CadenceRow:
    channel: Any
    per_week: int
    weeks: list[tuple[dt.date, int]]  # (Monday, posts published that week)

    @property
    def adherence(self) -> float:
        """Average over the weeks of min(published / target, 1), in %."""
        if not self.weeks or not self.per_week:
            return 0.0
        return round(100.0 * sum(min(n / self.per_week, 1.0) for _monday, n in self.weeks) / len(self.weeks), 1)


def cadence_adherence(workspace: Workspace, cadences: list[Any], today: dt.date) -> list[CadenceRow]:
    """Posts published per channel in each of the last `CADENCE_WEEKS` full weeks (Monday to
    Sunday) against the channel's posts per week."""
    this_monday = today - dt.timedelta(days=today.weekday())
    first = this_monday - dt.timedelta(weeks=CADENCE_WEEKS)
    mondays = [first + dt.timedelta(weeks=n) for n in range(CADENCE_WEEKS)]
    counts: dict[tuple[str, dt.date], float] = defaultdict(float)
    rows = DailyRollup.objects.filter(
        workspace=workspace,
        key="posts.published",
        dimension__in=[str(c.channel_id) for c in cadences],
        day__gte=first,
        day__lt=this_monday,
    ).values_list("dimension", "day", "value")
    for dimension, day, value in rows:
        counts[dimension, day - dt.timedelta(days=day.weekday())] += value
    return [
        CadenceRow(c.channel, c.posts_per_week, [(m, int(counts.get((str(c.channel_id), m), 0))) for m in mondays])
        for c in cadences
    ]


# --- Best time to post ----------------------------------------------------------------------------


@dataclass
class Heatmap:
    sample: int  # measured posts in the period
    enough: bool
    cells: dict[tuple[int, int], tuple[float | None, int]]  # (weekday, hour) -> (rate %, posts)
    top: list[tuple[int, int, float, int]]  # weekday, hour, rate %, posts

    def rows(self) -> list[tuple[int, list[tuple[float | None, int]]]]:
        return [(weekday, [self.cells.get((weekday, hour), (None, 0)) for hour in range(24)]) for weekday in range(7)]

    @property
    def max_rate(self) -> float:
        rates = [rate for rate, _n in self.cells.values() if rate is not None]
        return max(rates) if rates else 0.0


def heatmap(counts: dict[tuple[int, int], tuple[float, float, float]]) -> Heatmap:
    """The heatmap of measured posts by (weekday, hour) of publishing: (posts, engagements,
    impressions) per cell; a cell is rated from `BESTTIME_MIN_CELL` posts, the whole map (and its
    best hours) only from `BESTTIME_MIN_POSTS`."""
    cells: dict[tuple[int, int], tuple[float | None, int]] = {}
    for (weekday, hour), (count, engagements, impressions) in counts.items():
        rate = round(100.0 * engagements / impressions, 2) if impressions and count >= BESTTIME_MIN_CELL else None
        cells[weekday, hour] = (rate, int(count))
    sample = int(sum(count for count, _e, _i in counts.values()))
    rated = sorted(
        ((w, h, rate, n) for (w, h), (rate, n) in cells.items() if rate is not None),
        key=lambda cell: (-cell[2], -cell[3], cell[0], cell[1]),
    )
    enough = sample >= BESTTIME_MIN_POSTS
    return Heatmap(sample, enough, cells, rated[:BESTTIME_TOP] if enough else [])


def best_time(workspace: Workspace, first: dt.date, last: dt.date) -> Heatmap:
    """Engagement rate (likes + comments + shares per impression, in %) by weekday and hour of
    publishing, from the rollups of measured posts; shown only with `BESTTIME_MIN_POSTS`."""
    sums = periods.sums(workspace, ["besttime.posts", "besttime.engagements", "besttime.impressions"], first, last)
    counts: dict[tuple[int, int], tuple[float, float, float]] = {}
    for dimension, count in sums.get("besttime.posts", {}).items():
        weekday, hour = (int(part) for part in dimension.split("-"))
        impressions = sums.get("besttime.impressions", {}).get(dimension, 0.0)
        engagements = sums.get("besttime.engagements", {}).get(dimension, 0.0)
        counts[weekday, hour] = (count, engagements, impressions)
    return heatmap(counts)


def heatmap_table(heat: Heatmap, name: str = "best_time") -> Table:
    """The heatmap as a table: a row per weekday, a column per hour, the rate in % (empty:
    fewer than `BESTTIME_MIN_CELL` posts)."""
    from stammtisch.publishing.queue import weekday_name

    table = Table(
        name,
        _("Best time to post: engagement rate by weekday and hour (%)"),
        [Column(_("Weekday")), *(Column(f"{hour:02d}", NUMBER, 2) for hour in range(24))],
        note=_("An hour with fewer than %(minimum)s measured posts is not rated.") % {"minimum": BESTTIME_MIN_CELL},
        empty=_(
            "Not enough data yet: the heatmap is shown from %(minimum)s measured posts in the period (%(n)s so far)."
        )
        % {"minimum": BESTTIME_MIN_POSTS, "n": heat.sample},
    )
    if heat.enough:
        table.rows = [[weekday_name(weekday), *(rate for rate, _n in cells)] for weekday, cells in heat.rows()]
    return table


# --- Tables (analytics/tables.py): what the pages show under their charts and export ------------


def goal_tables(status: GoalStatus) -> list[Table]:
    """The goal page's table: the trend and the forecast with its band, day by day (or by the
    last day of each week or month for long ranges)."""
    chart = status.chart
    rows = [
        [dt.date.fromisoformat(label), actual, forecast, lower, upper]
        for label, actual, forecast, lower, upper in zip(
            chart["labels"], chart["actual"], chart["forecast"], chart["lower"], chart["upper"], strict=True
        )
    ]
    return [
        Table(
            "trend",
            _("Trend and forecast"),
            [
                Column(_("Day"), DATE),
                Column(_("Actual"), NUMBER, 2),
                Column(_("Forecast"), NUMBER, 2),
                Column(_("Lower bound (90 %)"), NUMBER, 2),
                Column(_("Upper bound (90 %)"), NUMBER, 2),
            ],
            rows,
            note=status.kpi.definition,
        )
    ]


def overview_tables(mix: dict[str, Any], cadence: list[CadenceRow], heat: Heatmap) -> list[Table]:
    """The dashboard's tables: pillars, value and promotion, cadence adherence, best time."""
    pillars = Table(
        "pillars",
        _("Content pillars: actual against target"),
        [
            Column(_("Pillar")),
            Column(_("Posts"), INT),
            Column(_("Actual share (%)"), NUMBER),
            Column(_("Target share (%)"), NUMBER, 0),
            Column(_("Difference"), NUMBER),
        ],
        [[row.label, row.count, row.share, row.target, row.gap] for row in mix["pillars"]],
    )
    other = str(_("Other labels"))
    if mix["other_labels_names"]:
        other += " (" + ", ".join(mix["other_labels_names"]) + ")"
    pillars.rows.append([other, mix["other_labels"].count, mix["other_labels"].share, None, None])
    pillars.rows.append([str(_("No pillar")), mix["without_pillar"].count, mix["without_pillar"].share, None, None])
    purpose = Table(
        "purpose",
        _("Value and promotion"),
        [
            Column(_("Purpose")),
            Column(_("Posts"), INT),
            Column(_("Share (%)"), NUMBER),
            Column(_("Minimum share (%)"), NUMBER, 0),
        ],
        [
            [str(_("Value content")), mix["value"].count, mix["value"].share, mix["value"].target],
            [str(_("Promotion")), mix["promotion"].count, mix["promotion"].share, None],
        ],
    )
    weeks = cadence[0].weeks if cadence else []
    cadence_table = Table(
        "cadence",
        _("Cadence adherence (last four full weeks)"),
        [
            Column(_("Channel")),
            Column(_("Target a week"), INT),
            *(
                Column(_("Week of %(day)s") % {"day": date_format(monday, "SHORT_DATE_FORMAT")}, INT)
                for monday, _n in weeks
            ),
            Column(_("Adherence (%)"), NUMBER),
        ],
        [[str(row.channel), row.per_week, *(n for _monday, n in row.weeks), row.adherence] for row in cadence],
        empty=_("No cadence set yet."),
    )
    return [pillars, purpose, cadence_table, heatmap_table(heat)]
