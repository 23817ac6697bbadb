"""Rate limits shared by every worker: one token bucket per declared limit (docs/publishing.md).

Each network declares its limits once, as `Network.rate_limits` (networks/base.py `RateLimit`):
per channel (one account's limit) or per network (our app's limit across its accounts). Each
limit is a `RateBucket` row, `channel:<id>:<seconds>s` or `network:<key>:<seconds>s`, holding up
to `requests` tokens that refill evenly over `seconds`. A network call needs one token from
every bucket of its channel and network.

Buckets live in the database, so every worker on every machine shares them. A worker takes
tokens with a conditional UPDATE (compare and swap: `WHERE key = ? AND tokens = <read> AND
refilled_at = <read>`; when another worker changed the row first, it reads again), which works
the same on SQLite and PostgreSQL and holds no lock across anything else.

So that the hot path does not write to the database for every call, a worker reserves several
tokens at once (what its batch needs, at most a tenth of the bucket and RESERVE_MAX; with a
backlog of due deliveries, a tenth of the bucket whatever the batch needs) and keeps them for
RESERVE_SECONDS.
Unused tokens go back to the bucket when the reservation runs out; a worker that dies holding
some simply loses them (the bucket refills at its rate). Reservations cost accuracy only in the
safe direction, with one exception, bounded: after a 429, other workers may still spend the
tokens they hold (at most one reservation per bucket and worker, for RESERVE_SECONDS).

A 429 (a `NetworkError` with `retry_after`) blocks the channel's buckets (the network's when it
declares only network limits) for every worker: the bucket goes into debt until the time the
network asked for, and this worker drops its own reservations of it.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from stammtisch.core.db import any_of, db_time, plain_cursor
from stammtisch.networks.base import Network, RateLimit
from stammtisch.publishing.models import RateBucket

RESERVE_MAX = 100  # tokens a worker takes at once, at most
RESERVE_SECONDS = 10.0  # a reservation's lifetime; then the unused tokens go back
CAS_TRIES = 20

Bucket = tuple[str, RateLimit]


def buckets(channel_id: int, network: Network) -> list[Bucket]:
    """The buckets a call on this channel takes a token from, in a fixed order."""
    found = []
    for limit in network.rate_limits:
        owner = f"channel:{channel_id}" if limit.per == "channel" else f"network:{network.key}"
        found.append((f"{owner}:{limit.seconds:g}s", limit))
    return found


def blocked_by_429(channel_id: int, network: Network) -> list[Bucket]:
    """The buckets a 429 on this channel blocks: the channel's, or the network's when it
    declares no per-channel limit."""
    all_buckets = buckets(channel_id, network)
    return [bucket for bucket in all_buckets if bucket[1].per == "channel"] or all_buckets


def reserve_size(limit: RateLimit) -> int:
    return max(1, min(RESERVE_MAX, limit.requests // 10))


@dataclass
class _Reservation:
    limit: RateLimit
    tokens: int
    expires: float  # monotonic seconds


class Limiter:
    """One worker's view of the shared buckets, with its reservations. `clock` is monotonic
    seconds (tests pass their own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.reserved: dict[str, _Reservation] = {}
        self.planned: dict[str, int] = {}  # calls the current batch still needs per bucket

    def plan(self, needs: Iterable[Bucket]) -> None:
        """Say which calls the batch at hand will make (one entry per call), so that a
        reservation takes no more than the batch needs: tokens held by a worker that is killed
        are lost until the bucket refills."""
        self.planned = {}
        for key, _limit in needs:
            self.planned[key] = self.planned.get(key, 0) + 1

    def take(self, needed: Iterable[Bucket], now: dt.datetime) -> dt.datetime | None:
        """One token from each bucket, or none at all. Returns None when taken, otherwise when
        the emptiest bucket will have a token again (`now` is the wall clock)."""
        taken: list[str] = []
        later: dt.datetime | None = None
        for key, limit in needed:
            reservation = self._reservation(key, limit, now)
            if reservation.tokens > 0:
                reservation.tokens -= 1
                taken.append(key)
                self._planned_one(key)
                continue
            want = min(reserve_size(limit), max(1, self.planned.get(key, 1)))
            obtained, available_at = _take(key, limit, want, now)
            if obtained:
                self.reserved[key] = _Reservation(limit, obtained - 1, self.clock() + RESERVE_SECONDS)
                taken.append(key)
                self._planned_one(key)
            else:
                later = max(later, available_at) if later is not None else available_at
        if later is None:
            return None
        for key in taken:  # all or nothing: keep them for the next call
            self.reserved[key].tokens += 1
        return later

    def reserve(self, needs: Iterable[Bucket], now: dt.datetime, *, ahead: bool = False) -> None:
        """Plan a batch (see `plan`) and top up this worker's reservations for every bucket it
        needs in one transaction, so the batch's `take` calls find their tokens here and do not
        write to the database once per call (a batch across 100 channels needs 100 buckets).
        `ahead` (a backlog: more batches follow at once): a bucket that is short gets a whole
        reservation (`reserve_size`), not just what this batch needs, so the next batches find
        their tokens here too instead of writing to every bucket again."""
        self.plan(needs)
        limits = dict(needs)
        short: dict[str, tuple[RateLimit, int]] = {}
        for key, count in self.planned.items():
            limit = limits[key]
            have = self._reservation(key, limit, now).tokens
            if have < count:
                size = reserve_size(limit)
                short[key] = (limit, size if ahead else min(size, count - have))
        for key, obtained in _take_many(short, now).items():
            self.reserved[key].tokens += obtained

    def _planned_one(self, key: str) -> None:
        if self.planned.get(key, 0) > 0:
            self.planned[key] -= 1

    def _reservation(self, key: str, limit: RateLimit, now: dt.datetime) -> _Reservation:
        reservation = self.reserved.get(key)
        if reservation is not None and reservation.expires <= self.clock():
            if reservation.tokens > 0:
                _give_back(key, limit, reservation.tokens, now)
            reservation = None
        if reservation is None:
            reservation = self.reserved[key] = _Reservation(limit, 0, self.clock() + RESERVE_SECONDS)
        return reservation

    def give_back(self, now: dt.datetime, everything: bool = False) -> None:
        """Return the unused tokens of expired reservations (of all with `everything`)."""
        for key, reservation in list(self.reserved.items()):
            if everything or reservation.expires <= self.clock():
                del self.reserved[key]
                if reservation.tokens > 0:
                    _give_back(key, reservation.limit, reservation.tokens, now)

    def block(self, needed: Iterable[Bucket], until: dt.datetime, now: dt.datetime) -> None:
        """Empty these buckets for every worker until `until` (a 429 with Retry-After)."""
        for key, limit in needed:
            self.reserved.pop(key, None)
            _block(key, limit, until, now)


def _available(row: _Row, limit: RateLimit, now: dt.datetime) -> float:
    elapsed = max(0.0, (now - row.refilled_at).total_seconds())
    return min(float(limit.requests), row.tokens + elapsed * limit.rate)


def _table() -> str:
    return connection.ops.quote_name(RateBucket._meta.db_table)


@dataclass(frozen=True)
class _Row:
    tokens: float
    refilled_at: dt.datetime
    raw: tuple[Any, Any]  # as the database returned them, for the conditional UPDATE


def _read(key: str, limit: RateLimit, now: dt.datetime) -> _Row:
    """The bucket as it is; a missing bucket is created full. Plain SQL: this runs for every
    reservation, and the ORM's query building would cost more than the query."""
    while True:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT tokens, refilled_at FROM {_table()} WHERE key = %s", [key])  # noqa: S608
            row = cursor.fetchone()
        if row is not None:
            return _Row(float(row[0]), _to_datetime(row[1]), (row[0], row[1]))
        RateBucket.objects.bulk_create(
            [RateBucket(key=key, tokens=limit.requests, refilled_at=now)], ignore_conflicts=True
        )


def _to_datetime(value: object) -> dt.datetime:
    """PostgreSQL returns an aware datetime; SQLite the text Django stored (UTC, naive)."""
    parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(parsed, dt.datetime)
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)


def _swap(key: str, old: _Row, tokens: float, refilled_at: dt.datetime) -> bool:
    """The conditional UPDATE: only if nobody changed the bucket since we read `old`."""
    after = db_time(refilled_at)
    statement = (
        f"UPDATE {_table()} SET tokens = %s, refilled_at = %s "  # noqa: S608 (the model's table)
        "WHERE key = %s AND tokens = %s AND refilled_at = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [tokens, after, key, *old.raw])
        return cursor.rowcount == 1


def _take(key: str, limit: RateLimit, want: int, now: dt.datetime) -> tuple[int, dt.datetime]:
    """Take up to `want` tokens (at least one). Returns (how many, when one will be available
    if none was)."""
    for _try in range(CAS_TRIES):
        old = _read(key, limit, now)
        available = _available(old, limit, now)
        if available < 1:
            return 0, now + dt.timedelta(seconds=(1 - available) / limit.rate)
        count = min(want, math.floor(available))
        if _swap(key, old, available - count, max(now, old.refilled_at)):
            return count, now
    return 0, now + dt.timedelta(seconds=0.05)  # heavy contention: try again in a moment


def _take_many(wanted: dict[str, tuple[RateLimit, int]], now: dt.datetime) -> dict[str, int]:
    """Take up to `want` tokens from each bucket (fewer, or none, where fewer are available),
    in one transaction: PostgreSQL locks the rows (in key order, so two workers never wait for
    each other in a circle), SQLite holds its write lock (IMMEDIATE transactions). Other
    workers' compare-and-swap updates of the same rows simply read again. Returns the tokens
    obtained per key."""
    if not wanted:
        return {}
    keys = sorted(wanted)
    in_keys, params = any_of("key", keys, "text")
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = f"SELECT key, tokens, refilled_at FROM {_table()} WHERE {in_keys} ORDER BY key{lock}"  # noqa: S608
    obtained: dict[str, int] = {}
    with transaction.atomic():
        with plain_cursor() as cursor:
            cursor.execute(select, params)
            rows = {
                key: _Row(float(tokens), _to_datetime(refilled), (tokens, refilled))
                for key, tokens, refilled in cursor.fetchall()
            }
        missing = [key for key in keys if key not in rows]
        if missing:
            RateBucket.objects.bulk_create(
                [RateBucket(key=key, tokens=wanted[key][0].requests, refilled_at=now) for key in missing],
                ignore_conflicts=True,
            )
            with plain_cursor() as cursor:
                cursor.execute(select, params)
                rows = {
                    key: _Row(float(tokens), _to_datetime(refilled), (tokens, refilled))
                    for key, tokens, refilled in cursor.fetchall()
                }
        updates = []
        for key in keys:
            row = rows.get(key)
            if row is None:
                continue
            limit, want = wanted[key]
            available = _available(row, limit, now)
            count = min(want, math.floor(available)) if available >= 1 else 0
            if count > 0:
                obtained[key] = count
                after = db_time(max(now, row.refilled_at))
                updates.append((available - count, after, key))
        if updates:
            with plain_cursor() as cursor:
                cursor.executemany(f"UPDATE {_table()} SET tokens = %s, refilled_at = %s WHERE key = %s", updates)  # noqa: S608
    return obtained


def _give_back(key: str, limit: RateLimit, tokens: int, now: dt.datetime) -> None:
    for _try in range(CAS_TRIES):
        old = _read(key, limit, now)
        available = _available(old, limit, now)
        if available < 0:
            return  # blocked after a 429 meanwhile: the block stands
        if _swap(key, old, min(available + tokens, float(limit.requests)), max(now, old.refilled_at)):
            return


def _block(key: str, limit: RateLimit, until: dt.datetime, now: dt.datetime) -> None:
    """Debt: the bucket reaches one token only at `until`, unless it was blocked for longer."""
    debt = 1 - max(0.0, (until - now).total_seconds()) * limit.rate
    for _try in range(CAS_TRIES):
        old = _read(key, limit, now)
        tokens = min(_available(old, limit, now), debt)
        if _swap(key, old, tokens, max(now, old.refilled_at)):
            return
