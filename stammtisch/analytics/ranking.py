"""Top and worst posts of a range, from the per-post rollups (analytics/post_rollups.py): by
engagement rate, link clicks and conversions (docs/strategy.md "Per channel and per post").

Data function: `post_ranking(workspace, first, last, today, channel=None, limit=10)` ->
`Ranking` (the lists, the sample sizes and a table for each list). A handful of indexed queries
over `PostRollup` (workspace, channel, published_at); no snapshots, clicks or conversions.

Honest minimums: a post is ranked by engagement rate only with at least `RANK_MIN_IMPRESSIONS`
impressions (a post seen by 12 people with 3 likes does not have a 25 % rate worth copying);
"did worst" lists only posts published at least `WORST_MIN_AGE_DAYS` days ago (their figures
have settled), only when at least `WORST_MIN_POSTS` such posts exist, and never a post of the top
list. Posts the network reports no impressions for (Mastodon, Telegram) are ranked by clicks
and conversions only.

Each list is ranked on the ids alone (a covering index of `PostRollup` holds every figure it
filters and sorts by), then the few rows are read with their post and channel.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.analytics.models import PostRollup
from stammtisch.analytics.tables import INT, NUMBER, Column, Link, Table
from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel

RANK_MIN_IMPRESSIONS = 100
WORST_MIN_AGE_DAYS = 7
WORST_MIN_POSTS = 10
EXCERPT = 80


def bounds(workspace: Workspace, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The local days [first, last] of the workspace as a UTC-aware [start, end)."""
    tz = workspace.tz
    return (
        dt.datetime.combine(first, dt.time(), tzinfo=tz),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz),
    )


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


@dataclass
class Ranking:
    first: dt.date
    last: dt.date
    channel: Channel | None
    published: int  # posts (deliveries) published in the range
    measured: int  # ... with impressions or reach
    eligible: int  # ... with at least RANK_MIN_IMPRESSIONS
    settled: int  # ... of those, published at least WORST_MIN_AGE_DAYS ago
    by_rate: list[PostRollup]
    by_clicks: list[PostRollup]
    by_conversions: list[PostRollup]
    worst: list[PostRollup]
    tables: list[Table] = field(default_factory=list)

    @property
    def worst_shown(self) -> bool:
        return self.settled >= WORST_MIN_POSTS


def _columns(with_channel: bool) -> list[Column]:
    return [
        Column(_("Post")),
        Column(_("Published")),
        *([Column(_("Channel"))] if with_channel else []),
        Column(_("Impressions"), INT),
        Column(_("Engagements"), INT),
        Column(_("Engagement rate (%)"), NUMBER, 2),
        Column(_("Link clicks"), INT),
        Column(_("Conversions"), INT),
    ]


def _row(workspace: Workspace, item: PostRollup, with_channel: bool) -> list[Any]:
    url = reverse("analytics:delivery_metrics", args=[workspace.slug, item.delivery_id])
    return [
        Link(excerpt(item.post.text) or f"#{item.post_id}", url),
        timezone.localtime(item.published_at, workspace.tz).replace(second=0, microsecond=0),
        *([item.channel.display_name] if with_channel else []),
        item.impressions,
        item.engagements,
        round(item.rate, 2) if item.rate is not None else None,
        item.link_clicks,
        item.conversions,
    ]


def _ids(query: QuerySet[PostRollup], order: tuple[str, ...], limit: int) -> list[int]:
    """The ids of the first `limit` rows: read from the covering index alone (models.py
    `PostRollup`), the rows themselves are read afterwards for these few ids only."""
    return list(query.order_by(*order).values_list("pk", flat=True)[:limit])


def post_ranking(
    workspace: Workspace,
    first: dt.date,
    last: dt.date,
    today: dt.date,
    channel: Channel | None = None,
    limit: int = 10,
) -> Ranking:
    """The posts published in the days [first, last] (of one channel, or all) that did best by
    engagement rate, link clicks and conversions, and those that did worst by engagement rate."""
    start, end = bounds(workspace, first, last)
    base: QuerySet[PostRollup] = PostRollup.objects.filter(
        workspace=workspace, published_at__gte=start, published_at__lt=end
    )
    if channel is not None:
        base = base.filter(channel=channel)
    settled_before = bounds(workspace, today - dt.timedelta(days=WORST_MIN_AGE_DAYS), today)[0]
    counts = base.aggregate(
        published=Count("pk"),
        measured=Count("pk", filter=Q(impressions__gt=0)),
        eligible=Count("pk", filter=Q(impressions__gte=RANK_MIN_IMPRESSIONS)),
        settled=Count("pk", filter=Q(impressions__gte=RANK_MIN_IMPRESSIONS, published_at__lt=settled_before)),
    )
    rated = base.filter(impressions__gte=RANK_MIN_IMPRESSIONS, rate__isnull=False)
    top_rate = _ids(rated, ("-rate", "-impressions", "pk"), limit)
    top_clicks = _ids(base.filter(link_clicks__gt=0), ("-link_clicks", "-published_at", "pk"), limit)
    top_conversions = _ids(base.filter(conversions__gt=0), ("-conversions", "-published_at", "pk"), limit)
    bottom: list[int] = []
    if counts["settled"] >= WORST_MIN_POSTS:
        settled = rated.filter(published_at__lt=settled_before).exclude(pk__in=top_rate)
        bottom = _ids(settled, ("rate", "-impressions", "pk"), limit)
    rows = {
        item.pk: item
        for item in PostRollup.objects.filter(
            workspace=workspace, pk__in={*top_rate, *top_clicks, *top_conversions, *bottom}
        )
        .select_related("post", "channel")
        .defer("post__first_comment")
    }
    by_rate, by_clicks, by_conversions, worst = (
        [rows[pk] for pk in ids] for ids in (top_rate, top_clicks, top_conversions, bottom)
    )
    result = Ranking(
        first,
        last,
        channel,
        counts["published"],
        counts["measured"],
        counts["eligible"],
        counts["settled"],
        by_rate,
        by_clicks,
        by_conversions,
        worst,
    )
    result.tables = _tables(workspace, result)
    return result


def _tables(workspace: Workspace, ranking: Ranking) -> list[Table]:
    with_channel = ranking.channel is None
    columns = _columns(with_channel)

    def rows(items: list[PostRollup]) -> list[list[Any]]:
        return [_row(workspace, item, with_channel) for item in items]

    minimum = {"minimum": RANK_MIN_IMPRESSIONS, "n": ranking.eligible}
    worst_empty: Any
    if ranking.worst_shown:
        worst_empty = _("Every post of this period that could be compared is among the top posts.")
    else:
        worst_empty = _(
            "Not enough data yet: this list needs %(needed)s posts with at least %(minimum)s impressions "
            "published at least %(days)s days ago (%(n)s so far)."
        ) % {
            "needed": WORST_MIN_POSTS,
            "minimum": RANK_MIN_IMPRESSIONS,
            "days": WORST_MIN_AGE_DAYS,
            "n": ranking.settled,
        }
    return [
        Table(
            "top_rate",
            _("Top posts by engagement rate"),
            columns,
            rows(ranking.by_rate),
            note=_("Likes, comments and shares per impression; only posts with at least %(minimum)s impressions.")
            % minimum,
            empty=_("No post with at least %(minimum)s impressions in this period.") % minimum,
        ),
        Table(
            "top_clicks",
            _("Top posts by link clicks"),
            columns,
            rows(ranking.by_clicks),
            note=_("Clicks on the post's short links, bots left out, whenever they happened."),
            empty=_("No link clicks on posts of this period."),
        ),
        Table(
            "top_conversions",
            _("Top posts by conversions"),
            columns,
            rows(ranking.by_conversions),
            note=_("Sign-ups, reservations, purchases and other conversions attributed to the post."),
            empty=_("No conversions attributed to posts of this period."),
        ),
        Table(
            "worst",
            _("Posts that did worst"),
            columns,
            rows(ranking.worst),
            note=_(
                "Lowest engagement rate among posts with at least %(minimum)s impressions published at least "
                "%(days)s days ago, leaving out the top posts."
            )
            % {**minimum, "days": WORST_MIN_AGE_DAYS},
            empty=worst_empty,
        ),
    ]
