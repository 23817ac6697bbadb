"""The posting queue and evergreen (recycled) posts (docs/queue.md).

Each channel has weekly posting times (`QueueSlot`: a weekday and a wall-clock time in the
workspace's zone). "Add to queue" gives a post the next slot that is free on all its channels;
the worker's `fill_evergreen` puts evergreen posts into slots that are still free within the next
days. Every write here is an action: role checked, audited, `ActionError` for refusals.

The rules, in one place:

- **Which times are candidates.** The weekly times every channel of the post shares. When the
  channels share none, every posting time of any of them is a candidate: the post then goes
  into the first one that is free on all its channels at once.
- **Free.** No post on any of the channels is scheduled for that minute (a cancelled post or a
  cancelled channel of a post does not count; a draft has no time and does not count).
- **DST.** A slot whose wall-clock time does not exist on a day (02:30 on the last Sunday of
  March in Europe/Berlin) is skipped on that day, never shifted to 03:00, which may be another
  slot. A time that exists twice (the last Sunday of October) is used once, at its first
  occurrence.
- **Races.** Whoever picks a slot first locks the rows of the channels involved
  (`lock_channels`, `SELECT ... FOR NO KEY UPDATE` in channel id order) and keeps the lock until
  the post is stored, so two posts added at the same moment, or two workers filling evergreen
  posts, never take the same slot. (SQLite runs transactions one at a time: IMMEDIATE mode.)
- **Evergreen.** It only fills slots within `EVERGREEN_HORIZON` that are still free when the
  worker runs; once filled, a slot is taken like any other and "add to queue" skips it. Never
  sooner than `min_gap_days` after the same evergreen post's last time, never next to a post
  with the same text on a channel, least recently used first.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import transaction
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.publishing import composer, publisher
from stammtisch.publishing import media as media_files
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, EvergreenPost, Post, PostMedia, QueueSlot

log = logging.getLogger(__name__)

State = Delivery.State
SEARCH_DAYS = 366  # "add to queue" looks this far ahead for a free slot
CHUNK_DAYS = 28  # taken times are read for this many days at a time
MINUTE = dt.timedelta(minutes=1)
MAX_SLOTS_PER_CHANNEL = 100
EVERGREEN_HORIZON = dt.timedelta(days=7)
MIN_GAP_DAYS = 1
MAX_GAP_DAYS = 365
DEFAULT_GAP_DAYS = 30

Slot = tuple[int, dt.time]  # (weekday 0 = Monday, wall-clock time)


# --- Presets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    key: str
    label: Any  # lazy translation
    slots: tuple[Slot, ...]


def _every(days: Iterable[int], *times: str) -> tuple[Slot, ...]:
    return tuple((day, dt.time.fromisoformat(t)) for day in days for t in times)


WEEKDAYS_MON_FRI = range(5)
PRESETS: dict[str, Preset] = {
    preset.key: preset
    for preset in (
        Preset("three_a_week", gettext_lazy("3 times a week: Mon, Wed, Fri at 09:00"), _every((0, 2, 4), "09:00")),
        Preset("weekdays_morning", gettext_lazy("Weekdays at 09:00"), _every(WEEKDAYS_MON_FRI, "09:00")),
        Preset(
            "weekdays_twice",
            gettext_lazy("Weekdays at 08:00 and 17:00"),
            _every(WEEKDAYS_MON_FRI, "08:00", "17:00"),
        ),
        Preset("daily_noon", gettext_lazy("Every day at 12:00"), _every(range(7), "12:00")),
        Preset(
            "daily_three",
            gettext_lazy("Every day at 08:00, 12:00 and 18:00"),
            _every(range(7), "08:00", "12:00", "18:00"),
        ),
    )
}


def weekday_name(weekday: int) -> str:
    return str(WEEKDAYS[weekday])


def slot_label(slot: Slot) -> str:
    return f"{weekday_name(slot[0])} {slot[1]:%H:%M}"


# --- Time arithmetic ---------------------------------------------------------------------------


def slot_instant(day: dt.date, time: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """The UTC instant of a slot on `day`. None when that wall-clock time does not exist on the
    day (clocks go forward): the slot is skipped that day. A time that exists twice (clocks go
    back) is used once, at its first occurrence."""
    first = dt.datetime.combine(day, time, tzinfo=tz)  # fold=0: the first of two
    instant = first.astimezone(dt.UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != first.replace(tzinfo=None):
        return None  # in the gap: the wall clock never shows this time that day
    return instant


def _days(start: dt.datetime, end: dt.datetime, tz: zoneinfo.ZoneInfo) -> Iterable[dt.date]:
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def _instants(slots: set[Slot], tz: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The UTC instants of the weekly `slots` in (start, end), in order."""
    by_weekday: dict[int, list[dt.time]] = defaultdict(list)
    for weekday, time in slots:
        by_weekday[weekday].append(time)
    found = []
    for day in _days(start, end, tz):
        for time in sorted(by_weekday.get(day.weekday(), ())):
            at = slot_instant(day, time, tz)
            if at is not None and start < at < end:
                found.append(at)
    return sorted(found)


def _floor(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(second=0, microsecond=0)


def _taken(channel_ids: Iterable[int], start: dt.datetime, end: dt.datetime) -> set[dt.datetime]:
    """The minutes in [start, end) at which a post is scheduled on any of these channels."""
    times = (
        Delivery.objects.filter(
            channel_id__in=list(channel_ids), post__scheduled_at__gte=start, post__scheduled_at__lt=end
        )
        .exclude(state=State.CANCELLED)
        .exclude(post__status=Post.Status.CANCELLED)
        .values_list("post__scheduled_at", flat=True)
    )
    return {_floor(at) for at in times if at is not None}


def weekly_slots(channel_ids: Iterable[int]) -> dict[int, set[Slot]]:
    """Each channel's weekly posting times (channels without any are missing)."""
    slots: dict[int, set[Slot]] = defaultdict(set)
    for channel_id, weekday, time in QueueSlot.objects.filter(channel_id__in=list(channel_ids)).values_list(
        "channel_id", "weekday", "time"
    ):
        slots[channel_id].add((weekday, time))
    return dict(slots)


def candidate_slots(weekly: dict[int, set[Slot]], channel_ids: Sequence[int]) -> tuple[set[Slot], bool]:
    """(the weekly times a post on these channels may take, whether the channels share them).
    Shared times when there are any; otherwise every time of any of the channels."""
    sets = [weekly.get(pk, set()) for pk in channel_ids]
    if not sets:
        return set(), True
    common = set.intersection(*sets)
    if common:
        return common, True
    return set().union(*sets), False


def _workspace_of(channels: Sequence[Channel]) -> Workspace:
    workspace_ids = {channel.workspace_id for channel in channels}
    if len(workspace_ids) != 1:
        raise ValueError("the channels must belong to one workspace")
    return channels[0].workspace


def next_free_slots(
    channels: Iterable[Channel],
    *,
    after: dt.datetime,
    count: int = 1,
    before: dt.datetime | None = None,
) -> list[dt.datetime]:
    """The next `count` aware UTC instants after `after` (and before `before`, by default a year
    on) at which a post on all these `channels` may go out: a posting time they share (or, when
    they share none, a posting time of any of them) at which none of them has a post yet.
    Fewer (or none) when the queue is full or the channels have no posting times."""
    channels = list(channels)
    if not channels or count < 1:
        return []
    if timezone.is_naive(after):
        raise ValueError("after must be timezone-aware")
    tz = _workspace_of(channels).tz
    ids = [channel.pk for channel in channels]
    slots, _shared = candidate_slots(weekly_slots(ids), ids)
    if not slots:
        return []
    end = before or after + dt.timedelta(days=SEARCH_DAYS)
    found: list[dt.datetime] = []
    start = after
    while start < end and len(found) < count:
        stop = min(end, start + dt.timedelta(days=CHUNK_DAYS))
        instants = _instants(slots, tz, start, stop)
        if instants:
            taken = _taken(ids, instants[0], instants[-1] + MINUTE)
            found += [at for at in instants if at not in taken][: count - len(found)]
        start = stop - dt.timedelta(microseconds=1)  # `_instants` excludes its start
        if stop >= end:
            break
    return found


def lock_channels(channel_ids: Iterable[int]) -> list[Channel]:
    """Lock these channels' rows until the transaction ends, in id order (no deadlocks between
    two lockers). `FOR NO KEY UPDATE`: it does not wait for the key-share locks that inserting a
    delivery of the channel takes, but it does wait for another queue locker. Must run inside a
    transaction; a no-op on SQLite, whose IMMEDIATE transactions run one at a time anyway."""
    return list(
        Channel.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(set(channel_ids)))
        .order_by("pk")
        .select_related(None)
    )


def _needs_approval(post: Post) -> bool:
    """Whether the post must be approved before it may go out (`publishing/approvals.py`)."""
    from stammtisch.publishing import approvals

    return approvals.approval_required(post.workspace) and not approvals.is_approved(post)


# --- Slots ------------------------------------------------------------------------------------


def _clean_slots(slots: Iterable[Slot]) -> set[Slot]:
    cleaned = set()
    for weekday, time in slots:
        if not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ActionError(_("A weekday must be one of Monday to Sunday."))
        if not isinstance(time, dt.time):
            raise ActionError(_("Choose a time of day."))
        cleaned.add((weekday, time.replace(second=0, microsecond=0, tzinfo=None)))
    if len(cleaned) > MAX_SLOTS_PER_CHANNEL:
        raise ActionError(
            _("A channel can have at most %(count)d posting times a week.") % {"count": MAX_SLOTS_PER_CHANNEL}
        )
    return cleaned


def _store_slots(
    actor: Actor, channel: Channel, slots: Iterable[Slot], *, mode: str, action: str, extra: dict[str, Any]
) -> list[Slot]:
    """Replace (`mode="set"`), extend (`"add"`) or shrink (`"remove"`) the channel's posting
    times, under the channel's row lock, so two editors changing them at once lose nothing."""
    workspace = channel.workspace
    lock_channels([channel.pk])
    rows = list(QueueSlot.objects.filter(channel=channel))
    before = {(slot.weekday, slot.time) for slot in rows}
    given = _clean_slots(slots) if mode != "remove" else set(slots)
    wanted = {"set": given, "add": before | given, "remove": before - given}[mode]
    wanted = _clean_slots(wanted)
    if before == wanted:
        return sorted(wanted)
    QueueSlot.objects.filter(pk__in=[slot.pk for slot in rows if (slot.weekday, slot.time) not in wanted]).delete()
    QueueSlot.objects.bulk_create(
        [QueueSlot(channel=channel, weekday=weekday, time=time) for weekday, time in sorted(wanted - before)]
    )
    audit(
        actor,
        action,
        workspace=workspace,
        obj=channel,
        summary=channel.display_name[:300],
        data={
            "channel": channel.pk,
            "added": [f"{d} {t:%H:%M}" for d, t in sorted(wanted - before)],
            "removed": [f"{d} {t:%H:%M}" for d, t in sorted(before - wanted)],
            **extra,
        },
    )
    return sorted(wanted)


@transaction.atomic
def do_set_slots(actor: Actor, channel: Channel, slots: Iterable[Slot]) -> list[Slot]:
    """Replace the channel's weekly posting times with `slots` ((weekday, time) pairs; seconds
    are dropped). Posts already in the queue keep their times. Editors may do this (as in
    Buffer): the queue is part of planning content, not of the workspace's settings."""
    require_perm(actor, channel.workspace, Perm.EDIT)
    return _store_slots(actor, channel, slots, mode="set", action="queue.set_slots", extra={})


@transaction.atomic
def do_add_slots(actor: Actor, channel: Channel, slots: Iterable[Slot]) -> list[Slot]:
    """Add posting times to the channel's (the analytics' "best time to post" calls this too);
    times it has already are left as they are."""
    require_perm(actor, channel.workspace, Perm.EDIT)
    return _store_slots(actor, channel, slots, mode="add", action="queue.set_slots", extra={})


@transaction.atomic
def do_remove_slots(actor: Actor, channel: Channel, slots: Iterable[Slot]) -> list[Slot]:
    """Remove these posting times from the channel's (times it does not have are ignored)."""
    require_perm(actor, channel.workspace, Perm.EDIT)
    return _store_slots(actor, channel, slots, mode="remove", action="queue.set_slots", extra={})


@transaction.atomic
def do_apply_preset(actor: Actor, channel: Channel, preset: str) -> list[Slot]:
    """Replace the channel's posting times with one of `PRESETS`."""
    require_perm(actor, channel.workspace, Perm.EDIT)
    chosen = PRESETS.get(preset)
    if chosen is None:
        raise ActionError(_("Please choose one of the presets."))
    return _store_slots(actor, channel, chosen.slots, mode="set", action="queue.apply_preset", extra={"preset": preset})


# --- Add to queue -----------------------------------------------------------------------------


def no_slots_problem(channels: Iterable[Channel]) -> str:
    """The refusal for channels of which one has no posting times; empty when all have some."""
    channels = list(channels)
    weekly = weekly_slots([channel.pk for channel in channels])
    for channel in channels:
        if channel.pk not in weekly:
            return _("Channel %(channel)s has no posting times yet: add some under Queue.") % {
                "channel": channel.display_name
            }
    return ""


@transaction.atomic
def do_add_to_queue(actor: Actor, post: Post, *, now: dt.datetime | None = None) -> dt.datetime:
    """Schedule a draft into the next free slot of its channels (see the module's rules) and
    return that time (aware, UTC). Refused, with nothing changed, for a post that is not a draft,
    a channel without posting times, a text a channel's network refuses, or a full queue."""
    workspace = post.workspace
    require_perm(actor, workspace, Perm.EDIT)
    now = now or timezone.now()
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.status != Post.Status.DRAFT:
        if post.status == Post.Status.SCHEDULED:
            raise ActionError(_("This post is scheduled already. Move it to another time instead."))
        raise ActionError(
            _("Only a draft can be added to the queue; this one is %(status)s.") % {"status": post.get_status_display()}
        )
    deliveries = list(Delivery.objects.filter(post_id=post.pk).exclude(state=State.CANCELLED).select_related("channel"))
    if not deliveries:
        raise ActionError(_("Choose at least one channel to schedule the post on."))
    channels = lock_channels([delivery.channel_id for delivery in deliveries])
    problem = no_slots_problem(channels)
    if problem:
        raise ActionError(problem)
    post_media = media_files.assets_of(post.pk)  # checked with the texts (Instagram needs one)
    checks = composer.check_channels(
        [delivery.channel for delivery in deliveries],
        post.text,
        {delivery.channel_id: delivery.text for delivery in deliveries},
        first_comment=post.first_comment,
        media=post_media,
    )
    invalid = composer.failing(checks)
    if invalid:
        raise ActionError(
            _("The text does not fit every channel yet: %(summary)s")
            % {"summary": " · ".join(composer.problem_summary(check) for check in invalid)}
        )
    found = next_free_slots(channels, after=now)
    if not found:
        raise ActionError(
            _("The queue of these channels has no free posting time in the next year. Add posting times under Queue.")
        )
    at = found[0]
    source = Post.Source.QUEUE if post.source == Post.Source.COMPOSER else post.source
    Post.objects.filter(pk=post.pk).update(source=source, updated_at=timezone.now())
    held = _needs_approval(post)
    if held:
        # Waiting for approval, the post keeps the slot (`scheduled_at`) but no due time.
        from stammtisch.publishing import approvals

        approvals.do_submit_for_approval(actor, post, at, now=now)
    else:
        Delivery.objects.filter(post_id=post.pk, state=State.SCHEDULED, due_at__isnull=True).update(due_at=at)
        Post.objects.filter(pk=post.pk).update(scheduled_at=at)
        publisher.refresh_post_status(post.pk)
    audit(
        actor,
        "post.add_to_queue",
        workspace=workspace,
        obj=post,
        summary=post.text[:120],
        data={
            "scheduled_at": at.isoformat(),
            "channels": [channel.pk for channel in channels],
            "waiting_for_approval": held,
        },
    )
    if not held:
        publisher.notify_due()
    return at


# --- Evergreen posts ---------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Texts compared for "the same text twice in a row": case and spacing do not count."""
    return " ".join(text.split()).casefold()


def _clean_gap(min_gap_days: int) -> int:
    if not MIN_GAP_DAYS <= min_gap_days <= MAX_GAP_DAYS:
        raise ActionError(
            _("The minimum gap must be between %(min)d and %(max)d days.") % {"min": MIN_GAP_DAYS, "max": MAX_GAP_DAYS}
        )
    return min_gap_days


def _check_channels(workspace: Workspace, channels: list[Channel], text: str, source_post_id: int | None) -> None:
    """Refuse channels of another workspace, an empty text, or one a network refuses (checked
    with the original post's files, which go out with it)."""
    if not channels:
        raise ActionError(_("Choose at least one channel."))
    if any(channel.workspace_id != workspace.pk for channel in channels):
        raise ActionError(_("A channel does not belong to this workspace."))
    if not text.strip():
        raise ActionError(_("A post needs a text."))
    files = media_files.assets_of(source_post_id) if source_post_id else []
    for check in composer.check_channels(channels, text, {}, media=files):
        if not check.ok:
            raise ActionError(
                _("The text does not fit every channel yet: %(summary)s") % {"summary": composer.problem_summary(check)}
            )


def _same_text_exists(workspace: Workspace, text: str, exclude: int | None = None) -> EvergreenPost | None:
    wanted = normalise(text)
    others = EvergreenPost.objects.filter(workspace=workspace)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    for evergreen in others.only("pk", "text"):
        if normalise(evergreen.text) == wanted:
            return evergreen
    return None


@transaction.atomic
def do_make_evergreen(actor: Actor, post: Post, min_gap_days: int = DEFAULT_GAP_DAYS) -> EvergreenPost:
    """Recycle a post: an evergreen post with its text, link, pillar, purpose and channels (the
    post's own texts per channel are not kept). It fills free queue slots from then on."""
    workspace = post.workspace
    require_perm(actor, workspace, Perm.EDIT)
    gap = _clean_gap(min_gap_days)
    channels = [
        delivery.channel
        for delivery in Delivery.objects.filter(post_id=post.pk)
        .exclude(state=State.CANCELLED)
        .select_related("channel")
        .order_by("channel_id")
    ]
    _check_channels(workspace, channels, post.text, post.pk)
    if _same_text_exists(workspace, post.text) is not None:
        raise ActionError(_("An evergreen post with this text exists already."))
    evergreen = EvergreenPost.objects.create(
        workspace=workspace,
        source_post=post,
        text=post.text,
        link=post.link,
        pillar=post.pillar,
        purpose=post.purpose,
        min_gap_days=gap,
        created_by=cast(Any, actor.user) if actor.user is not None and actor.user.pk else None,
    )
    evergreen.channels.set(channels)
    audit(
        actor,
        "evergreen.create",
        workspace=workspace,
        obj=evergreen,
        summary=evergreen.text[:120],
        data={"from": post.pk, "channels": [c.pk for c in channels], "min_gap_days": gap},
    )
    return evergreen


@transaction.atomic
def do_update_evergreen(
    actor: Actor,
    evergreen: EvergreenPost,
    *,
    text: str,
    channels: Iterable[Channel],
    min_gap_days: int,
    link: str = "",
    pillar: str = "",
    purpose: str = Post.Purpose.VALUE,
) -> list[str]:
    """Change an evergreen post; posts it has already made keep their text and time. Returns the
    names of the fields that changed."""
    workspace = evergreen.workspace
    require_perm(actor, workspace, Perm.EDIT)
    evergreen = EvergreenPost.objects.select_for_update().get(pk=evergreen.pk)
    channels = sorted(channels, key=lambda channel: channel.pk)
    gap = _clean_gap(min_gap_days)
    _check_channels(workspace, channels, text, evergreen.source_post_id)
    if _same_text_exists(workspace, text, exclude=evergreen.pk) is not None:
        raise ActionError(_("An evergreen post with this text exists already."))
    new = {"text": text, "link": link, "pillar": pillar, "purpose": purpose, "min_gap_days": gap}
    changed = [name for name, value in new.items() if getattr(evergreen, name) != value]
    old_channels = sorted(evergreen.channels.values_list("pk", flat=True))
    if old_channels != [channel.pk for channel in channels]:
        changed.append("channels")
        evergreen.channels.set(channels)
    if not changed:
        return []
    for name, value in new.items():
        setattr(evergreen, name, value)
    evergreen.save(update_fields=list(new))
    audit(
        actor,
        "evergreen.update",
        workspace=workspace,
        obj=evergreen,
        summary=text[:120],
        data={"changed": changed},
    )
    return changed


def _set_active(actor: Actor, evergreen: EvergreenPost, active: bool) -> bool:
    require_perm(actor, evergreen.workspace, Perm.EDIT)
    updated = EvergreenPost.objects.filter(pk=evergreen.pk, active=not active).update(active=active)
    if updated:
        evergreen.active = active
        audit(
            actor,
            "evergreen.resume" if active else "evergreen.pause",
            workspace=evergreen.workspace,
            obj=evergreen,
            summary=evergreen.text[:120],
        )
    return bool(updated)


@transaction.atomic
def do_pause_evergreen(actor: Actor, evergreen: EvergreenPost) -> bool:
    """Stop filling slots with it (posts it has made stay scheduled). False if already paused."""
    return _set_active(actor, evergreen, False)


@transaction.atomic
def do_resume_evergreen(actor: Actor, evergreen: EvergreenPost) -> bool:
    return _set_active(actor, evergreen, True)


@transaction.atomic
def do_delete_evergreen(actor: Actor, evergreen: EvergreenPost) -> None:
    """Delete it; posts it has made stay in the calendar as ordinary scheduled posts."""
    require_perm(actor, evergreen.workspace, Perm.EDIT)
    audit(
        actor,
        "evergreen.delete",
        workspace=evergreen.workspace,
        obj=evergreen,
        summary=evergreen.text[:120],
        data={"times_scheduled": evergreen.times_scheduled},
    )
    evergreen.delete()


# --- Filling slots with evergreen posts (the worker) ---------------------------------------------


@dataclass
class _Neighbours:
    """The texts of the posts right before and after an instant on a channel, read once per fill."""

    cache: dict[tuple[int, dt.datetime], tuple[str, str]] = field(default_factory=dict)

    def around(self, channel_id: int, at: dt.datetime) -> tuple[str, str]:
        key = (channel_id, at)
        if key not in self.cache:
            rows = Delivery.objects.filter(channel_id=channel_id).exclude(state=State.CANCELLED)
            rows = rows.exclude(post__status=Post.Status.CANCELLED)
            before = rows.filter(post__scheduled_at__lt=at).order_by("-post__scheduled_at", "-pk")
            after = rows.filter(post__scheduled_at__gt=at).order_by("post__scheduled_at", "pk")
            previous = before.values_list("text", flat=True).first() or ""
            following = after.values_list("text", flat=True).first() or ""
            self.cache[key] = (normalise(previous), normalise(following))
        return self.cache[key]

    def forget(self, channel_ids: Iterable[int]) -> None:
        ids = set(channel_ids)
        self.cache = {key: value for key, value in self.cache.items() if key[0] not in ids}


def _lru(evergreen: EvergreenPost) -> tuple[bool, dt.datetime, int]:
    never = evergreen.last_scheduled_at is None
    return (not never, evergreen.last_scheduled_at or dt.datetime.min.replace(tzinfo=dt.UTC), evergreen.pk)


def _fill_workspace(workspace: Workspace, now: dt.datetime, end: dt.datetime) -> int:
    through = EvergreenPost.channels.through
    pairs = list(
        through.objects.filter(evergreenpost__workspace=workspace, evergreenpost__active=True).values_list(
            "evergreenpost_id", "channel_id"
        )
    )
    channels = {
        channel.pk: channel
        for channel in lock_channels(channel_id for _evergreen, channel_id in pairs)
        if channel.health != Channel.Health.DISCONNECTED
    }
    for channel in channels.values():
        channel.workspace = workspace  # saves a query per channel in next_free_slots
    members: dict[int, list[Channel]] = defaultdict(list)
    for evergreen_id, channel_id in pairs:
        if channel_id in channels:
            members[evergreen_id].append(channels[channel_id])
    # Read after the channel lock: a second worker that waited sees what the first one stored.
    evergreens = list(EvergreenPost.objects.select_for_update().filter(workspace=workspace, active=True).order_by("pk"))
    media: dict[int, list[Any]] = defaultdict(list)  # the original post's files, while it exists
    for link in (
        PostMedia.objects.filter(post_id__in=[e.source_post_id for e in evergreens if e.source_post_id])
        .select_related("asset")
        .order_by("position", "pk")
    ):
        media[link.post_id].append(link.asset)
    fits = {  # a text a network refuses (or that lacks a required image) is left alone
        evergreen.pk: not composer.failing(
            composer.check_channels(
                members[evergreen.pk], evergreen.text, {}, media=media.get(evergreen.source_post_id or 0, [])
            )
        )
        for evergreen in evergreens
    }
    neighbours = _Neighbours()
    actor = Actor.system("evergreen")
    from stammtisch.publishing import approvals  # it imports the actions, as this module does

    held = approvals.approval_required(workspace)
    created = 0
    progress = True
    while progress:  # each round, every evergreen post may take one slot, the stalest first
        progress = False
        for evergreen in sorted(evergreens, key=_lru):
            chosen = members.get(evergreen.pk)
            if not chosen or not fits[evergreen.pk]:
                continue
            earliest = now
            if evergreen.last_scheduled_at is not None:
                gap_end = evergreen.last_scheduled_at + dt.timedelta(days=evergreen.min_gap_days)
                earliest = max(now, gap_end - dt.timedelta(microseconds=1))
            if earliest >= end:
                continue
            text = normalise(evergreen.text)
            for at in next_free_slots(chosen, after=earliest, before=end, count=100):
                if any(text in neighbours.around(channel.pk, at) for channel in chosen):
                    continue  # the same text would follow itself on a channel
                post = do_create_post(
                    actor,
                    workspace,
                    text=evergreen.text,
                    channels=chosen,
                    scheduled_at=None if held else at,
                    link=evergreen.link,
                    pillar=evergreen.pillar,
                    purpose=evergreen.purpose,
                    media=media.get(evergreen.source_post_id or 0, []),
                    source=Post.Source.EVERGREEN,
                )
                if held:  # it keeps the slot while it waits for approval
                    approvals.do_submit_for_approval(actor, post, at, now=now)
                evergreen.last_scheduled_at = at
                evergreen.times_scheduled += 1
                evergreen.save(update_fields=["last_scheduled_at", "times_scheduled"])
                neighbours.forget(channel.pk for channel in chosen)
                created += 1
                progress = True
                break
    return created


def fill_evergreen(now: dt.datetime | None = None, horizon: dt.timedelta = EVERGREEN_HORIZON) -> int:
    """Put active evergreen posts into queue slots that are free within `horizon` from `now`
    (the worker calls this every few minutes). Returns how many posts it scheduled; running it
    again at once schedules nothing new. One transaction per workspace. In a workspace whose
    posts need approval, the posts it makes wait for approval like any other (`do_create_post`)."""
    now = now or timezone.now()
    end = now + horizon
    workspace_ids = (
        EvergreenPost.objects.filter(active=True).order_by("workspace_id").values_list("workspace_id", flat=True)
    )
    created = 0
    for workspace in Workspace.objects.filter(pk__in=set(workspace_ids)).order_by("pk"):
        try:
            with transaction.atomic():
                created += _fill_workspace(workspace, now, end)
        except Exception:  # one broken workspace must not stop the others
            log.exception("filling evergreen posts of workspace %s failed", workspace.pk)
    return created


# --- Reading, for the pages --------------------------------------------------------------------


def local_label(at: dt.datetime, workspace: Workspace) -> str:
    """ "Monday, 2 March 2026, 09:00" in the active language, in the workspace's zone."""
    local = timezone.localtime(at, workspace.tz)
    return f"{date_format(local, 'l')}, {date_format(local, 'DATE_FORMAT')}, {local:%H:%M}"


def queued_message(post: Post, at: dt.datetime) -> str:
    """What the composer and the post page say after "add to queue"."""
    values = {"when": local_label(at, post.workspace), "zone": post.workspace.time_zone}
    status = Post.objects.filter(pk=post.pk).values_list("status", flat=True).first()
    if status == Post.Status.PENDING_APPROVAL:
        return _("Added to the queue for %(when)s (%(zone)s); it goes out once it is approved.") % values
    return _("Added to the queue: %(when)s (%(zone)s).") % values


@dataclass
class UpcomingSlot:
    """One posting time of a channel in the coming days and the post that takes it, if any."""

    local: dt.datetime  # wall-clock time in the workspace's zone (naive when skipped)
    skipped: bool = False  # the time does not exist that day (clocks go forward)
    post_id: int | None = None
    snippet: str = ""
    source: str = ""
    status: str = ""

    @property
    def is_evergreen(self) -> bool:
        return self.source == Post.Source.EVERGREEN

    @property
    def source_label(self) -> str:
        return str(Post.Source(self.source).label) if self.source in Post.Source.values else self.source

    @property
    def status_label(self) -> str:
        return str(Post.Status(self.status).label) if self.status in Post.Status.values else self.status


def upcoming(
    channels: Sequence[Channel],
    workspace: Workspace,
    *,
    now: dt.datetime,
    days: int = 14,
    weekly: dict[int, set[Slot]] | None = None,
) -> dict[int, list[UpcomingSlot]]:
    """Per channel id, its posting times from `now` for `days` days, each with the post that
    takes it (two queries for any number of channels; one when `weekly` is given)."""
    tz = workspace.tz
    ids = [channel.pk for channel in channels]
    weekly = weekly_slots(ids) if weekly is None else weekly
    end = now + dt.timedelta(days=days)
    rows = (
        Delivery.objects.filter(channel_id__in=ids, post__scheduled_at__gte=now, post__scheduled_at__lt=end + MINUTE)
        .exclude(state=State.CANCELLED)
        .exclude(post__status=Post.Status.CANCELLED)
        .annotate(snippet=Substr("post__text", 1, 80))
        .values_list("channel_id", "post__scheduled_at", "post_id", "snippet", "post__source", "post__status")
        .order_by("post__scheduled_at", "post_id")
    )
    taken: dict[tuple[int, dt.datetime], tuple[int, str, str, str]] = {}
    for channel_id, at, post_id, snippet, source, status in rows:
        if at is not None:
            taken.setdefault((channel_id, _floor(at)), (post_id, snippet, source, status))
    result: dict[int, list[UpcomingSlot]] = {}
    for channel_id in ids:
        slots = sorted(weekly.get(channel_id, ()), key=lambda slot: slot[1])
        found = []
        for day in _days(now, end, tz):
            for weekday, time in slots:
                if weekday != day.weekday():
                    continue
                at = slot_instant(day, time, tz)
                if at is None:
                    found.append(UpcomingSlot(local=dt.datetime.combine(day, time), skipped=True))
                    continue
                if not now < at < end:
                    continue
                item = UpcomingSlot(local=at.astimezone(tz))
                hit = taken.get((channel_id, at))
                if hit is not None:
                    item.post_id, item.snippet, item.source, item.status = hit
                found.append(item)
        result[channel_id] = found
    return result
