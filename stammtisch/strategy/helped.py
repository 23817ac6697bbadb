""" "Posts that helped" a goal (the goal's page, docs/strategy.md): the posts that carry the goal
(`Post.goal`) and were published in the goal's period, ranked by a per-post figure that measures
what the goal's KPI measures, with the figures shown.

A KPI is computed from daily rollups per workspace; a post's share of it is not in any rollup, so
these figures are read from the rows that name the post: clicks and conversions (links), incoming
messages and conversations under the post's deliveries (inbox), the people who wrote them
(audience engagements), and the latest metric snapshot of each delivery (analytics). Only the
posts of this one goal are read. Events count from the goal's start to its deadline.

What each KPI is ranked by (`MEASURES`); where a KPI cannot be traced to single posts (new
followers: a follow names no post), the page says what it ranks by instead.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.strategy.models import Goal

LIMIT = 10  # posts listed as having helped; the rest are counted

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


def _period(goal: Goal) -> tuple[dt.datetime, dt.datetime]:
    """From the start of the goal's first day to the end of its deadline (the workspace's days);
    nothing after now exists yet."""
    tz = goal.workspace.tz
    start = dt.datetime.combine(goal.start, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(goal.deadline + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return start, end


def for_goal(goal: Goal, now: dt.datetime | None = None) -> Helped:
    """The posts with `goal` published in its period, ranked by the goal's KPI's per-post figure."""
    from stammtisch.publishing.models import Delivery, Post

    now = now or timezone.now()
    measure = measure_for(goal.kpi)
    start, end = _period(goal)
    tagged = Post.objects.filter(workspace=goal.workspace_id, goal=goal)
    # Ranked from ids and figures; only the posts listed are loaded as objects with their
    # channels' names (a goal's period can hold thousands of posts: bench dashboard).
    published = (
        tagged.filter(
            deliveries__state=Delivery.State.PUBLISHED,
            deliveries__published_at__gte=start,
            deliveries__published_at__lt=end,
        )
        .annotate(first_published=Min("deliveries__published_at"))
        .order_by("-first_published", "-pk")
        .values_list("pk", "first_published")
    )
    rows = {pk: PostRow(None, first_published, []) for pk, first_published in published}
    published_deliveries = Delivery.objects.filter(post_id__in=list(rows), state=Delivery.State.PUBLISHED)
    deliveries: dict[int, int] = dict(published_deliveries.values_list("pk", "post_id"))  # delivery id -> post id
    needed = {measure.rank, *measure.columns}
    for name, values in _figures(goal, needed, list(rows), deliveries, start, end).items():
        for post_id, value in values.items():
            rows[post_id].figures[name] = value
    for row in rows.values():  # a value no conversion reported is unknown, not 0
        row.cells = [(column, row.figures.get(column, None if column == "value" else 0)) for column in measure.columns]

    def score(row: PostRow) -> tuple[float, ...]:
        return tuple(float(row.figures.get(column) or 0) for column in (measure.rank, *measure.columns))

    ranked = sorted(rows.items(), key=lambda item: score(item[1]), reverse=True)  # stable: newer first among equals
    helped = [(pk, row) for pk, row in ranked if float(row.figures.get(measure.rank) or 0) > 0]
    listed = dict(helped[:LIMIT])
    posts = Post.objects.in_bulk(list(listed))
    for pk, row in listed.items():
        row.post = posts[pk]
    shown = published_deliveries.filter(post_id__in=list(listed)).select_related("channel")
    shown = shown.only("post_id", "channel__display_name", "channel__network", "channel__stands_in_for")
    for delivery in shown.order_by("channel__display_name", "pk"):
        channel = delivery.channel
        network = channel.stands_in_for_label or channel.get_network_display()
        listed[delivery.post_id].channels.append(f"{channel.display_name} ({network})")
    return Helped(
        measure=measure,
        columns=[(column, FIGURES[column]) for column in measure.columns],
        rows=list(listed.values()),
        more=max(0, len(helped) - LIMIT),
        without=len(rows) - len(helped),
        tagged=tagged.count(),
        published=len(rows),
        start=goal.start,
        end=max(goal.start, min(goal.deadline, timezone.localtime(now, goal.workspace.tz).date())),
    )


def _figures(
    goal: Goal, needed: set[str], post_ids: list[int], deliveries: dict[int, int], start: dt.datetime, end: dt.datetime
) -> dict[str, dict[int, Any]]:
    """The figures named in `needed` for the posts, each by post id (posts without any left out)."""
    out: dict[str, dict[int, Any]] = defaultdict(dict)
    if not post_ids:
        return out
    workspace_id = goal.workspace_id
    if needed & {"clicks"}:
        from stammtisch.links.models import Click

        clicks = Click.objects.filter(
            workspace_id=workspace_id, post_id__in=post_ids, is_bot=False, occurred_at__gte=start, occurred_at__lt=end
        )
        for row in clicks.values("post_id").annotate(n=Count("pk")):
            out["clicks"][row["post_id"]] = row["n"]
    if needed & {"visits", "conversions", "value"}:
        from stammtisch.links.models import Conversion

        other = ~Q(kind=Conversion.Kind.VISIT)
        conversions = Conversion.objects.filter(
            workspace_id=workspace_id, post_id__in=post_ids, occurred_at__gte=start, occurred_at__lt=end
        )
        for row in conversions.values("post_id").annotate(
            visits=Count("pk", filter=Q(kind=Conversion.Kind.VISIT)),
            conversions=Count("pk", filter=other),
            value=Sum("value", filter=other),
        ):
            out["visits"][row["post_id"]] = row["visits"]
            out["conversions"][row["post_id"]] = row["conversions"]
            if row["value"] is not None:
                out["value"][row["post_id"]] = row["value"]
    if needed & {"messages", "positive", "negative", "net"}:
        _message_figures(workspace_id, deliveries, start, end, out)
    if needed & {"feedback", "answered"}:
        _feedback_figures(workspace_id, deliveries, start, end, out)
    if needed & {"returning", "new_people"}:
        _people_figures(goal, deliveries, start, end, out)
    if needed & {"engagement"}:
        _engagement_figures(workspace_id, deliveries, out)
    return out


def _incoming(workspace_id: int, deliveries: Iterable[int], start: dt.datetime, end: dt.datetime) -> Any:
    """Incoming, not deleted, not spam messages under the deliveries (comments and replies), as
    the inbox rollups count them."""
    from stammtisch.inbox.models import Message

    return Message.objects.filter(
        workspace_id=workspace_id,
        conversation__delivery_id__in=list(deliveries),
        direction=Message.Direction.IN,
        deleted_at__isnull=True,
        occurred_at__gte=start,
        occurred_at__lt=end,
    ).exclude(intent="spam")


def _message_figures(
    workspace_id: int, deliveries: dict[int, int], start: dt.datetime, end: dt.datetime, out: dict[str, dict[int, Any]]
) -> None:
    counts = (
        _incoming(workspace_id, deliveries, start, end)
        .values("conversation__delivery_id")
        .annotate(
            n=Count("pk"),
            positive=Count("pk", filter=Q(sentiment="positive")),
            negative=Count("pk", filter=Q(sentiment="negative")),
        )
    )
    for row in counts:
        post_id = deliveries[row["conversation__delivery_id"]]
        for name, value in (("messages", row["n"]), ("positive", row["positive"]), ("negative", row["negative"])):
            out[name][post_id] = out[name].get(post_id, 0) + value
    for post_id in set(out["positive"]) | set(out["negative"]):
        out["net"][post_id] = out["positive"].get(post_id, 0) - out["negative"].get(post_id, 0)


def _feedback_figures(
    workspace_id: int, deliveries: dict[int, int], start: dt.datetime, end: dt.datetime, out: dict[str, dict[int, Any]]
) -> None:
    """Conversations under the post whose intent is a question or complaint, received in the
    period (first incoming message), and how many of them have a first response."""
    from stammtisch.analytics.rollups import FEEDBACK_INTENTS
    from stammtisch.inbox.models import Conversation, Message

    rows = (
        Conversation.objects.filter(
            workspace_id=workspace_id, delivery_id__in=list(deliveries), intent__in=FEEDBACK_INTENTS
        )
        .annotate(received=Min("messages__occurred_at", filter=Q(messages__direction=Message.Direction.IN)))
        .filter(received__gte=start, received__lt=end)
        .values_list("delivery_id", "first_response_at")
    )
    for delivery_id, answered in rows:
        post_id = deliveries[delivery_id]
        out["feedback"][post_id] = out["feedback"].get(post_id, 0) + 1
        if answered is not None:
            out["answered"][post_id] = out["answered"].get(post_id, 0) + 1


def _people_figures(
    goal: Goal, deliveries: dict[int, int], start: dt.datetime, end: dt.datetime, out: dict[str, dict[int, Any]]
) -> None:
    """The people who wrote under the post: returning (first seen on an earlier local day, as the
    `people.returning` rollup counts them) and new (their first contact ever was here)."""
    from stammtisch.audience.models import Engagement

    messages = dict(_incoming(goal.workspace_id, deliveries, start, end).values_list("pk", "conversation__delivery_id"))
    if not messages:
        return
    tz = goal.workspace.tz
    returning: dict[int, set[int]] = defaultdict(set)
    new: dict[int, set[int]] = defaultdict(set)
    engagements = (
        Engagement.objects.filter(
            workspace_id=goal.workspace_id, source=Engagement.Source.MESSAGE, source_id__in=list(messages)
        )
        .exclude(kind__in=["answered", "unfollow"])
        .values_list("source_id", "person_id", "occurred_at", "person__first_seen")
    )
    for message_id, person_id, occurred_at, first_seen in engagements:
        post_id = deliveries[messages[message_id]]
        if first_seen is None:
            continue
        if timezone.localtime(first_seen, tz).date() < timezone.localtime(occurred_at, tz).date():
            returning[post_id].add(person_id)
        elif first_seen == occurred_at:
            new[post_id].add(person_id)
    out["returning"].update({post_id: len(people) for post_id, people in returning.items()})
    out["new_people"].update({post_id: len(people) for post_id, people in new.items()})


def _engagement_figures(workspace_id: int, deliveries: dict[int, int], out: dict[str, dict[int, Any]]) -> None:
    """Likes, comments and shares of each delivery's latest metric snapshot (totals since
    publishing, as the network reports them), summed over the post's channels."""
    from stammtisch.analytics.models import PostMetricSnapshot

    latest: dict[int, PostMetricSnapshot] = {}
    snapshots = PostMetricSnapshot.objects.filter(workspace_id=workspace_id, delivery_id__in=list(deliveries))
    for snapshot in snapshots.order_by("delivery_id", "-observed_at", "-pk").iterator():
        latest.setdefault(snapshot.delivery_id, snapshot)
    for delivery_id, snapshot in latest.items():
        post_id = deliveries[delivery_id]
        total = sum(getattr(snapshot, name) or 0 for name in ("likes", "comments", "shares"))
        out["engagement"][post_id] = out["engagement"].get(post_id, 0) + total
