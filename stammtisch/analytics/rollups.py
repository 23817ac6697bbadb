"""Daily rollups: the figures dashboards and goals read (docs/strategy.md "Rollups").

The worker job "rollups" (`run_due`) computes, per workspace and per day in the workspace's
time zone, a small set of base figures from the raw rows of the inbox, the audience, the links,
the publisher and the metric snapshots, and stores them as `DailyRollup` rows. A computation
replaces the rows of its keys for the days it covers in one transaction, so running it twice
gives the same rows (idempotent). The first run of a workspace backfills `BACKFILL_DAYS`; later
runs recompute only the last days each group of figures can still change in (`settle_days`).
Pages read `DailyRollup` only (analytics/kpis.py, analytics/dashboard.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from stammtisch.analytics.models import ChannelMetricSnapshot, DailyRollup, PostMetricSnapshot, RollupState
from stammtisch.core.models import Workspace

log = logging.getLogger("stammtisch.analytics.rollups")

BACKFILL_DAYS = 400  # the first run of a workspace: a year and a bit (a year-over-year view later)
REFRESH_EVERY = dt.timedelta(minutes=15)  # a workspace's rollups are recomputed this often
LEASE = dt.timedelta(minutes=10)  # a worker that died while computing is replaced after this
CLAIM_BATCH = 20  # workspaces per pass of the job
POSTS_SETTLE_DAYS = 30  # post figures are read up to 28 days after publishing (docs/analytics.md)

# Intents whose conversations count as feedback that deserves an answer.
FEEDBACK_INTENTS = ("question", "complaint")

Row = tuple[dt.date, str, str, float]  # day, key, dimension, value


def pillar_dimension(label: str | None) -> str:
    """Posts are matched to pillars by name, ignoring case and surrounding spaces; "-" stands for
    posts without a pillar."""
    return (label or "").strip().casefold()[:80] or "-"


def besttime_dimension(weekday: int, hour: int) -> str:
    return f"{weekday}-{hour:02d}"


# Response-time classes: a conversation answered after `seconds` counts in the class of the first
# upper bound (minutes) above it; the last class is open-ended. Percentiles over any range are
# estimated from these counts (analytics/channels.py `response_times`).
RESPONSE_CLASSES_MIN = (
    *(1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 960, 1440),
    *(2160, 2880, 4320, 7200, 10080, 20160, 43200),
)
RESPONSE_KEYS = tuple(f"inbox.rt.{n:02d}" for n in range(len(RESPONSE_CLASSES_MIN) + 1))


def response_class(seconds: float) -> int:
    """The index of the response-time class of `seconds` (`RESPONSE_KEYS`)."""
    for index, minutes in enumerate(RESPONSE_CLASSES_MIN):
        if seconds < minutes * 60:
            return index
    return len(RESPONSE_CLASSES_MIN)


@dataclass(frozen=True)
class Span:
    """The local days [first, last] of a workspace and their bounds in UTC."""

    workspace: Workspace
    first: dt.date
    last: dt.date

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return self.workspace.tz

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), tzinfo=self.tz)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=self.tz)

    def days(self) -> Iterable[dt.date]:
        day = self.first
        while day <= self.last:
            yield day
            day += dt.timedelta(days=1)

    def local_day(self, at: dt.datetime) -> dt.date:
        return timezone.localtime(at, self.tz).date()


def _totals(span: Span, rows: list[Row], keys: Iterable[str]) -> list[Row]:
    """Add the workspace's total ("" dimension) of each key and day, 0 where nothing happened,
    from the per-channel rows; a day that was computed always has its total row."""
    totals: dict[tuple[dt.date, str], float] = defaultdict(float)
    for day, key, dimension, value in rows:
        if dimension:
            totals[day, key] += value
    return rows + [(day, key, "", totals.get((day, key), 0.0)) for key in keys for day in span.days()]


def _fill_days(span: Span, rows: list[Row], keys: Iterable[str]) -> list[Row]:
    """Add a 0 total for each day of `keys` that has no total row yet."""
    have = {(day, key) for day, key, dimension, _value in rows if not dimension}
    return rows + [(day, key, "", 0.0) for key in keys for day in span.days() if (day, key) not in have]


def _per_channel(span: Span, key: str, counts: Iterable[dict[str, object]]) -> list[Row]:
    rows: list[Row] = []
    for row in counts:
        channel = row.get("channel_id")
        rows.append((row["day"], key, str(channel) if channel else "-", float(row["n"])))  # type: ignore[arg-type]
    return rows


# --- Groups of figures ------------------------------------------------------------------------


def inbox_figures(span: Span) -> list[Row]:
    """Incoming messages and their triaged sentiment; feedback conversations and how many were
    answered; the median time to first response of conversations answered that day."""
    from stammtisch.inbox.models import Conversation, Message

    day = TruncDate("occurred_at", tzinfo=span.tz)
    incoming = Message.objects.filter(
        workspace=span.workspace,
        direction=Message.Direction.IN,
        occurred_at__gte=span.start,
        occurred_at__lt=span.end,
        deleted_at__isnull=True,
    ).exclude(intent="spam")
    rows: list[Row] = []
    for key, extra in (
        ("inbox.triaged", ~Q(sentiment="")),
        ("inbox.positive", Q(sentiment="positive")),
        ("inbox.negative", Q(sentiment="negative")),
    ):
        counts = incoming.filter(extra).annotate(day=day).values("day", "channel_id").annotate(n=Count("id"))
        rows += _per_channel(span, key, counts)

    # Feedback: conversations received that day whose intent asks for an answer.
    first_in = (
        # A conversation whose first incoming message is in the span has an incoming message in it:
        # only those are looked at, not every conversation of the workspace.
        Conversation.objects.filter(
            workspace=span.workspace,
            intent__in=FEEDBACK_INTENTS,
            pk__in=Message.objects.filter(
                workspace=span.workspace,
                direction=Message.Direction.IN,
                occurred_at__gte=span.start,
                occurred_at__lt=span.end,
            ).values("conversation_id"),
        )
        .annotate(received=Min("messages__occurred_at", filter=Q(messages__direction=Message.Direction.IN)))
        .filter(received__gte=span.start, received__lt=span.end)
        .values_list("channel_id", "received", "first_response_at")
    )
    feedback: dict[tuple[dt.date, str], list[int]] = defaultdict(lambda: [0, 0])
    for channel_id, received, answered in first_in:
        cell = feedback[span.local_day(received), str(channel_id)]
        cell[0] += 1
        cell[1] += answered is not None
    for (when, channel), (count, answered_count) in feedback.items():
        rows.append((when, "inbox.feedback", channel, float(count)))
        rows.append((when, "inbox.feedback_answered", channel, float(answered_count)))

    # Response times of conversations first answered that day (from their first incoming message).
    answered_rows = (
        Conversation.objects.filter(
            workspace=span.workspace, first_response_at__gte=span.start, first_response_at__lt=span.end
        )
        .annotate(received=Min("messages__occurred_at", filter=Q(messages__direction=Message.Direction.IN)))
        .values_list("first_response_at", "received", "channel_id")
    )
    seconds: dict[dt.date, list[float]] = defaultdict(list)
    classes: dict[tuple[dt.date, str, str], float] = defaultdict(float)
    for responded, received, channel_id in answered_rows:
        if responded is not None and received is not None and responded >= received:
            when = span.local_day(responded)
            wait = (responded - received).total_seconds()
            seconds[when].append(wait)
            key = RESPONSE_KEYS[response_class(wait)]
            classes[when, key, str(channel_id)] += 1
            classes[when, key, ""] += 1
    rows = _totals(span, rows, ["inbox.triaged", "inbox.positive", "inbox.negative"])
    rows = _totals(span, rows, ["inbox.feedback", "inbox.feedback_answered"])
    for when, values in seconds.items():
        rows.append((when, "inbox.response_median_s", "", float(statistics.median(values))))
        rows.append((when, "inbox.responses", "", float(len(values))))
    rows += [(when, key, dimension, value) for (when, key, dimension), value in classes.items()]
    return rows


def people_figures(span: Span) -> list[Row]:
    """New people; returning engagers (people who engaged that day and were first seen on an
    earlier day); advocates at the end of each day."""
    from stammtisch.audience.models import Engagement, Person

    rows: list[Row] = []
    new = (
        Person.objects.filter(workspace=span.workspace, first_seen__gte=span.start, first_seen__lt=span.end)
        .annotate(day=TruncDate("first_seen", tzinfo=span.tz))
        .values("day")
        .annotate(n=Count("id"))
    )
    rows += [(row["day"], "people.new", "", float(row["n"])) for row in new]

    # Returning engagers: per day, the people who engaged that day and were first seen before it
    # began, counted in the database (one query per day: no date conversion per row).
    for when in span.days():
        day_start = dt.datetime.combine(when, dt.time(), tzinfo=span.tz)
        day_end = dt.datetime.combine(when + dt.timedelta(days=1), dt.time(), tzinfo=span.tz)
        engaged = Engagement.objects.filter(
            workspace=span.workspace, occurred_at__gte=day_start, occurred_at__lt=day_end
        ).exclude(kind__in=["answered", "unfollow", "referral", "ref_follow"])
        # People first, engagements as a subquery: a join with a condition on `first_seen` made
        # SQLite walk the people's first_seen index and probe each person's engagements.
        returning = Person.objects.filter(pk__in=engaged.values("person_id"), first_seen__lt=day_start).count()
        rows.append((when, "people.returning", "", float(returning)))

    for when, count in advocates(span).items():
        rows.append((when, "people.advocates", "", float(count)))
    return _fill_days(span, rows, ["people.new", "people.returning"])


def advocates(span: Span) -> dict[dt.date, int]:
    """The workspace's advocates at the end of each day of the span, counted back from now: the
    people whose stage is advocate now (an index count), corrected for those whose stage changed
    since the span's start, whose stage at each day's end is read from their stage transitions
    (the stage before the first of them is its `from_stage`). Only the transitions since the
    span's start are read, not every one since the beginning (a million in `bench dashboard`).
    Erased people have no transitions and are not advocates; a person merged into another is
    gone with their transitions."""
    from stammtisch.audience.models import Person, Stage, StageTransition

    now_count = Person.objects.filter(workspace=span.workspace, stage=Stage.ADVOCATE).count()
    transitions = list(
        StageTransition.objects.filter(workspace=span.workspace, at__gte=span.start)
        .order_by("at", "pk")
        .values_list("person_id", "from_stage", "to_stage", "at")
    )
    stage: dict[int, str] = {}  # the touched people's stage as the walk goes on
    final: dict[int, str] = {}
    for person_id, from_stage, to_stage, _at in transitions:
        stage.setdefault(person_id, from_stage)
        final[person_id] = to_stage
    # Everyone else's stage has not changed since the span began: now_count counts them as they are.
    untouched = now_count - sum(1 for value in final.values() if value == Stage.ADVOCATE)
    touched = sum(1 for value in stage.values() if value == Stage.ADVOCATE)
    counts: dict[dt.date, int] = {}
    pending = iter(transitions)
    item = next(pending, None)
    for when in span.days():
        day_end = dt.datetime.combine(when + dt.timedelta(days=1), dt.time(), tzinfo=span.tz)
        while item is not None and item[3] < day_end:
            person_id, _from_stage, to_stage, _at = item
            touched += (to_stage == Stage.ADVOCATE) - (stage[person_id] == Stage.ADVOCATE)
            stage[person_id] = to_stage
            item = next(pending, None)
        counts[when] = untouched + touched
    return counts


def follower_figures(span: Span) -> list[Row]:
    """New followers per channel: the day's follower count minus the channel's previous reading
    (a day without a reading gives nothing; the next reading carries the whole change); and the
    day's follower count itself per channel (`channel.followers`, no total)."""
    snapshots = (
        ChannelMetricSnapshot.objects.filter(
            workspace=span.workspace,
            day__lte=span.last,
            day__gte=span.first - dt.timedelta(days=60),
            followers__isnull=False,
        )
        .order_by("channel_id", "day", "source")
        .values_list("channel_id", "day", "source", "followers")
    )
    # One reading per channel and day: the API's, else one entered by hand, else an imported one.
    preference = {"api": 0, "manual": 1, "import": 2}
    best: dict[tuple[int, dt.date], tuple[int, int]] = {}
    for channel_id, day, source, followers in snapshots:
        rank = preference.get(source, 3)
        if (channel_id, day) not in best or rank < best[channel_id, day][0]:
            best[channel_id, day] = (rank, followers or 0)
    rows: list[Row] = []
    previous: dict[int, int] = {}
    for (channel_id, day), (_rank, followers) in sorted(best.items()):
        if day >= span.first:
            rows.append((day, "channel.followers", str(channel_id), float(followers)))
        if channel_id in previous and day >= span.first:
            rows.append((day, "channel.followers_delta", str(channel_id), float(followers - previous[channel_id])))
            rows.append((day, "channel.readings", str(channel_id), 1.0))
        previous[channel_id] = followers
    return _totals(span, rows, ["channel.followers_delta", "channel.readings"])


def link_figures(span: Span) -> list[Row]:
    """Clicks on short links (bots left out), attributed conversions, and visits of the website
    that came from a social click."""
    from stammtisch.links.models import Click, Conversion

    rows: list[Row] = []
    clicks = (
        Click.objects.filter(
            workspace=span.workspace, is_bot=False, occurred_at__gte=span.start, occurred_at__lt=span.end
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=span.tz))
        .values("day", "channel_id")
        .annotate(n=Count("id"))
    )
    rows += _per_channel(span, "links.clicks", clicks)
    conversions = Conversion.objects.filter(
        workspace=span.workspace, occurred_at__gte=span.start, occurred_at__lt=span.end
    ).filter(Q(click__isnull=False) | Q(post__isnull=False) | Q(link__isnull=False))
    for key, extra in (("links.conversions", ~Q(kind="visit")), ("links.visits", Q(kind="visit"))):
        counts = (
            conversions.filter(extra)
            .annotate(day=TruncDate("occurred_at", tzinfo=span.tz))
            .values("day", "channel_id")
            .annotate(n=Count("id"))
        )
        rows += _per_channel(span, key, counts)
    return _totals(span, rows, ["links.clicks", "links.conversions", "links.visits"])


def seo_figures(span: Span) -> list[Row]:
    """SEO signals (links/seo.py): clicks on social short links and the visits they brought,
    per channel; and the day's Search Console figures of the site (imported; a day without
    imported figures has no search rows: no data, not 0). Position: the sum of position times
    impressions and the impressions it is weighted by, so that any range can average it."""
    from stammtisch.links import seo
    from stammtisch.links.models import Click, Conversion

    day = TruncDate("occurred_at", tzinfo=span.tz)
    bounds = {"workspace": span.workspace, "occurred_at__gte": span.start, "occurred_at__lt": span.end}
    clicks = Click.objects.filter(is_bot=False, **bounds).filter(seo.SOCIAL)
    visits = Conversion.objects.filter(kind=Conversion.Kind.VISIT, **bounds).filter(seo.SOCIAL)
    rows: list[Row] = []
    rows += _per_channel(
        span, "seo.social_clicks", clicks.annotate(day=day).values("day", "channel_id").annotate(n=Count("id"))
    )
    rows += _per_channel(
        span, "seo.social_visits", visits.annotate(day=day).values("day", "channel_id").annotate(n=Count("id"))
    )
    rows = _totals(span, rows, ["seo.social_clicks", "seo.social_visits"])
    for when, figures in seo.search_totals(span.workspace, span.first, span.last).items():
        rows += [
            (when, "seo.search_clicks", "", float(figures.clicks)),
            (when, "seo.search_impressions", "", float(figures.impressions)),
            (when, "seo.position_weight", "", figures.position_weight),
            (when, "seo.position_impressions", "", float(figures.position_impressions)),
            (when, "seo.search_days", "", 1.0),
        ]
    return rows


def post_figures(span: Span) -> list[Row]:
    """Published deliveries per channel, per pillar and per purpose; per channel, how many were
    measured (their latest snapshot reports impressions or reach) with their engagements and
    impressions; and the same per weekday and hour of publishing (best time)."""
    from stammtisch.publishing.models import Delivery

    deliveries = list(
        Delivery.objects.filter(
            post__workspace=span.workspace,
            state=Delivery.State.PUBLISHED,
            published_at__gte=span.start,
            published_at__lt=span.end,
        ).values_list("pk", "channel_id", "published_at", "post__pillar", "post__purpose")
    )
    latest: dict[int, PostMetricSnapshot] = {}
    snapshots = PostMetricSnapshot.objects.filter(
        workspace=span.workspace, delivery_id__in=[row[0] for row in deliveries]
    ).order_by("delivery_id", "-observed_at", "-pk")
    for snapshot in snapshots.iterator():
        latest.setdefault(snapshot.delivery_id, snapshot)

    counts: dict[tuple[dt.date, str, str], float] = defaultdict(float)
    for pk, channel_id, published_at, pillar, purpose in deliveries:
        local = timezone.localtime(published_at, span.tz)
        when = local.date()
        counts[when, "posts.published", str(channel_id)] += 1
        counts[when, "posts.pillar", pillar_dimension(pillar)] += 1
        counts[when, "posts.purpose", purpose] += 1
        measured = latest.get(pk)
        if measured is None:
            continue
        seen = measured.impressions or measured.reach
        if not seen:
            continue  # no impressions or reach reported (Mastodon, Telegram): no rate
        engagements = sum(getattr(measured, name) or 0 for name in ("likes", "comments", "shares"))
        counts[when, "posts.measured", str(channel_id)] += 1
        counts[when, "posts.engagements", str(channel_id)] += engagements
        counts[when, "posts.impressions", str(channel_id)] += seen
        cell = besttime_dimension(local.weekday(), local.hour)
        counts[when, "besttime.posts", cell] += 1
        counts[when, "besttime.engagements", cell] += engagements
        counts[when, "besttime.impressions", cell] += seen
    rows = [(when, key, dimension, value) for (when, key, dimension), value in counts.items()]
    return _totals(span, rows, ["posts.published", "posts.measured", "posts.engagements", "posts.impressions"])


def _post_rollups(span: Span) -> int:
    from stammtisch.analytics import post_rollups

    return post_rollups.refresh(span)


def _touched_post_rollups(span: Span) -> int:
    """Per-post rows of deliveries published before the days the posts group recomputes (its
    `settle_days` up to the span's last day; the two run in the same refresh) that got clicks,
    conversions, messages or answers in the span."""
    from stammtisch.analytics import post_rollups

    posts_from = span.last - dt.timedelta(days=POSTS_SETTLE_DAYS)
    return post_rollups.refresh_touched(span, dt.datetime.combine(posts_from, dt.time(), tzinfo=span.tz))


@dataclass(frozen=True)
class Group:
    name: str
    keys: tuple[str, ...]
    settle_days: int  # how many past days can still change (recomputed on every run)
    compute: Callable[[Span], list[Row]]
    # Run after the group's rows are stored: other rollup tables computed over the same days.
    then: Callable[[Span], int] | None = None


GROUPS = (
    Group(
        "inbox",
        (
            "inbox.triaged",
            "inbox.positive",
            "inbox.negative",
            "inbox.feedback",
            "inbox.feedback_answered",
            "inbox.response_median_s",
            "inbox.responses",
            *RESPONSE_KEYS,
        ),
        # Feedback counts on the day it came in, answered up to a week later.
        settle_days=8,
        compute=inbox_figures,
    ),
    Group("people", ("people.new", "people.returning", "people.advocates"), settle_days=3, compute=people_figures),
    Group(
        "followers",
        ("channel.followers_delta", "channel.readings", "channel.followers"),
        settle_days=3,
        compute=follower_figures,
    ),
    Group(
        "links",
        ("links.clicks", "links.conversions", "links.visits"),
        settle_days=3,
        compute=link_figures,
        then=_touched_post_rollups,  # posts published earlier that got clicks or comments (post_rollups.py)
    ),
    Group(
        "seo",
        (
            "seo.social_clicks",
            "seo.social_visits",
            "seo.search_clicks",
            "seo.search_impressions",
            "seo.position_weight",
            "seo.position_impressions",
            "seo.search_days",
        ),
        # Imports recompute the days they change at once (links/seo_actions.py).
        settle_days=3,
        compute=seo_figures,
    ),
    Group(
        "posts",
        (
            "posts.published",
            "posts.pillar",
            "posts.purpose",
            "posts.measured",
            "posts.engagements",
            "posts.impressions",
            "besttime.posts",
            "besttime.engagements",
            "besttime.impressions",
        ),
        # Post figures are read up to 28 days after publishing (docs/analytics.md).
        settle_days=POSTS_SETTLE_DAYS,
        compute=post_figures,
        then=_post_rollups,  # one row per published delivery (analytics/post_rollups.py)
    ),
)

ROLLUP_KEYS = frozenset(key for group in GROUPS for key in group.keys)


def refresh(workspace: Workspace, first: dt.date, last: dt.date, groups: Iterable[Group] = GROUPS) -> int:
    """Recompute the rollups of `groups` for the local days [first, last]: each group replaces
    its rows of those days, and the week and month rows of every period those days fall in
    (analytics/periods.py), in one transaction. Returns the number of daily rows written."""
    from stammtisch.analytics import periods

    written = 0
    for group in groups:
        span = Span(workspace, first, last)
        rows = group.compute(span)
        with transaction.atomic():
            DailyRollup.objects.filter(workspace=workspace, key__in=group.keys, day__gte=first, day__lte=last).delete()
            DailyRollup.objects.bulk_create(
                [
                    DailyRollup(workspace=workspace, day=day, key=key, dimension=dimension, value=value)
                    for day, key, dimension, value in rows
                    if first <= day <= last
                ],
                batch_size=1000,
            )
            periods.refresh_periods(workspace, group.keys, first, last)
        if group.then is not None:
            group.then(span)
        written += len(rows)
    return written


def refresh_recent(workspace: Workspace, now: dt.datetime, backfill: bool = False) -> int:
    """The incremental refresh: each group's last `settle_days` days up to today (or, with
    `backfill`, the last `BACKFILL_DAYS`)."""
    today = timezone.localtime(now, workspace.tz).date()
    written = 0
    for group in GROUPS:
        days = BACKFILL_DAYS if backfill else group.settle_days
        written += refresh(workspace, today - dt.timedelta(days=days), today, [group])
    return written


def _claim(now: dt.datetime) -> list[RollupState]:
    """States that are due, each won by a conditional UPDATE of its `next_run_at` (a lease): a
    worker proceeds only with the states whose UPDATE it won."""
    won = []
    for state in RollupState.objects.filter(next_run_at__lte=now).order_by("next_run_at")[:CLAIM_BATCH]:
        if RollupState.objects.filter(pk=state.pk, next_run_at=state.next_run_at).update(next_run_at=now + LEASE):
            won.append(state)
    return won


def run_due(now: dt.datetime | None = None) -> int:
    """The worker job: make sure every workspace has a state, then refresh the due ones (the
    first time with a backfill). Each group of each workspace commits on its own."""
    now = now or timezone.now()
    missing = Workspace.objects.filter(rollup_state__isnull=True).values_list("pk", flat=True)
    RollupState.objects.bulk_create(
        [RollupState(workspace_id=pk, next_run_at=now) for pk in missing], ignore_conflicts=True
    )
    done = 0
    for state in _claim(now):
        workspace = Workspace.objects.get(pk=state.workspace_id)
        try:
            refresh_recent(workspace, now, backfill=not state.backfilled)
        except Exception as error:  # a bug in one group must not stop the other workspaces
            log.exception("rollups of workspace %s failed", workspace.pk)
            RollupState.objects.filter(pk=state.pk).update(last_error=str(error)[:500], next_run_at=now + REFRESH_EVERY)
            continue
        RollupState.objects.filter(pk=state.pk).update(
            backfilled=True, refreshed_at=now, last_error="", next_run_at=now + REFRESH_EVERY
        )
        done += 1
    return done
