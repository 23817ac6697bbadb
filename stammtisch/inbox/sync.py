"""The inbox sync job of `stammtisch worker`: reads each channel's activity since its cursor
(docs/inbox.md "Ingestion").

    active ──claim──> (leased) ──page stored, cursor advanced──> active, due after its interval
                          ├─ no rate-limit token / 429 ──> due when the network allows
                          ├─ transient error ──> due after a backoff (failures counted)
                          ├─ auth error ──> paused (channel health is the publisher's business)
                          └─ network without fetch_activity ──> unsupported

A worker claims due `SyncState` rows with a lease, as the publisher claims deliveries:
`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional UPDATE on SQLite, so two
workers never read the same channel at once. The network call happens outside any transaction;
each page's events and the cursor after it are stored in one transaction, only while this
worker still holds the lease: a cursor never moves past events that are not stored, and a
worker whose lease ran out stores nothing. Each call takes a token from the channel's and
network's shared rate-limit buckets (publishing/ratelimit.py), so reading and publishing share
each network's limits.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from stammtisch.inbox import ingest
from stammtisch.inbox.models import SyncState
from stammtisch.networks.base import Network, NetworkError
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.publishing import publisher, ratelimit

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
BATCH_SIZE = 20  # channels per claim
MAX_PAGES = 20  # pages per channel and pass; more waits for the next pass (due at once)
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_MAX = dt.timedelta(hours=1)
UNREADABLE_HEALTH = (Channel.Health.NEEDS_RECONNECT, Channel.Health.DISCONNECTED)
State = SyncState.State


class LeaseLost(Exception):
    """Another worker took the channel over (our lease expired): nothing of ours is stored."""


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else timezone.now()


def ensure_states(now: dt.datetime) -> int:
    """A SyncState for every connected channel that has none yet (due at once)."""
    missing = Channel.objects.filter(inbox_sync__isnull=True).exclude(health=Channel.Health.DISCONNECTED)
    rows = [
        SyncState(workspace_id=workspace_id, channel_id=pk, next_sync_at=now)
        for pk, workspace_id in missing.values_list("pk", "workspace_id")
    ]
    SyncState.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def claimable(now: dt.datetime, wall: dt.datetime) -> Q:
    due = Q(state=State.ACTIVE, next_sync_at__lte=now, lease_owner="")
    return due | Q(state=State.ACTIVE, lease_until__lt=wall)


def claim(worker: str, *, now: dt.datetime | None = None, limit: int = BATCH_SIZE, where: Q | None = None) -> list[int]:
    """Claim up to `limit` due channels' sync states for `worker`; returns their ids."""
    now = _now(now)
    wall = timezone.now()
    lease_until = wall + LEASE
    lease = {"lease_owner": worker, "lease_until": lease_until}
    due = claimable(now, wall)
    if where is not None:
        due &= where
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            pks = list(
                SyncState.objects.select_for_update(skip_locked=True)
                .filter(due)
                .order_by("next_sync_at", "id")
                .values_list("id", flat=True)[:limit]
            )
            SyncState.objects.filter(pk__in=pks).update(**lease)
            return pks
        candidates = list(
            SyncState.objects.filter(due).order_by("next_sync_at", "id").values_list("id", flat=True)[:limit]
        )
        if SyncState.objects.filter(due, pk__in=candidates).update(**lease) == len(candidates):
            return candidates
        mine = SyncState.objects.filter(pk__in=candidates, lease_owner=worker, lease_until=lease_until)
        return list(mine.values_list("id", flat=True))


def _held(worker: str, pk: int) -> QuerySet[SyncState]:
    return SyncState.objects.filter(pk=pk, lease_owner=worker)


def run_due(
    worker: str,
    *,
    now: dt.datetime | None = None,
    limit: int = BATCH_SIZE,
    should_stop: Callable[[], bool] = lambda: False,
    where: Q | None = None,
) -> int:
    """Read every due channel (one claim of up to `limit`). Returns how many new messages and
    interactions were stored."""
    now = _now(now)
    ensure_states(now)
    stored = 0
    pks = claim(worker, now=now, limit=limit, where=where)
    for position, pk in enumerate(pks):
        if should_stop():
            SyncState.objects.filter(pk__in=pks[position:], lease_owner=worker).update(lease_owner="", lease_until=None)
            break
        stored += sync_one(pk, worker, now=now)
    publisher.LIMITER.give_back(timezone.now())
    return stored


def sync_one(pk: int, worker: str, *, now: dt.datetime) -> int:
    """Read one claimed channel page by page; returns how many new rows were stored."""
    state = SyncState.objects.select_related("channel").get(pk=pk)
    channel = state.channel
    if channel.health in UNREADABLE_HEALTH:
        _finish(state, worker, new_state=State.PAUSED, error="The channel must be reconnected.")
        return 0
    try:
        connector = channel.connector
    except UnknownNetwork:
        _finish(state, worker, new_state=State.UNSUPPORTED, error="This network is not available on this server.")
        return 0
    if connector.assisted:
        _finish(state, worker, new_state=State.UNSUPPORTED, error="This network has no API.")
        return 0
    stored = 0
    cursor = dict(state.cursor or {})
    for _page in range(MAX_PAGES):
        wait = _token_wait(channel, connector, now)
        if wait is not None:
            _finish(state, worker, next_sync_at=wait)
            return stored
        if not _held(worker, pk).update(lease_until=timezone.now() + LEASE):
            return stored  # lost the lease: another worker reads this channel now
        try:
            events, next_cursor = connector.fetch_activity(channel, cursor)
        except NotImplementedError:
            _finish(state, worker, new_state=State.UNSUPPORTED, error="This network does not report activity.")
            return stored
        except Exception as exc:
            _failed(state, worker, channel, connector, _as_network_error(exc), now)
            return stored
        try:
            with transaction.atomic():
                if not _held(worker, pk).select_for_update().exists():
                    raise LeaseLost
                result = ingest.store_events(channel, events, now=now)
                _held(worker, pk).update(cursor=next_cursor, last_synced_at=now, failures=0, last_error="")
        except LeaseLost:
            log.warning("inbox sync of channel %s: lease lost, nothing stored", channel.pk)
            return stored
        stored += result.messages + result.interactions
        if not events or next_cursor == cursor:
            _finish(state, worker, next_sync_at=now + dt.timedelta(seconds=state.interval_seconds))
            _synced(channel, now, next_cursor)
            return stored
        cursor = next_cursor
    _finish(state, worker, next_sync_at=now)  # more pages: due again at once
    _synced(channel, now, cursor)
    return stored


def _synced(channel: Channel, now: dt.datetime, cursor: dict[str, Any]) -> None:
    """A pass read the channel to its end (or to the page limit): the health page's "last
    successful sync", and the cursor, where a connector reads back what it learned while reading
    (Telegram: which group message forwards which channel post). One UPDATE per pass, however
    many events."""
    Channel.objects.filter(pk=channel.pk).update(last_synced_at=now, sync_cursor=cursor)
    channel.sync_cursor = cursor


def _token_wait(channel: Channel, connector: Network, now: dt.datetime) -> dt.datetime | None:
    """None if a token was taken from every bucket of the channel; otherwise when to try again."""
    wall = timezone.now()
    available_at = publisher.LIMITER.take(ratelimit.buckets(channel.pk, connector), wall)
    return None if available_at is None else now + (available_at - wall)


def backoff(failures: int, retry_after: float | None = None) -> dt.timedelta:
    """30 s, 1 min, 2 min, ... up to an hour; never shorter than the network asked for."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** max(failures - 1, 0)))
    if retry_after:
        delay = max(delay, dt.timedelta(seconds=retry_after))
    return delay


def _as_network_error(exc: Exception) -> NetworkError:
    if isinstance(exc, NetworkError):
        return exc
    log.error("connector raised %s instead of NetworkError", type(exc).__name__, exc_info=exc)
    return NetworkError(f"{type(exc).__name__}: {exc}")


def _failed(
    state: SyncState, worker: str, channel: Channel, connector: Network, error: NetworkError, now: dt.datetime
) -> None:
    if error.auth:
        # Stop reading; whether the channel needs reconnecting is decided by the publisher and
        # the health checks (a token may lack only the permission to read comments).
        _finish(state, worker, new_state=State.PAUSED, error=error.message)
        log.warning("inbox sync of channel %s paused: %s", channel.pk, error.message)
        return
    if error.retry_after:
        wall = timezone.now()
        blocked = ratelimit.blocked_by_429(channel.pk, connector)
        publisher.LIMITER.block(blocked, wall + dt.timedelta(seconds=error.retry_after), wall)
    failures = state.failures + 1
    _finish(
        state,
        worker,
        next_sync_at=now + backoff(failures, error.retry_after),
        error=error.message,
        failures=failures,
    )
    log.warning("inbox sync of channel %s failed (%d in a row): %s", channel.pk, failures, error.message)


def _finish(
    state: SyncState,
    worker: str,
    *,
    new_state: str | None = None,
    next_sync_at: dt.datetime | None = None,
    error: str | None = None,
    failures: int | None = None,
) -> None:
    """End this worker's hold on the channel (guarded by the lease)."""
    fields: dict[str, object] = {"lease_owner": "", "lease_until": None}
    if new_state is not None:
        fields["state"] = new_state
    if next_sync_at is not None:
        fields["next_sync_at"] = next_sync_at
    if error is not None:
        fields["last_error"] = error[:500]
    if failures is not None:
        fields["failures"] = failures
    _held(worker, state.pk).update(**fields)


def resume(channel: Channel) -> None:
    """The channel was (re)connected: read it again, at once."""
    SyncState.objects.filter(channel=channel).exclude(state=State.ACTIVE).update(
        state=State.ACTIVE, next_sync_at=timezone.now(), failures=0, last_error=""
    )
