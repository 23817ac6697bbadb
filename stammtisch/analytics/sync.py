"""The metrics job of `stammtisch worker`: reads the figures that are due (docs/analytics.md).

    pending ──claim──> running ──figures stored──> done
    (lease expired) ──┘   ├─ 429 / no rate-limit token ──> pending, due when the network allows
                          ├─ transient error ──> pending after a backoff (failed after MAX_ATTEMPTS)
                          ├─ permanent error ──> failed, with the error
                          └─ auth error ──> paused, with every open check of the channel

A worker claims due checks (`MetricCheck`) with a lease, as the publisher claims deliveries
(publishing/publisher.py `claim`): `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, a
conditional UPDATE on SQLite, so any number of workers share the work and no check is read
twice. The claimed checks are grouped per channel; each channel's connector is asked once per
group of up to REMOTES_PER_CALL posts (`fetch_metrics`), which also answers the channel's own
figures. Every call first takes tokens from the rate-limit buckets the publisher uses
(publishing/ratelimit.py), one per request the call may make, so metrics and publishing share
each network's limits. Figures are stored in one transaction per call, only for checks this
worker still holds, so a worker whose lease ran out stores nothing that the next one stores too.

An auth error pauses the channel's checks and leaves the channel's health alone: the publisher
and the health page decide about reconnecting (a token may lack only a metrics permission).
Reconnecting the channel resumes them (analytics/scheduling.py `schedule_backfill`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.analytics.models import POST_METRICS, ChannelMetricSnapshot, MetricCheck, PostMetricSnapshot, Source
from stammtisch.analytics.scheduling import DAILY, daily_check, schedule_next
from stammtisch.networks.base import Metric, Network, NetworkError, Remote
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.publishing import publisher, ratelimit
from stammtisch.publishing.models import Delivery

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
BATCH_SIZE = 200
MAX_BATCHES = 10  # per pass, so the worker's other jobs get their turn
REMOTES_PER_CALL = 100
MAX_ATTEMPTS = 5  # failed calls before a check is given up

State = MetricCheck.State
UNREADABLE_HEALTH = (Channel.Health.NEEDS_RECONNECT, Channel.Health.DISCONNECTED)
# What networks call a count, by our column name: "views" is what X (impression_count),
# LinkedIn (IMPRESSION), Instagram and the Sandbox report for how often a post was seen.
ALIASES = {"views": "impressions", "impression_count": "impressions", "impressions_count": "impressions"}
CHANNEL_COLUMNS = ("followers",)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else timezone.now()


def claimable(now: dt.datetime, wall: dt.datetime) -> Q:
    """Due checks, and checks held by a worker whose lease expired."""
    return Q(state=State.PENDING, due_at__lte=now) | Q(state=State.RUNNING, lease_until__lt=wall)


def claim(worker: str, *, now: dt.datetime | None = None, limit: int = BATCH_SIZE, where: Q | None = None) -> list[int]:
    """Claim up to `limit` due checks for `worker`, oldest due first; returns their ids.
    `where` narrows the claim (tests, the demo)."""
    now = _now(now)
    wall = timezone.now()
    lease_until = wall + LEASE
    lease = {"state": State.RUNNING, "lease_owner": worker, "lease_until": lease_until}
    due = claimable(now, wall)
    if where is not None:
        due &= where
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            pks = list(
                MetricCheck.objects.select_for_update(skip_locked=True)
                .filter(due)
                .order_by("due_at", "id")
                .values_list("id", flat=True)[:limit]
            )
            MetricCheck.objects.filter(pk__in=pks).update(**lease)
            return pks
        # SQLite: one writer at a time; the UPDATE checks `due` again, so of two workers that
        # selected the same rows only one wins each.
        candidates = list(MetricCheck.objects.filter(due).order_by("due_at", "id").values_list("id", flat=True)[:limit])
        if MetricCheck.objects.filter(due, pk__in=candidates).update(**lease) == len(candidates):
            return candidates
        mine = MetricCheck.objects.filter(pk__in=candidates, lease_owner=worker, lease_until=lease_until)
        return list(mine.order_by("due_at", "id").values_list("id", flat=True))


def release(worker: str, pks: list[int]) -> int:
    """Give claimed checks back unread (the worker is stopping)."""
    return _held(worker, pks).update(state=State.PENDING, lease_owner="", lease_until=None)


def _held(worker: str, pks: list[int]) -> QuerySet[MetricCheck]:
    return MetricCheck.objects.filter(pk__in=pks, lease_owner=worker, state=State.RUNNING)


def run_due(
    worker: str,
    *,
    now: dt.datetime | None = None,
    limit: int = BATCH_SIZE,
    max_batches: int = MAX_BATCHES,
    should_stop: Callable[[], bool] = lambda: False,
    where: Q | None = None,
) -> int:
    """Claim and read batches of due checks until none is left (or `max_batches`). Returns how
    many checks were handled (read, deferred, failed or paused)."""
    handled = 0
    for _batch in range(max_batches):
        pks = claim(worker, now=now, limit=limit, where=where)
        if not pks:
            break
        handled += process_batch(pks, worker, now=now, should_stop=should_stop)
        if len(pks) < limit or should_stop():
            break
    publisher.LIMITER.give_back(timezone.now())
    return handled


def process_batch(
    pks: list[int], worker: str, *, now: dt.datetime | None = None, should_stop: Callable[[], bool] = lambda: False
) -> int:
    """Read the claimed checks, channel by channel. Returns how many were handled; the rest were
    released (`should_stop()` turned true)."""
    now = _now(now)
    checks = list(_held(worker, pks).select_related("delivery", "channel__workspace").order_by("due_at", "id"))
    by_channel: dict[int, list[MetricCheck]] = defaultdict(list)
    for check in checks:
        by_channel[check.channel_id].append(check)
    handled = 0
    groups = list(by_channel.values())
    for position, group in enumerate(groups):
        if should_stop():
            release(worker, [check.pk for rest in groups[position:] for check in rest])
            return handled
        _read_channel(group[0].channel, group, worker, now)
        handled += len(group)
    return handled


def _read_channel(channel: Channel, checks: list[MetricCheck], worker: str, now: dt.datetime) -> None:
    """Read the figures of one channel's claimed checks: one call per REMOTES_PER_CALL posts."""
    if channel.health in UNREADABLE_HEALTH:
        _pause(channel, worker, _("The channel must be reconnected before its figures can be read."))
        return
    try:
        connector = channel.connector
    except UnknownNetwork:
        _finish(checks, worker, now, State.SKIPPED, _("This network is not available on this server."))
        return
    if connector.assisted:
        _finish(checks, worker, now, State.SKIPPED, _("This network has no API: figures are entered by hand."))
        return
    readable = [check for check in checks if check.delivery is None or _published(check.delivery)]
    unreadable = [check for check in checks if check not in readable]
    _finish(unreadable, worker, now, State.SKIPPED, _("The post is not published (any more)."))
    deliveries: dict[int, Delivery] = {}
    for check in readable:
        if check.delivery is not None:
            deliveries.setdefault(check.delivery.pk, check.delivery)
    ordered = list(deliveries.values())
    chunks = [ordered[start : start + REMOTES_PER_CALL] for start in range(0, len(ordered), REMOTES_PER_CALL)] or [[]]
    groups = []
    for index, chunk in enumerate(chunks):
        ids = {delivery.pk for delivery in chunk}
        daily = [check for check in readable if check.delivery_id is None] if index == 0 else []
        groups.append((chunk, [check for check in readable if check.delivery_id in ids] + daily))
    for index, (chunk, group) in enumerate(groups):
        if not group:
            continue
        later = [check for _chunk, rest in groups[index + 1 :] for check in rest]
        if not _read(channel, connector, chunk, group, later, worker, now):
            return


def _published(delivery: Delivery) -> bool:
    return delivery.state == Delivery.State.PUBLISHED and bool(delivery.remote_id)


def _take_tokens(channel: Channel, connector: Network, wanted: int, now: dt.datetime) -> tuple[int, dt.datetime]:
    """Up to `wanted` tokens (one per request a call may make) from the channel's and network's
    shared buckets. Returns how many were taken, and when the next one will be there (the job's
    clock) if fewer than wanted."""
    needed = ratelimit.buckets(channel.pk, connector)
    wall = timezone.now()
    publisher.LIMITER.plan(needed * wanted)
    for taken in range(wanted):
        available_at = publisher.LIMITER.take(needed, wall)
        if available_at is not None:
            return taken, now + (available_at - wall)
    return wanted, now


def _read(
    channel: Channel,
    connector: Network,
    chunk: list[Delivery],
    checks: list[MetricCheck],
    later: list[MetricCheck],
    worker: str,
    now: dt.datetime,
) -> bool:
    """One `fetch_metrics` call for `chunk` (its checks: `checks`) and what follows from it.
    Returns False when the channel's remaining checks (`later`) must wait: they were deferred or
    paused here."""
    # A call asks for each post and for the channel's own figures: one request each at most.
    go_on = True
    taken, available_at = _take_tokens(channel, connector, len(chunk) + 1, now)
    if taken < len(chunk) + 1:
        if taken < 2:
            _defer(checks + later, worker, available_at)
            return False
        # Enough tokens for some of the posts: read those, the rest waits for the bucket.
        chunk = chunk[: taken - 1]
        kept = {delivery.pk for delivery in chunk}
        waiting = [check for check in checks if check.delivery_id is not None and check.delivery_id not in kept]
        _defer(waiting + later, worker, available_at)
        checks = [check for check in checks if check not in waiting]
        later, go_on = [], False
    if not _renew(checks, worker):
        return go_on  # lost to another worker (our lease had expired): nothing read here
    remotes = [Remote(id=d.remote_id, url=d.remote_url, published_at=d.published_at) for d in chunk]
    try:
        metrics = connector.fetch_metrics(channel, remotes)
    except Exception as exc:
        error = _as_network_error(exc)
        if error.auth:
            _pause(channel, worker, error.message)
            return False
        if error.retry_after:
            wall = timezone.now()
            blocked = ratelimit.blocked_by_429(channel.pk, connector)
            publisher.LIMITER.block(blocked, wall + dt.timedelta(seconds=error.retry_after), wall)
            _defer(checks + later, worker, now + dt.timedelta(seconds=error.retry_after))
            return False
        if error.permanent:
            _finish(checks, worker, now, State.FAILED, error.message)
            return go_on
        due_at = _retry(checks, worker, now, error)
        _defer(later, worker, due_at)  # the network is struggling: the rest waits as long
        return False
    _store(channel, chunk, checks, metrics, worker, now)
    return go_on


def _as_network_error(exc: Exception) -> NetworkError:
    if isinstance(exc, NetworkError):
        return exc
    log.error("connector raised %s instead of NetworkError", type(exc).__name__, exc_info=exc)
    return NetworkError(f"{type(exc).__name__}: {exc}")


def _renew(checks: list[MetricCheck], worker: str) -> bool:
    """Extend the lease of these checks before the call; False if this worker holds none of
    them any more."""
    if not checks:
        return False
    renewed = _held(worker, [check.pk for check in checks]).update(lease_until=timezone.now() + LEASE)
    return renewed > 0


def split_values(values: dict[str, Any], columns: tuple[str, ...]) -> tuple[dict[str, int], dict[str, int]]:
    """A network's counts as (our columns, the rest for `extra`). A column's own name wins over an
    alias (ALIASES); values that are no whole number of at least 0 are left out."""
    known: dict[str, int] = {}
    extra: dict[str, int] = {}
    clean = {
        key: value
        for key, value in values.items()
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0
    }
    for key, value in clean.items():
        if key in columns:
            known[key] = value
    for key, value in clean.items():
        if key in columns:
            continue
        column = ALIASES.get(key)
        if column in columns and column not in known:
            known[column] = value
        else:
            extra[key] = value
    return known, extra


def _store(
    channel: Channel,
    chunk: list[Delivery],
    checks: list[MetricCheck],
    metrics: list[Metric],
    worker: str,
    now: dt.datetime,
) -> None:
    """Store what one call returned and close its checks, in one transaction, for the checks
    this worker still holds."""
    requested = {delivery.remote_id: delivery for delivery in chunk}
    found: dict[int, Metric] = {}
    account: Metric | None = None
    for metric in metrics:
        delivery = requested.get(metric.remote_id)
        if delivery is not None:
            found[delivery.pk] = metric
        elif metric.remote_id == channel.remote_account_id or "followers" in metric.values:
            account = metric
    with transaction.atomic():
        held = _held(worker, [check.pk for check in checks]).select_for_update()
        owned = set(held.values_list("pk", flat=True))
        if not owned:
            return
        mine = [check for check in checks if check.pk in owned]
        snapshots = []
        for delivery_id in sorted({check.delivery_id for check in mine if check.delivery_id in found}):
            metric = found[delivery_id]
            known, extra = split_values(metric.values, POST_METRICS)
            snapshots.append(
                PostMetricSnapshot(
                    workspace_id=channel.workspace_id,
                    delivery_id=delivery_id,
                    observed_at=metric.observed_at,
                    source=Source.API,
                    extra=extra,
                    **known,
                )
            )
        PostMetricSnapshot.objects.bulk_create(snapshots, ignore_conflicts=True)
        if account is not None:
            store_channel_figures(channel, account)
        missing = [check for check in mine if check.delivery_id is not None and check.delivery_id not in found]
        _finish(missing, worker, now, State.DONE, _("The network did not return this post (deleted?)."))
        _finish([check for check in mine if check not in missing], worker, now, State.DONE, "")


def store_channel_figures(channel: Channel, metric: Metric) -> None:
    """The channel's figures of the day (in the workspace's zone): the latest observation wins."""
    known, extra = split_values(metric.values, CHANNEL_COLUMNS)
    day = timezone.localtime(metric.observed_at, channel.workspace.tz).date()
    ChannelMetricSnapshot.objects.bulk_create(
        [
            ChannelMetricSnapshot(
                workspace_id=channel.workspace_id,
                channel=channel,
                day=day,
                observed_at=metric.observed_at,
                source=Source.API,
                followers=known.get("followers"),
                extra=extra,
            )
        ],
        update_conflicts=True,
        unique_fields=["channel", "day", "source"],
        update_fields=["observed_at", "followers", "extra"],
    )


def _finish(checks: list[MetricCheck], worker: str, now: dt.datetime, state: str, error: str) -> None:
    """Close these checks (guarded by the lease). A closed check that ran (done or failed) makes
    the next one: a daily check the channel's next day, a checkpoint check the post's next
    checkpoint (scheduling.schedule_next)."""
    if not checks:
        return
    with transaction.atomic():
        held = _held(worker, [check.pk for check in checks])
        closed = set(held.values_list("pk", flat=True))
        held.update(state=state, finished_at=now, last_error=error[:500], lease_owner="", lease_until=None)
        if state in (State.DONE, State.FAILED):
            mine = [check for check in checks if check.pk in closed]
            daily = {
                check.channel_id: check.channel for check in mine if check.checkpoint == MetricCheck.Checkpoint.DAILY
            }
            nexts = [daily_check(channel, now + DAILY) for channel in daily.values()]
            MetricCheck.objects.bulk_create(nexts, ignore_conflicts=True)
            schedule_next(mine, now, state=state, error=error)
    if state == State.FAILED:
        log.warning("metric checks %s failed: %s", [check.pk for check in checks], error)


def _defer(checks: list[MetricCheck], worker: str, due_at: dt.datetime) -> None:
    """Back to pending, due at `due_at`, without counting an attempt (waiting for a rate limit
    is no failure)."""
    if checks:
        _held(worker, [check.pk for check in checks]).update(
            state=State.PENDING, due_at=due_at, lease_owner="", lease_until=None
        )


def _retry(checks: list[MetricCheck], worker: str, now: dt.datetime, error: NetworkError) -> dt.datetime:
    """A transient error: each check is tried again after a backoff, or fails after
    MAX_ATTEMPTS. Returns when the retries are due."""
    attempts = max(check.attempts for check in checks) + 1
    due_at = now + publisher.backoff(attempts, error.retry_after)
    given_up = [check for check in checks if check.attempts + 1 >= MAX_ATTEMPTS]
    trying = [check for check in checks if check not in given_up]
    message = error.message[:500]
    for check in trying:
        _held(worker, [check.pk]).update(
            state=State.PENDING,
            due_at=due_at,
            attempts=check.attempts + 1,
            last_error=message,
            lease_owner="",
            lease_until=None,
        )
    if given_up:
        _held(worker, [check.pk for check in given_up]).update(attempts=MAX_ATTEMPTS)
        _finish(given_up, worker, now, State.FAILED, message)
    return due_at


def _pause(channel: Channel, worker: str, message: str) -> None:
    """Stop reading this channel until it is reconnected: its due checks and the ones this
    worker holds are paused (scheduling.schedule_backfill resumes them)."""
    MetricCheck.objects.filter(channel=channel).filter(
        Q(state=State.PENDING) | Q(state=State.RUNNING, lease_owner=worker)
    ).update(state=State.PAUSED, last_error=message[:500], lease_owner="", lease_until=None)
    log.warning("metric checks of channel %s paused: %s", channel.pk, message)
