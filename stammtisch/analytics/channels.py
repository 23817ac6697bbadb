"""Per-channel figures: the channel overview (one row per channel) and one channel's dashboard
(docs/strategy.md "Per channel and per post"). Read from rollups only: the daily, weekly and
monthly rows whose dimension is the channel's id (analytics/periods.py) and the per-post rows
(analytics/post_rollups.py); never from snapshots, messages, clicks or conversions.

Data functions (the pages and the PDF reports call these; they change nothing):

* `channel_overview(workspace, first, last)` -> `Overview`: a `Figures` per channel and in total,
  and its table.
* `channel_report(workspace, channel, first, last, today)` -> `ChannelReport`: the figures of the
  range, month over month, charts at the range's grain, response times, the best time to post
  and the channel's top and worst posts, with a table for each.
* `response_times(counts)` -> `ResponseTimes`: median and 90th percentile from the counts of the
  response-time classes (analytics/rollups.py `RESPONSE_KEYS`).

Figures that would mislead are withheld (`tables.NotEnough`): an engagement rate needs
`RATE_MIN_POSTS` measured posts, a median response time `RESPONSE_MIN` answered conversations,
a 90th percentile `RESPONSE_P90_MIN`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Sum
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from stammtisch.analytics import dashboard, periods, ranking
from stammtisch.analytics.models import DailyRollup, PostRollup
from stammtisch.analytics.rollups import RESPONSE_CLASSES_MIN, RESPONSE_KEYS
from stammtisch.analytics.tables import DATE, INT, NUMBER, Column, Link, NotEnough, Table
from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel

RATE_MIN_POSTS = 5  # measured posts an engagement rate over a range needs
BUCKET_RATE_MIN_POSTS = 3  # ... the rate of one day, week or month in a chart
RESPONSE_MIN = 5  # answered conversations a median response time needs
RESPONSE_P90_MIN = 20  # ... a 90th percentile
MONTH_DAYS = dashboard.MONTH_DAYS

COUNT_KEYS = (
    "posts.published",
    "posts.measured",
    "posts.engagements",
    "posts.impressions",
    "links.clicks",
    "links.conversions",
    "links.visits",
    "channel.followers_delta",
    "channel.readings",
)
CHART_KEYS = (
    "channel.followers",
    "posts.published",
    "posts.measured",
    "posts.engagements",
    "posts.impressions",
    "links.clicks",
    "links.conversions",
)


# --- Response times -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseTimes:
    """Time to first response of the conversations answered in a range, in minutes, estimated
    from the class counts (linear within a class). `at_least`: the percentile lies in the last,
    open class (more than 30 days), so only its lower bound is known."""

    answered: int
    median: float | None
    p90: float | None
    median_at_least: bool = False
    p90_at_least: bool = False

    def median_cell(self) -> float | NotEnough | None:
        if self.answered < RESPONSE_MIN:
            return NotEnough(self.answered, RESPONSE_MIN)
        return _minutes(self.median)

    def p90_cell(self) -> float | NotEnough | None:
        if self.answered < RESPONSE_P90_MIN:
            return NotEnough(self.answered, RESPONSE_P90_MIN)
        return _minutes(self.p90)


def _minutes(value: float | None) -> float | None:
    """Whole minutes, or tenths below ten minutes."""
    if value is None:
        return None
    return round(value) if value >= 10 else round(value, 1)


def _percentile(counts: list[float], q: float) -> tuple[float | None, bool]:
    total = sum(counts)
    if not total:
        return None, False
    rank = q * total
    below = 0.0
    for index, count in enumerate(counts):
        if count and below + count >= rank:
            lower = RESPONSE_CLASSES_MIN[index - 1] if index else 0.0
            if index == len(RESPONSE_CLASSES_MIN):
                return float(lower), True
            upper = RESPONSE_CLASSES_MIN[index]
            return lower + (rank - below) / count * (upper - lower), False
        below += count
    return float(RESPONSE_CLASSES_MIN[-1]), True


def response_times(counts: Mapping[str, float]) -> ResponseTimes:
    """Median and 90th percentile (minutes) from the summed counts of `RESPONSE_KEYS`."""
    classes = [counts.get(key, 0.0) for key in RESPONSE_KEYS]
    median, median_open = _percentile(classes, 0.5)
    p90, p90_open = _percentile(classes, 0.9)
    return ResponseTimes(int(sum(classes)), median, p90, median_open, p90_open)


# --- Figures of a range ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The counting figures of one channel (or all, dimension "") over a range."""

    posts: int
    measured: int
    engagements: float
    impressions: float
    clicks: int
    conversions: int
    visits: int
    follower_change: float | None  # None: fewer than two follower readings
    responses: ResponseTimes

    @property
    def rate(self) -> float | NotEnough | None:
        """Engagements per impression of the measured posts published in the range, in %."""
        if self.measured < RATE_MIN_POSTS:
            return NotEnough(self.measured, RATE_MIN_POSTS)
        return round(100.0 * self.engagements / self.impressions, 2) if self.impressions else None


def _figures(sums: Mapping[str, Mapping[str, float]], dimension: str) -> Figures:
    def get(key: str) -> float:
        return sums.get(key, {}).get(dimension, 0.0)

    return Figures(
        posts=int(get("posts.published")),
        measured=int(get("posts.measured")),
        engagements=get("posts.engagements"),
        impressions=get("posts.impressions"),
        clicks=int(get("links.clicks")),
        conversions=int(get("links.conversions")),
        visits=int(get("links.visits")),
        follower_change=get("channel.followers_delta") if get("channel.readings") else None,
        responses=response_times({key: get(key) for key in RESPONSE_KEYS}),
    )


def figures(
    workspace: Workspace, first: dt.date, last: dt.date, dimensions: Iterable[str] | None = None
) -> dict[str, Figures]:
    """`Figures` over the days [first, last] by dimension (channel ids as text, "" for all)."""
    dimensions = None if dimensions is None else list(dimensions)
    sums = periods.sums(workspace, [*COUNT_KEYS, *RESPONSE_KEYS], first, last, dimensions)
    seen = set(dimensions) if dimensions is not None else {d for by in sums.values() for d in by}
    return {dimension: _figures(sums, dimension) for dimension in seen}


# --- The overview -----------------------------------------------------------------------------------


@dataclass
class OverviewRow:
    channel: Channel | None  # None: all channels
    followers: float | None  # the last reading in the range
    figures: Figures


@dataclass
class Overview:
    first: dt.date
    last: dt.date
    rows: list[OverviewRow]
    total: OverviewRow
    tables: list[Table] = field(default_factory=list)


def _figure_columns() -> list[Column]:
    return [
        Column(_("Followers")),
        Column(_("Follower change"), INT),
        Column(_("Posts"), INT),
        Column(_("Measured posts"), INT),
        Column(_("Engagement rate (%)"), NUMBER, 2),
        Column(_("Link clicks"), INT),
        Column(_("Conversions"), INT),
        Column(_("Median response (minutes)"), NUMBER, 0),
        Column(_("Response, 90 % within (minutes)"), NUMBER, 0),
    ]


def _figure_cells(followers: float | None, f: Figures) -> list[Any]:
    return [
        int(followers) if followers is not None else None,
        int(f.follower_change) if f.follower_change is not None else None,
        f.posts,
        f.measured,
        f.rate,
        f.clicks,
        f.conversions,
        f.responses.median_cell(),
        f.responses.p90_cell(),
    ]


def channel_overview(workspace: Workspace, first: dt.date, last: dt.date) -> Overview:
    """Every channel of the workspace with its figures over the days [first, last], and the
    total of all channels: two grouped queries of period rows plus two for the followers."""
    channels = list(Channel.objects.filter(workspace=workspace).order_by("display_name", "pk"))
    dims = [str(c.pk) for c in channels]
    by_dimension = figures(workspace, first, last, [*dims, ""])
    followers = periods.latest(workspace, "channel.followers", first, last, dims)
    rows = [
        OverviewRow(c, followers[str(c.pk)][1] if str(c.pk) in followers else None, by_dimension[str(c.pk)])
        for c in channels
    ]
    known = [row.followers for row in rows if row.followers is not None]
    total = OverviewRow(None, sum(known) if known else None, by_dimension[""])
    table = Table(
        "channels",
        _("Channels"),
        [Column(_("Channel")), Column(_("Network")), *_figure_columns()],
        note=_(
            "Followers: the last reading in the period. Engagement rate: likes, comments and shares per impression "
            "of the measured posts published in the period. Response times: from a conversation's first incoming "
            "message to the first answer."
        ),
        empty=_("No channels connected yet."),
    )
    for row in rows:
        assert row.channel is not None
        link = Link(row.channel.display_name, reverse("analytics:channel", args=[workspace.slug, row.channel.pk]))
        table.rows.append([link, row.channel.get_network_display(), *_figure_cells(row.followers, row.figures)])
    if rows:
        table.rows.append([str(_("All channels")), "", *_figure_cells(total.followers, total.figures)])
    return Overview(first, last, rows, total, [table])


# --- One channel ------------------------------------------------------------------------------------


@dataclass
class Comparison:
    label: Any
    now: Any  # a cell value (number, None or NotEnough)
    before: Any

    @property
    def change(self) -> float | None:
        if isinstance(self.now, int | float) and isinstance(self.before, int | float):
            return round(self.now - self.before, 2)
        return None


@dataclass
class ChannelReport:
    channel: Channel
    first: dt.date
    last: dt.date
    grain: str
    followers: tuple[dt.date, float] | None  # the last reading in the range
    figures: Figures
    month: list[Comparison]
    heatmap: dashboard.Heatmap
    posts: ranking.Ranking
    charts: dict[str, dict[str, Any]]
    tables: list[Table]


def _bucket_rate(measured: float | None, engagements: float | None, impressions: float | None) -> float | None:
    if (measured or 0) < BUCKET_RATE_MIN_POSTS or not impressions:
        return None
    return round(100.0 * (engagements or 0.0) / impressions, 2)


def channel_best_time(workspace: Workspace, channel: Channel, first: dt.date, last: dt.date) -> dashboard.Heatmap:
    """The channel's engagement rate by weekday and hour of publishing (its measured posts of
    the range, from the per-post rollups), with the dashboard's thresholds."""
    start, end = ranking.bounds(workspace, first, last)
    cells = (
        PostRollup.objects.filter(
            workspace=workspace, channel=channel, published_at__gte=start, published_at__lt=end, impressions__gt=0
        )
        .values("weekday", "hour")
        .annotate(n=Count("pk"), engagements=Sum("engagements"), impressions=Sum("impressions"))
    )
    return dashboard.heatmap(
        {
            (row["weekday"], row["hour"]): (float(row["n"]), float(row["engagements"] or 0), float(row["impressions"]))
            for row in cells
        }
    )


def _month_over_month(workspace: Workspace, channel: Channel, today: dt.date) -> list[Comparison]:
    """The last 30 days against the 30 before, from the channel's 60 days of daily rows (one
    indexed query); followers: the last reading of each 30 days."""
    dimension = str(channel.pk)
    this_first = today - dt.timedelta(days=MONTH_DAYS - 1)
    before_first = this_first - dt.timedelta(days=MONTH_DAYS)
    sums: dict[bool, dict[str, dict[str, float]]] = {True: defaultdict(dict), False: defaultdict(dict)}
    followers: dict[bool, float] = {}
    rows = (
        DailyRollup.objects.filter(
            workspace=workspace,
            key__in=[*COUNT_KEYS, *RESPONSE_KEYS, "channel.followers"],
            dimension=dimension,
            day__gte=before_first,
            day__lte=today,
        )
        .order_by("day")
        .values_list("key", "day", "value")
    )
    for key, day, value in rows:
        recent = day >= this_first
        if key == "channel.followers":
            followers[recent] = value
        else:
            sums[recent][key][dimension] = sums[recent][key].get(dimension, 0.0) + value
    now, before = _figures(sums[True], dimension), _figures(sums[False], dimension)
    followers_now = followers.get(True)
    followers_before = followers.get(False)

    def level(value: float | None) -> int | None:
        return None if value is None else int(value)

    return [
        Comparison(_("Followers"), level(followers_now), level(followers_before)),
        Comparison(_("Posts"), now.posts, before.posts),
        Comparison(_("Engagement rate (%)"), now.rate, before.rate),
        Comparison(_("Link clicks"), now.clicks, before.clicks),
        Comparison(_("Conversions"), now.conversions, before.conversions),
        Comparison(_("Median response (minutes)"), now.responses.median_cell(), before.responses.median_cell()),
    ]


def channel_report(
    workspace: Workspace, channel: Channel, first: dt.date, last: dt.date, today: dt.date
) -> ChannelReport:
    """One channel over the days [first, last]: its figures, month over month (the last 30 days
    against the 30 before `today`), charts of followers and of posts, clicks, conversions and
    engagement rate at the range's grain, the best time to post and its top and worst posts."""
    dimension = str(channel.pk)
    f = figures(workspace, first, last, [dimension])[dimension]
    followers = periods.latest(workspace, "channel.followers", first, last, [dimension]).get(dimension)
    series = periods.series(workspace, CHART_KEYS, first, last, dimension)
    values = series.values
    rates = [
        _bucket_rate(m, e, i)
        for m, e, i in zip(
            values["posts.measured"], values["posts.engagements"], values["posts.impressions"], strict=True
        )
    ]
    labels = series.labels()
    counts = {key: [int(v) if v is not None else 0 for v in values[key]] for key in CHART_KEYS[1:]}
    followers_series = [int(v) if v is not None else None for v in values["channel.followers"]]
    charts: dict[str, dict[str, Any]] = {
        "followers": {
            "type": "line",
            "labels": labels,
            "datasets": [{"label": str(_("Followers")), "data": followers_series}],
        },
        "activity": {
            "type": "bar",
            "labels": labels,
            "datasets": [
                {"label": str(_("Posts")), "data": counts["posts.published"]},
                {"label": str(_("Link clicks")), "data": counts["links.clicks"]},
                {"label": str(_("Conversions")), "data": counts["links.conversions"]},
            ],
        },
        "rate": {
            "type": "line",
            "empty": all(rate is None for rate in rates),
            "labels": labels,
            "datasets": [{"label": str(_("Engagement rate (%)")), "data": rates}],
        },
    }
    grain_label = periods.GRAIN_LABELS[series.grain]
    bucket_column = Column(grain_label, DATE)
    month = _month_over_month(workspace, channel, today)
    heat = channel_best_time(workspace, channel, first, last)
    posts = ranking.post_ranking(workspace, first, last, today, channel=channel, limit=5)
    tables = [
        Table(
            "figures",
            _("Figures of the period"),
            [Column(_("Figure")), Column(_("Value"), NUMBER, 2)],
            [
                [str(column.label), value]
                for column, value in zip(
                    _figure_columns(), _figure_cells(followers[1] if followers else None, f), strict=True
                )
            ],
            note=_("Followers: the last reading in the period. Response times: of the conversations answered in it."),
        ),
        Table(
            "month",
            _("Month over month"),
            [
                Column(_("Figure")),
                Column(_("Last 30 days"), NUMBER, 2),
                Column(_("30 days before"), NUMBER, 2),
                Column(_("Difference"), NUMBER, 2),
            ],
            [[str(row.label), row.now, row.before, row.change] for row in month],
            note=_("Followers: the last reading of each 30 days."),
        ),
        Table(
            "followers",
            _("Followers"),
            [bucket_column, Column(_("Followers"), INT)],
            [[start, value] for start, value in zip(series.starts, followers_series, strict=True) if value is not None],
            note=_("The last reading of each day, week or month."),
            empty=_("No follower readings in this period."),
        ),
        Table(
            "activity",
            _("Posts, clicks, conversions and engagement rate"),
            [
                bucket_column,
                Column(_("Posts"), INT),
                Column(_("Measured posts"), INT),
                Column(_("Engagement rate (%)"), NUMBER, 2),
                Column(_("Link clicks"), INT),
                Column(_("Conversions"), INT),
            ],
            [
                [start, posts_n, measured, rate, clicks, conversions]
                for start, posts_n, measured, rate, clicks, conversions in zip(
                    series.starts,
                    counts["posts.published"],
                    counts["posts.measured"],
                    rates,
                    counts["links.clicks"],
                    counts["links.conversions"],
                    strict=True,
                )
            ],
            note=_(
                "Posts by the day they were published; a rate is shown from %(minimum)s measured posts. "
                "Clicks and conversions by the day they happened."
            )
            % {"minimum": BUCKET_RATE_MIN_POSTS},
        ),
        dashboard.heatmap_table(heat),
        *posts.tables,
    ]
    return ChannelReport(channel, first, last, series.grain, followers, f, month, heat, posts, charts, tables)
