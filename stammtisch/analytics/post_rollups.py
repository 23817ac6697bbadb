"""One `PostRollup` row per published delivery: what the per-post and per-channel dashboards rank
and sum (docs/strategy.md "Per channel and per post").

Computed by the rollup job (analytics/rollups.py), never on page load:

* after the "posts" group, for the deliveries published in the refreshed days (`refresh`): their
  latest metric snapshot is read up to 28 days after publishing, so these days are recomputed
  for 30 days;
* after the "links" group, for the deliveries whose post got a click or a conversion in the
  refreshed days (`refresh_clicked`): a link may still be clicked after the post's figures have
  settled.

A row holds the delivery's latest snapshot (impressions, else reach; likes + comments + shares;
the clicks the network reports), the clicks on its short links (bots left out) and the
conversions attributed to it (a click, link or post of that post on that channel), and its
engagement rate. Recomputing replaces the rows in one transaction (idempotent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from stammtisch.analytics.models import PostMetricSnapshot, PostRollup
from stammtisch.core.models import Workspace

if TYPE_CHECKING:
    from stammtisch.analytics.rollups import Span

CHUNK = 500  # ids per IN (...) list


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for n in range(0, len(ids), CHUNK):
        yield ids[n : n + CHUNK]


def engagement_rate(engagements: float | None, impressions: float | None) -> float | None:
    """Engagements per impression, in % (None: not measured)."""
    if engagements is None or not impressions:
        return None
    return 100.0 * engagements / impressions


def _latest_snapshots(workspace: Workspace, delivery_ids: list[int]) -> dict[int, PostMetricSnapshot]:
    latest: dict[int, PostMetricSnapshot] = {}
    for chunk in _chunks(delivery_ids):
        snapshots = PostMetricSnapshot.objects.filter(workspace=workspace, delivery_id__in=chunk).order_by(
            "delivery_id", "-observed_at", "-pk"
        )
        for snapshot in snapshots.iterator(chunk_size=2000):
            latest.setdefault(snapshot.delivery_id, snapshot)
    return latest


def _link_counts(workspace: Workspace, post_ids: list[int]) -> dict[tuple[int, int], list[int]]:
    """(post, channel) -> [clicks, conversions, visits]."""
    from stammtisch.links.models import Click, Conversion

    counts: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for chunk in _chunks(post_ids):
        clicks = (
            Click.objects.filter(workspace=workspace, is_bot=False, post_id__in=chunk, channel__isnull=False)
            .values("post_id", "channel_id")
            .annotate(n=Count("id"))
        )
        for row in clicks:
            counts[row["post_id"], row["channel_id"]][0] += row["n"]
        conversions = (
            Conversion.objects.filter(workspace=workspace, post_id__in=chunk, channel__isnull=False)
            .values("post_id", "channel_id")
            .annotate(n=Count("id", filter=~Q(kind="visit")), visits=Count("id", filter=Q(kind="visit")))
        )
        for row in conversions:
            cell = counts[row["post_id"], row["channel_id"]]
            cell[1] += row["n"]
            cell[2] += row["visits"]
    return counts


def _rows(workspace: Workspace, deliveries: list[dict[str, Any]]) -> list[PostRollup]:
    latest = _latest_snapshots(workspace, [d["pk"] for d in deliveries])
    links = _link_counts(workspace, sorted({d["post_id"] for d in deliveries}))
    rows = []
    for delivery in deliveries:
        local = timezone.localtime(delivery["published_at"], workspace.tz)
        snapshot = latest.get(delivery["pk"])
        impressions = engagements = network_clicks = None
        observed_at = None
        if snapshot is not None:
            observed_at = snapshot.observed_at
            impressions = snapshot.impressions or snapshot.reach or None
            engagements = sum(getattr(snapshot, name) or 0 for name in ("likes", "comments", "shares"))
            network_clicks = snapshot.clicks
        clicks, conversions, visits = links.get((delivery["post_id"], delivery["channel_id"]), (0, 0, 0))
        rows.append(
            PostRollup(
                workspace=workspace,
                delivery_id=delivery["pk"],
                post_id=delivery["post_id"],
                channel_id=delivery["channel_id"],
                published_at=delivery["published_at"],
                weekday=local.weekday(),
                hour=local.hour,
                observed_at=observed_at,
                impressions=impressions,
                engagements=engagements if impressions is not None else None,
                network_clicks=network_clicks,
                link_clicks=clicks,
                conversions=conversions,
                visits=visits,
                rate=engagement_rate(engagements, impressions),
            )
        )
    return rows


def _published(workspace: Workspace) -> Any:
    from stammtisch.publishing.models import Delivery

    return Delivery.objects.filter(
        post__workspace=workspace, state=Delivery.State.PUBLISHED, published_at__isnull=False
    ).values("pk", "post_id", "channel_id", "published_at")


def refresh(span: Span) -> int:
    """Recompute the rows of the deliveries published in the local days of `span`
    (analytics/rollups.py `Span`); rows of deliveries no longer published there disappear."""
    workspace = span.workspace
    deliveries = list(_published(workspace).filter(published_at__gte=span.start, published_at__lt=span.end))
    rows = _rows(workspace, deliveries)
    with transaction.atomic():
        PostRollup.objects.filter(workspace=workspace, published_at__gte=span.start, published_at__lt=span.end).delete()
        for chunk in _chunks([d["pk"] for d in deliveries]):
            PostRollup.objects.filter(delivery_id__in=chunk).delete()
        PostRollup.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def refresh_clicked(span: Span) -> int:
    """Recompute the rows of the deliveries whose post got a click or an attributed conversion in
    the local days of `span` (published earlier: their clicks keep coming)."""
    from stammtisch.links.models import Click, Conversion

    workspace = span.workspace
    window = {"workspace": workspace, "occurred_at__gte": span.start, "occurred_at__lt": span.end}
    post_ids = set(Click.objects.filter(post__isnull=False, **window).values_list("post_id", flat=True).distinct())
    post_ids |= set(
        Conversion.objects.filter(post__isnull=False, **window).values_list("post_id", flat=True).distinct()
    )
    deliveries: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(post_ids)):
        deliveries += list(_published(workspace).filter(post_id__in=chunk, published_at__lt=span.start))
    rows = _rows(workspace, deliveries)
    with transaction.atomic():
        for chunk in _chunks([d["pk"] for d in deliveries]):
            PostRollup.objects.filter(delivery_id__in=chunk).delete()
        PostRollup.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
