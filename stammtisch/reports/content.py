"""What a report says: the figures of one period of one workspace, as plain JSON data
(docs/reports.md "What a report contains").

`build` computes them once, when the worker generates the report; they are stored on the report
(`Report.data`), so the PDF, the page in the app and a share link show the same snapshot, and a
report can be rendered again in another layout without recomputing. Texts are not stored: labels
and the summary are made when the data is rendered, in the report's language (reports/render.py).

Figures come from the daily rollups and the KPI registry (analytics/kpis.py, analytics/dashboard.py)
like every page; only the top posts and their engagement read the latest metric snapshot of each
post published in the period, and the stage movements count the audience's stage transitions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count
from django.utils import timezone

from stammtisch.analytics import dashboard
from stammtisch.analytics.kpis import KPIS, evaluate, read_rollups
from stammtisch.analytics.models import DailyRollup, PostMetricSnapshot
from stammtisch.audience.models import Stage, StageTransition
from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Delivery
from stammtisch.reports.periods import Period
from stammtisch.strategy.models import Cadence, ContentPillar, Goal, MixTarget

VERSION = 1
TOP_POSTS = 5
ENGAGEMENT_MIN_POSTS = 3  # measured posts needed before an engagement rate is given
GOAL_TREND_DAYS = 28  # a goal's forecast needs this many days of history (analytics: FORECAST_DAYS)
EXCERPT = 120  # characters of a top post's text

# Rollup keys the report reads as workspace totals ("" dimension).
TOTAL_KEYS = (
    "posts.published",
    "links.clicks",
    "links.conversions",
    "links.visits",
    "people.new",
    "people.returning",
    "people.advocates",
    "inbox.triaged",
    "inbox.positive",
    "inbox.negative",
    "inbox.feedback",
    "inbox.feedback_answered",
    "inbox.response_median_s",
    "inbox.responses",
    "channel.followers_delta",
    "channel.readings",
)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _bounds(workspace: Workspace, period: Period) -> tuple[dt.datetime, dt.datetime]:
    tz = workspace.tz
    start = dt.datetime.combine(period.first, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(period.last + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return start, end


def _channels(workspace: Workspace, ids: set[str]) -> dict[str, dict[str, str]]:
    wanted = [int(pk) for pk in ids if pk.isdigit()]
    return {
        str(channel.pk): {
            "name": channel.display_name,
            "network": channel.network,
            "stands_in_for": channel.stands_in_for,
        }
        for channel in Channel.objects.filter(workspace=workspace, pk__in=wanted)
    }


def _by_channel(workspace: Workspace, key: str, period: Period) -> list[dict[str, Any]]:
    """A key's sum per channel over the period, largest first (channels with 0 left out)."""
    sums = dashboard.sums_by_dimension(workspace, [key], period.first, period.last).get(key, {})
    sums = {dimension: value for dimension, value in sums.items() if dimension and value}
    channels = _channels(workspace, set(sums))
    rows = [
        {**channels.get(dimension, {"name": "", "network": "", "stands_in_for": ""}), "count": int(value)}
        for dimension, value in sums.items()
    ]
    return sorted(rows, key=lambda row: (-row["count"], row["name"]))


def _kpis(series: dict[str, dict[dt.date, float]], period: Period, previous: Period) -> list[dict[str, Any]]:
    rows = []
    for kpi in KPIS.values():
        if not kpi.available:
            continue
        now = evaluate(kpi, series, period.first, period.last)
        before = evaluate(kpi, series, previous.first, previous.last)
        rows.append(
            {
                "key": kpi.key,
                "value": _round(now.value),
                "sample": now.sample,
                "previous": _round(before.value),
                "previous_sample": before.sample,
                "min_sample": kpi.min_sample,
                "mode": kpi.mode,
            }
        )
    return rows


def _goals(workspace: Workspace, period: Period) -> list[dict[str, Any]]:
    rows = []
    goals = Goal.objects.filter(workspace=workspace, start__lte=period.last, deadline__gte=period.first)
    for goal in goals.select_related("workspace"):
        status = dashboard.goal_status(goal, period.last, range_days=max(GOAL_TREND_DAYS, len(period.days)))
        outlook = status.forecast
        if outlook is None:
            forecast = "none"
        elif outlook.reached:
            forecast = "reached"
        elif status.expected is None:
            forecast = "never"
        else:
            forecast = "on_track" if status.on_track else "late"
        rows.append(
            {
                "name": goal.name,
                "kind": goal.kind,
                "kpi": goal.kpi,
                "target": goal.target,
                "baseline": _round(status.baseline),
                "start": goal.start.isoformat(),
                "deadline": goal.deadline.isoformat(),
                "current": _round(status.current.value),
                "sample": status.current.sample,
                "min_sample": status.kpi.min_sample,
                "progress": _round(status.progress, 1),
                "forecast": forecast,
                "expected": status.expected.isoformat() if status.expected else None,
                "trend": status.values,
            }
        )
    return rows


def _post_figures(workspace: Workspace, period: Period) -> list[dict[str, Any]]:
    """Each delivery published in the period with the latest figures read for it."""
    start, end = _bounds(workspace, period)
    deliveries = list(
        Delivery.objects.filter(
            post__workspace=workspace, state=Delivery.State.PUBLISHED, published_at__gte=start, published_at__lt=end
        )
        .select_related("channel")
        .order_by("published_at", "pk")
    )
    latest: dict[int, PostMetricSnapshot] = {}
    snapshots = PostMetricSnapshot.objects.filter(
        workspace=workspace, delivery_id__in=[d.pk for d in deliveries]
    ).order_by("delivery_id", "-observed_at", "-pk")
    for snapshot in snapshots.iterator():
        latest.setdefault(snapshot.delivery_id, snapshot)
    rows = []
    for delivery in deliveries:
        reading = latest.get(delivery.pk)
        figures = reading.values if reading is not None else {}
        likes, comments, shares = (figures.get(name) or 0 for name in ("likes", "comments", "shares"))
        seen = figures.get("impressions") or figures.get("reach")
        text = " ".join(delivery.text.split())
        rows.append(
            {
                "text": text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…",
                "channel": {
                    "name": delivery.channel.display_name,
                    "network": delivery.channel.network,
                    "stands_in_for": delivery.channel.stands_in_for,
                },
                "published_at": delivery.published_at.isoformat() if delivery.published_at else None,
                "url": delivery.remote_url,
                "measured": reading is not None,
                "likes": likes,
                "comments": comments,
                "shares": shares,
                "engagements": likes + comments + shares,
                "impressions": seen,
                "rate": round(100.0 * (likes + comments + shares) / seen, 2) if seen else None,
            }
        )
    return rows


def _engagement(posts: list[dict[str, Any]]) -> dict[str, Any]:
    measured = [post for post in posts if post["measured"]]
    with_impressions = [post for post in measured if post["impressions"]]
    impressions = sum(post["impressions"] for post in with_impressions)
    engaged = sum(post["engagements"] for post in with_impressions)
    enough = len(with_impressions) >= ENGAGEMENT_MIN_POSTS and impressions > 0
    return {
        "posts": len(posts),
        "measured": len(measured),
        "likes": sum(post["likes"] for post in measured),
        "comments": sum(post["comments"] for post in measured),
        "shares": sum(post["shares"] for post in measured),
        "engagements": sum(post["engagements"] for post in measured),
        "impressions": impressions if with_impressions else None,
        "rate_posts": len(with_impressions),
        "rate": round(100.0 * engaged / impressions, 2) if enough else None,
    }


def _top_posts(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    measured = [post for post in posts if post["measured"] and post["engagements"] > 0]
    measured.sort(key=lambda post: (-post["engagements"], -(post["impressions"] or 0), post["published_at"] or ""))
    return measured[:TOP_POSTS]


def _stages(workspace: Workspace, period: Period) -> dict[str, dict[str, int]]:
    """Per stage: how many people entered and left it in the period."""
    start, end = _bounds(workspace, period)
    moves = (
        StageTransition.objects.filter(workspace=workspace, at__gte=start, at__lt=end)
        .values("from_stage", "to_stage")
        .annotate(n=Count("id"))
    )
    result: dict[str, dict[str, int]] = {stage: {"entered": 0, "left": 0} for stage in Stage.values}
    for row in moves:
        if row["to_stage"] in result:
            result[row["to_stage"]]["entered"] += row["n"]
        if row["from_stage"] in result:
            result[row["from_stage"]]["left"] += row["n"]
    return result


def _sum(series: dict[str, dict[dt.date, float]], key: str, period: Period) -> float | None:
    values = [value for day, value in series.get(key, {}).items() if period.first <= day <= period.last]
    return float(sum(values)) if values else None


def _last(series: dict[str, dict[dt.date, float]], key: str, period: Period) -> float | None:
    values = sorted((day, value) for day, value in series.get(key, {}).items() if period.first <= day <= period.last)
    return values[-1][1] if values else None


def _daily(series: dict[str, dict[dt.date, float]], key: str, period: Period) -> list[float | None]:
    daily = series.get(key, {})
    return [daily.get(day) for day in period.days]


def build(workspace: Workspace, period: Period, now: dt.datetime | None = None) -> dict[str, Any]:
    """The report's figures for `period` (JSON-serialisable)."""
    now = now or timezone.now()
    previous = period.previous()
    keys = set(TOTAL_KEYS)
    for kpi in KPIS.values():
        keys.update(kpi.inputs)
        keys.add(kpi.sample_key)
    series = read_rollups(workspace, keys - {""}, previous.first, period.last)
    rollup_days = (
        DailyRollup.objects.filter(workspace=workspace, dimension="", day__gte=period.first, day__lte=period.last)
        .values("day")
        .distinct()
        .count()
    )
    posts = _post_figures(workspace, period)
    previous_posts = _post_figures(workspace, previous)
    stages = _stages(workspace, period)
    previous_stages = _stages(workspace, previous)
    pillars = list(ContentPillar.objects.filter(workspace=workspace))
    mix_target = MixTarget.objects.filter(workspace=workspace).first()
    min_value_share = mix_target.min_value_share if mix_target else MixTarget().min_value_share
    mix = dashboard.content_mix(workspace, pillars, min_value_share, period.first, period.last)
    cadences = list(
        Cadence.objects.filter(workspace=workspace).select_related("channel").order_by("channel__display_name")
    )
    cadence = dashboard.cadence_adherence(workspace, cadences, period.last + dt.timedelta(days=1))
    refreshed = dashboard.last_refresh(workspace)

    def pair(key: str, how: Any = _sum) -> dict[str, float | None]:
        return {"value": how(series, key, period), "previous": how(series, key, previous)}

    def answered() -> dict[str, float | None]:
        """Answered conversations: rollups exist only for days with answers, so a computed
        period without any counts 0 (a period never computed stays unknown)."""
        values = pair("inbox.responses")
        for name, span in (("value", period), ("previous", previous)):
            if values[name] is None and _sum(series, "posts.published", span) is not None:
                values[name] = 0.0
        return values

    return {
        "version": VERSION,
        "workspace": {"name": workspace.name, "time_zone": workspace.time_zone},
        "period": {
            "kind": period.kind,
            "first": period.first.isoformat(),
            "last": period.last.isoformat(),
            "previous_first": previous.first.isoformat(),
            "previous_last": previous.last.isoformat(),
        },
        "generated_at": now.isoformat(),
        "refreshed_at": refreshed.isoformat() if refreshed else None,
        "rollup_days": rollup_days,
        "days": [day.isoformat() for day in period.days],
        "kpis": _kpis(series, period, previous),
        "goals": _goals(workspace, period),
        "posts": {
            **pair("posts.published"),
            "daily": _daily(series, "posts.published", period),
            "by_channel": _by_channel(workspace, "posts.published", period),
        },
        "engagement": {**_engagement(posts), "previous": _engagement(previous_posts)},
        "top_posts": _top_posts(posts),
        "inbox": {
            "responses": answered(),
            "response_minutes": {
                "value": _round(_kpi_value(series, "loyalty.response_minutes", period)),
                "previous": _round(_kpi_value(series, "loyalty.response_minutes", previous)),
                "min_sample": KPIS["loyalty.response_minutes"].min_sample,
            },
            "feedback": pair("inbox.feedback"),
            "feedback_answered": pair("inbox.feedback_answered"),
            "triaged": pair("inbox.triaged"),
            "positive": pair("inbox.positive"),
            "negative": pair("inbox.negative"),
        },
        "people": {
            "new": pair("people.new"),
            "returning": pair("people.returning"),
            "advocates": pair("people.advocates", _last),
            "stages": [
                {
                    "stage": stage,
                    "entered": stages[stage]["entered"],
                    "left": stages[stage]["left"],
                    "previous_entered": previous_stages[stage]["entered"],
                }
                for stage in Stage.values
            ],
        },
        "links": {
            "clicks": pair("links.clicks"),
            "conversions": pair("links.conversions"),
            "visits": pair("links.visits"),
            "daily_clicks": _daily(series, "links.clicks", period),
            "by_channel": _by_channel(workspace, "links.clicks", period),
        },
        "mix": {
            "total": mix["total"],
            "pillars": [
                {"name": row.label, "count": row.count, "share": row.share, "target": row.target, "colour": row.colour}
                for row in mix["pillars"]
            ],
            "other_labels": {"count": mix["other_labels"].count, "share": mix["other_labels"].share},
            "without_pillar": {"count": mix["without_pillar"].count, "share": mix["without_pillar"].share},
            "value_count": mix["value"].count,
            "value_share": mix["value"].share,
            "promotion_count": mix["promotion"].count,
            "min_value_share": min_value_share,
            "met": bool(mix["mix_met"]),
        },
        "cadence": [
            {
                "channel": {
                    "name": row.channel.display_name,
                    "network": row.channel.network,
                    "stands_in_for": row.channel.stands_in_for,
                },
                "per_week": row.per_week,
                "weeks": [[monday.isoformat(), count] for monday, count in row.weeks],
                "adherence": row.adherence,
            }
            for row in cadence
        ],
    }


def _kpi_value(series: dict[str, dict[dt.date, float]], key: str, period: Period) -> float | None:
    return evaluate(KPIS[key], series, period.first, period.last).value


def stage_totals(data: dict[str, Any]) -> dict[str, int]:
    """How many people moved into a better or a worse stage (for the summary)."""
    better = {Stage.ENGAGED, Stage.LOYAL, Stage.ADVOCATE}
    worse = {Stage.AT_RISK, Stage.LAPSED}
    totals: dict[str, int] = defaultdict(int)
    for row in data["people"]["stages"]:
        if row["stage"] in better:
            totals["better"] += row["entered"]
        elif row["stage"] in worse:
            totals["worse"] += row["entered"]
    return {"better": totals["better"], "worse": totals["worse"]}
