"""One `PostRollup` row per published delivery: what the per-post and per-channel dashboards rank
and sum (docs/strategy.md "Per channel and per post").

Computed by the rollup job (analytics/rollups.py), never on page load:

* after the "posts" group, for the deliveries published in the refreshed days (`refresh`): their
  latest metric snapshot is read up to 28 days after publishing, so these days are recomputed
  for 30 days;
* after the "links" group, for the deliveries published before the posts group's days whose post
  got a click or a conversion, or which got an incoming message or a first answer, in the
  refreshed days (`refresh_touched`): a link may still be clicked, and a comment written, after
  the post's figures have settled.

A row holds the delivery's latest snapshot (impressions, else reach; likes + comments + shares;
the clicks the network reports), the clicks on its short links (bots left out) and the
conversions attributed to it (a click, link or post of that post on that channel) with their
value, its engagement rate, the post's goal, and its dialog: comments and replies with their
sentiment, question and complaint conversations and how many were answered, returning and new
people among those who wrote (`_dialog_counts`). Figures are totals up to the refresh, like the
network's own per-post counts. Recomputing replaces the rows in one transaction (idempotent).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from stammtisch.analytics.models import PostMetricSnapshot, PostRollup
from stammtisch.core.models import Workspace
from stammtisch.publishing.models import Delivery

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


def _link_counts(workspace: Workspace, post_ids: list[int]) -> dict[tuple[int, int], list[Any]]:
    """(post, channel) -> [clicks, conversions, visits, value of the conversions or None]."""
    from stammtisch.links.models import Click, Conversion

    counts: dict[tuple[int, int], list[Any]] = defaultdict(lambda: [0, 0, 0, None])
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
            .annotate(
                n=Count("id", filter=~Q(kind="visit")),
                visits=Count("id", filter=Q(kind="visit")),
                value=Sum("value", filter=~Q(kind="visit")),
            )
        )
        for row in conversions:
            cell = counts[row["post_id"], row["channel_id"]]
            cell[1] += row["n"]
            cell[2] += row["visits"]
            if row["value"] is not None:
                cell[3] = (cell[3] or 0) + row["value"]
    return counts


# Messages stored this long after they were written still reach the dialog figures of a post's
# row (`refresh_touched`); later ones only through a backfill (docs/strategy.md "Rollups").
DIALOG_SLACK = dt.timedelta(hours=1)

# The per-delivery figures from the inbox and the audience, in `PostRollup`'s field names.
DIALOG_FIGURES = ("messages", "positive", "negative", "feedback", "answered", "returning", "new_people")


def _dialog_counts(workspace: Workspace, delivery_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """delivery -> the figures of `DIALOG_FIGURES`: incoming comments and replies under the
    delivery (spam and deleted ones left out, as the inbox rollups count them) with their
    sentiment; its question and complaint conversations and how many of them have a first
    response; and among the people who wrote those messages, the returning ones (first seen on an
    earlier local day than the message, as `people.returning` counts them) and the new ones (the
    message was their first contact)."""
    from stammtisch.audience.models import Engagement
    from stammtisch.inbox.models import Conversation, Message

    from .rollups import FEEDBACK_INTENTS

    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DIALOG_FIGURES, 0))
    tz = workspace.tz
    for chunk in _chunks(sorted(delivery_ids)):
        scope = Delivery.objects.filter(pk__in=chunk)
        incoming = Message.objects.filter(
            workspace=workspace,
            conversation__delivery__in=scope,
            direction=Message.Direction.IN,
            deleted_at__isnull=True,
        ).exclude(intent="spam")
        for row in incoming.values("conversation__delivery_id").annotate(
            n=Count("pk"),
            positive=Count("pk", filter=Q(sentiment="positive")),
            negative=Count("pk", filter=Q(sentiment="negative")),
        ):
            cell = counts[row["conversation__delivery_id"]]
            cell["messages"] += row["n"]
            cell["positive"] += row["positive"]
            cell["negative"] += row["negative"]
        feedback = (
            Conversation.objects.filter(workspace=workspace, delivery__in=scope, intent__in=FEEDBACK_INTENTS)
            .values("delivery_id")
            .annotate(n=Count("pk"), answered=Count("pk", filter=Q(first_response_at__isnull=False)))
        )
        for row in feedback:
            counts[row["delivery_id"]]["feedback"] += row["n"]
            counts[row["delivery_id"]]["answered"] += row["answered"]
        # The people who wrote them, counted per delivery in the database: returning when first
        # seen on an earlier local day than their message, new when the message was their first
        # contact (one per person and delivery).
        writers = (
            Engagement.objects.filter(
                workspace=workspace,
                source=Engagement.Source.MESSAGE,
                source_id__in=incoming.values("pk"),
                person__first_seen__isnull=False,
            )
            .exclude(kind__in=["answered", "unfollow"])
            .annotate(
                delivery_id=Subquery(
                    Message.objects.filter(pk=OuterRef("source_id")).values("conversation__delivery_id")
                ),
                day=TruncDate("occurred_at", tzinfo=tz),
                first_day=TruncDate("person__first_seen", tzinfo=tz),
            )
            .values("delivery_id")
            .annotate(
                returning=Count("person_id", distinct=True, filter=Q(first_day__lt=F("day"))),
                new=Count("person_id", distinct=True, filter=Q(person__first_seen=F("occurred_at"))),
            )
            .order_by()
        )
        for row in writers:
            if row["delivery_id"] is not None:
                counts[row["delivery_id"]]["returning"] = row["returning"]
                counts[row["delivery_id"]]["new_people"] = row["new"]
    return counts


def _rows(
    workspace: Workspace, deliveries: list[dict[str, Any]], carried: dict[int, dict[str, int]] | None = None
) -> list[PostRollup]:
    """The rows of `deliveries`. The dialog figures of the deliveries in `carried` are taken from
    there (their rows as stored: nothing new since, `refresh`); the others' are counted."""
    delivery_ids = [d["pk"] for d in deliveries]
    latest = _latest_snapshots(workspace, delivery_ids)
    links = _link_counts(workspace, sorted({d["post_id"] for d in deliveries}))
    carried = carried or {}
    dialog = {**_dialog_counts(workspace, set(delivery_ids) - set(carried)), **carried}
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
        clicks, conversions, visits, value = links.get((delivery["post_id"], delivery["channel_id"]), (0, 0, 0, None))
        rows.append(
            PostRollup(
                workspace=workspace,
                delivery_id=delivery["pk"],
                post_id=delivery["post_id"],
                channel_id=delivery["channel_id"],
                goal_id=delivery["post__goal_id"],
                published_at=delivery["published_at"],
                weekday=local.weekday(),
                hour=local.hour,
                observed_at=observed_at,
                impressions=impressions,
                engagements=engagements if impressions is not None else None,
                interactions=engagements,
                network_clicks=network_clicks,
                link_clicks=clicks,
                conversions=conversions,
                visits=visits,
                value=value,
                rate=engagement_rate(engagements, impressions),
                **dialog.get(delivery["pk"], {}),
            )
        )
    return rows


def _published(workspace: Workspace) -> Any:
    return Delivery.objects.filter(
        post__workspace=workspace, state=Delivery.State.PUBLISHED, published_at__isnull=False
    ).values("pk", "post_id", "channel_id", "published_at", "post__goal_id")


def refresh(span: Span) -> int:
    """Recompute the rows of the deliveries published in the local days of `span`
    (analytics/rollups.py `Span`); rows of deliveries no longer published there disappear."""
    workspace = span.workspace
    deliveries = list(_published(workspace).filter(published_at__gte=span.start, published_at__lt=span.end))
    carried: dict[int, dict[str, int]] = {}
    if _backfilled(workspace):  # else every row is counted afresh (a backfill, a migration's)
        stored = PostRollup.objects.filter(
            workspace=workspace, published_at__gte=span.start, published_at__lt=span.end
        ).values_list("delivery_id", *DIALOG_FIGURES)
        carried = {row[0]: dict(zip(DIALOG_FIGURES, row[1:], strict=True)) for row in stored}
    rows = _rows(workspace, deliveries, carried)
    with transaction.atomic():
        PostRollup.objects.filter(workspace=workspace, published_at__gte=span.start, published_at__lt=span.end).delete()
        for chunk in _chunks([d["pk"] for d in deliveries]):
            PostRollup.objects.filter(delivery_id__in=chunk).delete()
        PostRollup.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _backfilled(workspace: Workspace) -> bool:
    from stammtisch.analytics.models import RollupState

    return RollupState.objects.filter(workspace=workspace, backfilled=True).exists()


def _talked_to(workspace: Workspace, since: dt.datetime, until: dt.datetime) -> set[int]:
    """Deliveries with an incoming message or a first answer in [since, until)."""
    from stammtisch.inbox.models import Conversation, Message

    found = set(
        Message.objects.filter(
            workspace=workspace,
            direction=Message.Direction.IN,
            occurred_at__gte=since,
            occurred_at__lt=until,
            conversation__delivery__isnull=False,
        )
        .values_list("conversation__delivery_id", flat=True)
        .distinct()
    )
    found |= set(
        Conversation.objects.filter(
            workspace=workspace, delivery__isnull=False, first_response_at__gte=since, first_response_at__lt=until
        ).values_list("delivery_id", flat=True)
    )
    return found


def refresh_touched(span: Span, recomputed_from: dt.datetime | None = None) -> int:
    """After new events in the local days of `span`:

    * the rows of the deliveries published before the posts group's own days (`recomputed_from`;
      else the span's start) that got a click on their post's links or a conversion attributed to
      it, an incoming message or a first answer in the span are recomputed (their figures keep
      coming after the post's own figures have settled);
    * the dialog figures of the newer deliveries that got an incoming message or a first answer
      since the job's last run (an hour's slack for messages synced late; the whole span the
      first time) are counted again: the posts group carries the others' over (`refresh`).

    Returns the number of rows written or updated."""
    from stammtisch.analytics.models import RollupState
    from stammtisch.links.models import Click, Conversion

    workspace = span.workspace
    before = min(span.start, recomputed_from) if recomputed_from is not None else span.start
    window = {"workspace": workspace, "occurred_at__gte": span.start, "occurred_at__lt": span.end}
    post_ids = set(Click.objects.filter(post__isnull=False, **window).values_list("post_id", flat=True).distinct())
    post_ids |= set(
        Conversion.objects.filter(post__isnull=False, **window).values_list("post_id", flat=True).distinct()
    )
    talked_to = _talked_to(workspace, span.start, span.end)
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(post_ids)):
        found.update((d["pk"], d) for d in _published(workspace).filter(post_id__in=chunk, published_at__lt=before))
    for chunk in _chunks(sorted(talked_to - set(found))):
        found.update((d["pk"], d) for d in _published(workspace).filter(pk__in=chunk, published_at__lt=before))
    deliveries = list(found.values())
    rows = _rows(workspace, deliveries)
    with transaction.atomic():
        for chunk in _chunks([d["pk"] for d in deliveries]):
            PostRollup.objects.filter(delivery_id__in=chunk).delete()
        PostRollup.objects.bulk_create(rows, batch_size=1000)

    state = RollupState.objects.filter(workspace=workspace, backfilled=True).first()
    if state is None:
        return len(rows)  # the first run: the posts group counts every row afresh
    since = span.start
    if state.refreshed_at is not None:
        since = max(since, state.refreshed_at - DIALOG_SLACK)
    newer = _talked_to(workspace, since, span.end) - set(found)
    dialog = _dialog_counts(workspace, newer)
    updated = []
    for chunk in _chunks(sorted(newer)):
        for item in PostRollup.objects.filter(delivery_id__in=chunk, published_at__gte=before):
            for name, value in dialog.get(item.delivery_id, dict.fromkeys(DIALOG_FIGURES, 0)).items():
                setattr(item, name, value)
            updated.append(item)
    with transaction.atomic():  # replaced rather than updated: an UPDATE per row is much slower
        for chunk in _chunks([item.delivery_id for item in updated]):
            PostRollup.objects.filter(delivery_id__in=chunk).delete()
        PostRollup.objects.bulk_create(updated, batch_size=1000)
    return len(rows) + len(updated)


def set_goal(post_id: int, goal_id: int | None) -> None:
    """The post's goal changed (publishing.actions `do_set_post_goal`): its rows follow at once."""
    PostRollup.objects.filter(post_id=post_id).update(goal_id=goal_id)
