""" "Posts that helped" a goal (the goal's page, docs/strategy.md): the posts that carry the goal
(`Post.goal`) and were published in the goal's period, ranked by a per-post figure that measures
what the goal's KPI measures, with the figures shown.

A KPI is computed from daily rollups per workspace; a post's share of it comes from the per-post
rollups (`analytics.PostRollup`, one row per published delivery, computed by the rollup job:
analytics/post_rollups.py), which hold each delivery's clicks, conversions, value, comments and
their sentiment, answered feedback, returning and new people, and likes, comments and shares, as
totals up to the last refresh, and the post's goal. The page sums them per post in one grouped
query over the goal's rows of its period and loads only the ten posts it lists: no clicks,
messages or snapshots are read on page load.

What each KPI is ranked by (`MEASURES`); where a KPI cannot be traced to single posts (new
followers: a follow names no post), the page says what it ranks by instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.strategy.models import Goal

LIMIT = 10  # posts listed as having helped; the rest are counted
# Deliveries published this long before the rollup job's last run may still lack their row (the
# publisher committed them after the job read the deliveries).
UNROLLED_SLACK = dt.timedelta(hours=1)

# The figures a post can show, with their column headings.
FIGURES: dict[str, Any] = {
    "clicks": _("Clicks"),
    "visits": _("Website visits"),
    "conversions": _("Conversions"),
    "value": _("Value"),
    "messages": _("Comments and replies"),
    "positive": _("Positive"),
    "negative": _("Negative"),
    "net": _("Positive minus negative"),
    "feedback": _("Questions and complaints"),
    "answered": _("Answered"),
    "returning": _("Returning people"),
    "new_people": _("New people"),
    "engagement": _("Likes, comments and shares"),
}


@dataclass(frozen=True)
class Measure:
    rank: str  # the figure posts are ranked by; a post helped when it is above 0
    columns: tuple[str, ...]  # the figures shown, the ranking one first
    explanation: Any  # lazy: what "helped" means for this KPI


MEASURES: dict[str, Measure] = {
    "traffic.clicks": Measure(
        "clicks",
        ("clicks", "visits", "conversions"),
        _("Ranked by the clicks on the post's short links (bots left out)."),
    ),
    "traffic.social_visits": Measure(
        "visits",
        ("visits", "clicks", "conversions"),
        _("Ranked by the website visits that came from the post's short links."),
    ),
    "acquisition.conversions": Measure(
        "conversions",
        ("conversions", "value", "clicks"),
        _("Ranked by the conversions (sign-ups, reservations, purchases, …) attributed to the post."),
    ),
    "acquisition.new_people": Measure(
        "new_people",
        ("new_people", "messages"),
        _("Ranked by the people whose first contact with you was a comment or reply under the post."),
    ),
    "acquisition.new_followers": Measure(
        "engagement",
        ("engagement", "clicks"),
        _(
            "A follow names no post, so new followers cannot be traced to single posts: ranked by the "
            "likes, comments and shares the networks report for the post instead."
        ),
    ),
    "image.net_sentiment": Measure(
        "net",
        ("net", "positive", "negative", "messages"),
        _("Ranked by the positive minus the negative comments and replies under the post (spam left out)."),
    ),
    "image.positive_share": Measure(
        "positive",
        ("positive", "negative", "messages"),
        _("Ranked by the positive comments and replies under the post (spam left out)."),
    ),
    "image.negative_share": Measure(
        "net",
        ("net", "positive", "negative", "messages"),
        _("Ranked by the positive minus the negative comments and replies under the post (spam left out)."),
    ),
    "loyalty.returning_engagers": Measure(
        "returning",
        ("returning", "messages"),
        _("Ranked by the people who wrote under the post and had been seen on an earlier day."),
    ),
    "loyalty.advocates": Measure(
        "returning",
        ("returning", "messages"),
        _("Ranked by the people who wrote under the post and had been seen on an earlier day."),
    ),
    "loyalty.answered_feedback": Measure(
        "answered",
        ("answered", "feedback"),
        _("Ranked by the questions and complaints under the post that got an answer."),
    ),
    "loyalty.response_minutes": Measure(
        "answered",
        ("answered", "feedback"),
        _("Ranked by the questions and complaints under the post that got an answer."),
    ),
}
MEASURES["seo.social_referral_visits"] = MEASURES["traffic.social_visits"]  # the same visits, for SEO goals
# A KPI not named above (a new one) is ranked by its reason's figure.
BY_KIND: dict[str, Measure] = {
    "traffic": MEASURES["traffic.clicks"],
    "acquisition": MEASURES["acquisition.conversions"],
    "image": MEASURES["image.net_sentiment"],
    "loyalty": MEASURES["loyalty.returning_engagers"],
    "seo": Measure(
        "visits",
        ("visits", "clicks"),
        _("Search figures cannot be traced to posts: ranked by the website visits from the post's short links."),
    ),
}


def measure_for(kpi_key: str) -> Measure:
    from stammtisch.analytics.kpis import KPIS

    if kpi_key in MEASURES:
        return MEASURES[kpi_key]
    kpi = KPIS.get(kpi_key)
    return BY_KIND.get(kpi.kind if kpi is not None else "", MEASURES["traffic.clicks"])


@dataclass
class PostRow:
    post: Any  # publishing.Post (loaded for the posts listed only)
    published_at: dt.datetime
    channels: list[str]
    figures: dict[str, float | Decimal] = field(default_factory=dict)
    cells: list[tuple[str, float | Decimal | None]] = field(default_factory=list)  # (column, value) to show


@dataclass
class Helped:
    measure: Measure
    columns: list[tuple[str, Any]]  # (figure, heading)
    rows: list[PostRow]  # the posts that helped, best first, at most LIMIT
    more: int  # further posts that helped, not listed
    without: int  # posts of the period whose ranking figure is 0 (or below)
    tagged: int  # every post that carries the goal
    published: int  # of those, published in the goal's period
    start: dt.date
    end: dt.date

    def table(self, workspace: Any) -> Any:
        """The listed posts as a dashboard table (analytics/tables.py), for the page's CSV and
        XLSX export (`?export=helped&format=csv|xlsx`): the post's text, its first publishing day
        in the workspace's zone, its channels and the figures shown."""
        from django.urls import reverse

        from stammtisch.analytics.tables import DATE, INT, NUMBER, TEXT, Column, Link, Table

        columns = [Column(_("Post"), TEXT), Column(_("Published"), DATE), Column(_("Channels"), TEXT)]
        columns += [
            Column(heading, NUMBER, 2) if name == "value" else Column(heading, INT) for name, heading in self.columns
        ]
        rows = []
        for row in self.rows:
            url = reverse("publishing:post", kwargs={"slug": workspace.slug, "post_id": row.post.pk})
            published = timezone.localtime(row.published_at, workspace.tz).date()
            figures = [float(value) if isinstance(value, Decimal) else value for _name, value in row.cells]
            rows.append([Link(row.post.text, url), published, ", ".join(row.channels), *figures])
        return Table("helped", _("Posts that helped"), columns, rows)


def _period(goal: Goal) -> tuple[dt.datetime, dt.datetime]:
    """From the start of the goal's first day to the end of its deadline (the workspace's days);
    nothing after now exists yet."""
    tz = goal.workspace.tz
    start = dt.datetime.combine(goal.start, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(goal.deadline + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return start, end


# Each figure as the sum of a `PostRollup` column over the post's deliveries ("net" is positive
# minus negative).
COLUMN_OF = {
    "clicks": "link_clicks",
    "visits": "visits",
    "conversions": "conversions",
    "value": "value",
    "messages": "messages",
    "positive": "positive",
    "negative": "negative",
    "feedback": "feedback",
    "answered": "answered",
    "returning": "returning",
    "new_people": "new_people",
    "engagement": "interactions",
}


def for_goal(goal: Goal, now: dt.datetime | None = None) -> Helped:
    """The posts with `goal` published in its period, ranked by the goal's KPI's per-post figure:
    ranked and counted in the database (grouped per post over the goal's per-post rollups), only
    the ten listed posts are loaded."""
    from stammtisch.analytics.models import PostRollup, RollupState
    from stammtisch.publishing.models import Delivery, Post

    now = now or timezone.now()
    measure = measure_for(goal.kpi)
    start, end = _period(goal)
    shown_figures = tuple(dict.fromkeys((measure.rank, *measure.columns)))  # the ranked one first, once
    sums: dict[str, Any] = {}
    for name in shown_figures:
        if name == "net":
            sums[name] = Coalesce(Sum("positive"), 0) - Coalesce(Sum("negative"), 0)
        elif name == "value":  # a value no conversion reported is unknown, not 0
            sums[name] = Sum(COLUMN_OF[name])
        else:
            sums[name] = Coalesce(Sum(COLUMN_OF[name]), 0)
    in_period = PostRollup.objects.filter(
        workspace_id=goal.workspace_id, goal=goal, published_at__gte=start, published_at__lt=end
    )
    grouped = in_period.values("post_id").annotate(first_published=Min("published_at"), **sums).order_by()
    helped_filter = Q(**{f"{measure.rank}__gt": 0})
    counts = grouped.aggregate(measured=Count("post_id"), helped=Count("post_id", filter=helped_filter))
    order = [F(name).desc(nulls_last=True) for name in shown_figures]  # newer first among equals
    best = list(grouped.filter(helped_filter).order_by(*order, "-first_published", "-post_id")[:LIMIT])

    # A post published since the rollup job's last run has no figures yet, but it was published
    # (and "shows none of this yet"): only the deliveries published since then are looked at.
    refreshed_at = (
        RollupState.objects.filter(workspace_id=goal.workspace_id).values_list("refreshed_at", flat=True).first()
    )
    since = max(start, refreshed_at - UNROLLED_SLACK) if refreshed_at is not None else start
    recent = set(
        Delivery.objects.filter(
            state=Delivery.State.PUBLISHED,
            published_at__gte=since,
            published_at__lt=end,
            post__workspace=goal.workspace_id,
            post__goal=goal,
            rollup__isnull=True,
        ).values_list("post_id", flat=True)
    )
    unrolled = len(recent - set(in_period.filter(post_id__in=recent).values_list("post_id", flat=True)))
    published = counts["measured"] + unrolled

    posts = Post.objects.in_bulk([item["post_id"] for item in best])
    listed: dict[int, PostRow] = {}
    for item in best:
        row = PostRow(posts[item["post_id"]], item["first_published"], [])
        row.figures = {name: item[name] for name in shown_figures if item[name] is not None}
        row.cells = [(column, item[column]) for column in measure.columns]
        listed[item["post_id"]] = row
    # The listed posts' deliveries (a few); the state is checked here, so that the database looks
    # them up by post and does not scan every published delivery for the state.
    shown = Delivery.objects.filter(post_id__in=list(listed)).select_related("channel")
    shown = shown.only("post_id", "state", "channel__display_name", "channel__network", "channel__stands_in_for")
    for delivery in shown.order_by("channel__display_name", "pk"):
        if delivery.state != Delivery.State.PUBLISHED:
            continue
        channel = delivery.channel
        network = channel.stands_in_for_label or channel.get_network_display()
        listed[delivery.post_id].channels.append(f"{channel.display_name} ({network})")
    return Helped(
        measure=measure,
        columns=[(column, FIGURES[column]) for column in measure.columns],
        rows=list(listed.values()),
        more=max(0, counts["helped"] - LIMIT),
        without=published - counts["helped"],
        tagged=Post.objects.filter(workspace=goal.workspace_id, goal=goal).count(),
        published=published,
        start=goal.start,
        end=max(goal.start, min(goal.deadline, timezone.localtime(now, goal.workspace.tz).date())),
    )
