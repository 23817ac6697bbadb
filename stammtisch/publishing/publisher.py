"""The publisher: claims due deliveries and publishes each one exactly once (docs/publishing.md).

The state machine (DESIGN.md "Publishing: exactly once"):

    scheduled ──claim──> publishing ──ok──> published
    retry_wait ─claim─┘      │ ├─ transient error ──> retry_wait (backoff + jitter, Retry-After)
    unknown ──claim──┘       │ ├─ outcome unknown / connector crash ──> unknown
    (lease expired) ─────────┘ └─ permanent or auth error, too many attempts ──> failed

A claim sets `state=publishing` with a lease (`lease_owner`, `lease_until`). A claimed row whose
previous state was `unknown`, or a `publishing` row whose lease expired (its worker died
mid-call), is reconciled first: `find_published(idempotency_key)` decides whether the earlier
attempt went through, and only "not found" leads to a new `publish`. Every network call is
recorded as a `DeliveryAttempt` before it is made. Every write after a call is guarded by
`lease_owner`, so a worker whose lease expired cannot overwrite the work of the worker that took
over. The lease (five minutes) is renewed when each call starts and is far longer than any
connector call may take (the HTTP client's timeout), which is what makes the take-over safe: a
row is only taken over when its worker is gone (or stalled for minutes).

Every function takes `now` so tests, the demo and benchmarks can drive it without threads or
sleeps. `now` is the publisher's clock for due times and time stamps; leases always use the wall
clock (`timezone.now()`), so a back-dated run cannot hand out leases that look expired.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import F, Field, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core import db
from stammtisch.core.actions import Actor, audit
from stammtisch.networks.base import MediaItem, Network, NetworkError, Outgoing, Remote
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.publishing import media, ratelimit, signals
from stammtisch.publishing.models import Delivery, DeliveryAttempt, Post

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
BATCH_SIZE = 100
CALLS_PER_TRANSACTION = 100  # first publishes recorded, then stored, in groups this large at most
GROUP_TIME = dt.timedelta(seconds=2)  # ... and outcomes stored at least this often while calls are slow
MAX_ATTEMPTS = 8  # network calls (publish and check) per delivery before it fails for good
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_MAX = dt.timedelta(hours=1)
CHECK_DELAY = dt.timedelta(seconds=10)  # pause before asking the network about an unknown outcome
LATE_AFTER = dt.timedelta(minutes=5)  # a claim this late is logged: no worker was running
MAX_COMMENT_CALLS = 4  # first comment: calls (reply and check) before it is shown as an error
COMMENT_WINDOW = dt.timedelta(days=1)  # first comments are retried this long after the post's due time
ASSISTED_WAIT = dt.timedelta(days=30)  # an assisted post (Xing) waits this long for a person, then reminds
LIMITER = ratelimit.Limiter()  # this process's view of the shared rate-limit buckets
NOTIFY_CHANNEL = "stammtisch_due"

State = Delivery.State
WAITING_STATES = (State.SCHEDULED, State.RETRY_WAIT, State.UNKNOWN)

# The hot path of a burst (claim, recording attempts, storing outcomes) writes with plain SQL:
# under SQLite's one writer, the ORM's statement building inside those transactions cost more
# than the statements themselves (docs/benchmarks.md). Names come from the models.
_DELIVERIES = f'"{Delivery._meta.db_table}"'
_ATTEMPTS = f'"{DeliveryAttempt._meta.db_table}"'
_POSTS = f'"{Post._meta.db_table}"'
_CHANNELS_TABLE = f'"{Channel._meta.db_table}"'


def _marks(values: Any) -> str:
    return ", ".join(["%s"] * len(values))


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _state_by_id() -> str:
    """`state` in a condition on rows found by id (`id IN (...)`): on SQLite `+state`, which keeps
    the planner from reading them through an index on `state` (without table statistics it takes
    that for the smaller set, and reads every row of the state instead of a few by id)."""
    return "+state" if connection.vendor == "sqlite" else "state"


_db_time = db.db_time  # a time stamp as the driver takes it


PENDING_STATES = (State.SCHEDULED, State.RETRY_WAIT)  # never sent: may still be cancelled


@dataclass(frozen=True, slots=True)
class Attempt:
    """A recorded call (a `DeliveryAttempt` row), as far as the publisher needs it."""

    pk: int
    delivery_id: int
    kind: str


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds the lease of, and the state it had before the claim."""

    delivery_id: int
    previous_state: str

    @property
    def needs_check(self) -> bool:
        # `unknown`, or `publishing` whose worker died: the earlier call may have gone through.
        return self.previous_state in (State.UNKNOWN, State.PUBLISHING)


def configure(
    *,
    lease: float | None = None,
    retry_base: float | None = None,
    retry_max: float | None = None,
    check_delay: float | None = None,
) -> None:
    """Change the publisher's timings for this process, in seconds (`stammtisch worker --lease
    ...`; the chaos benchmark uses seconds instead of minutes). A lease must stay far longer than
    any connector call may take (the HTTP client's timeout): docs/publishing.md."""
    global LEASE, BACKOFF_BASE, BACKOFF_MAX, CHECK_DELAY
    for name, value in (("lease", lease), ("retry_base", retry_base), ("retry_max", retry_max)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive")
    if check_delay is not None and check_delay < 0:
        raise ValueError("check_delay must not be negative")
    if lease is not None:
        LEASE = dt.timedelta(seconds=lease)
    if retry_base is not None:
        BACKOFF_BASE = dt.timedelta(seconds=retry_base)
    if retry_max is not None:
        BACKOFF_MAX = dt.timedelta(seconds=retry_max)
    if check_delay is not None:
        CHECK_DELAY = dt.timedelta(seconds=check_delay)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else timezone.now()


def claimable(now: dt.datetime, wall: dt.datetime) -> Q:
    """Rows a worker may claim: due and waiting, or leased by a worker whose lease expired."""
    return Q(state__in=WAITING_STATES, due_at__lte=now) | Q(state=State.PUBLISHING, lease_until__lt=wall)


def claim(
    worker: str, *, now: dt.datetime | None = None, limit: int = BATCH_SIZE, where: Q | None = None
) -> list[Claim]:
    """Claim up to `limit` due deliveries for `worker`, oldest due first, in one short transaction.
    `where` narrows the claim (the demo publishes only its own workspace's posts).

    The candidates are the oldest due rows of each claimable state (`claimable`), each state read
    in the order of the claim index (state, due_at, id) and stopped at `limit`, then merged: one
    query with all of `claimable` read every due row and sorted them all, for every batch (a
    burst of N rows cost N squared).

    PostgreSQL: each state's rows `FOR UPDATE SKIP LOCKED` (concurrent workers skip each other's
    rows), then one UPDATE of the oldest. SQLite: one conditional UPDATE per previous state
    (`WHERE id IN (...) AND state=? AND <still claimable>`); when it changed fewer rows than
    selected, the rows it won are looked up by their new lease. SQLite runs one writer at a time
    (IMMEDIATE transactions), so that fallback is a safety net, not a path taken under load.
    """
    now = _now(now)
    wall = timezone.now()
    lease_until = wall + LEASE
    narrow, narrow_params = "", []
    if where is not None:
        subquery, subquery_params = Delivery.objects.filter(where).values("id").query.sql_with_params()
        narrow, narrow_params = f" AND id IN ({subquery})", list(subquery_params)
    parts: list[tuple[str, list[Any]]] = [
        (f"state = %s AND due_at <= %s{narrow}", [state, _db_time(now), *narrow_params]) for state in WAITING_STATES
    ]
    parts.append((f"state = %s AND lease_until < %s{narrow}", [State.PUBLISHING, _db_time(wall), *narrow_params]))
    with transaction.atomic(), db.plain_cursor() as cursor:
        if connection.features.has_select_for_update_skip_locked:
            return _claim_skip_locked(cursor, worker, parts, lease_until, limit)
        return _claim_plain(cursor, worker, now, wall, lease_until, limit, parts)


def _claim_skip_locked(
    cursor: db.PlainCursor, worker: str, parts: list[tuple[str, list[Any]]], lease_until: dt.datetime, limit: int
) -> list[Claim]:
    """`claim` on PostgreSQL (inside its transaction). Rows locked here but not taken (beyond
    `limit` once the states are merged) are free again at the commit, a moment later."""
    candidates: list[tuple[Any, int, str]] = []
    for part, params in parts:
        cursor.execute(
            f"SELECT due_at, id, state FROM {_DELIVERIES} WHERE {part} "  # noqa: S608
            "ORDER BY due_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
            [*params, limit],
        )
        candidates += [(due_at, int(pk), str(state)) for due_at, pk, state in cursor.fetchall()]
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)  # (a leased row without a due time sorts last, as in SQL)
    chosen = sorted(candidates, key=lambda c: (c[0] is None, c[0] or oldest, c[1]))[:limit]
    if chosen:
        in_chosen, ids = db.any_of("id", [pk for _due, pk, _state in chosen])
        cursor.execute(
            f"UPDATE {_DELIVERIES} SET state = %s, lease_owner = %s, lease_until = %s WHERE {in_chosen}",  # noqa: S608
            [State.PUBLISHING, worker, _db_time(lease_until), *ids],
        )
    return [Claim(pk, state) for _due, pk, state in chosen]


def _claim_plain(
    cursor: db.PlainCursor,
    worker: str,
    now: dt.datetime,
    wall: dt.datetime,
    lease_until: dt.datetime,
    limit: int,
    parts: list[tuple[str, list[Any]]],
) -> list[Claim]:
    """`claim` on SQLite (inside its transaction): the parts in one UNION ALL query."""
    union = " UNION ALL ".join(
        f"SELECT * FROM (SELECT id, state, due_at FROM {_DELIVERIES} WHERE {part} ORDER BY due_at, id LIMIT %s)"  # noqa: S608
        for part, _params in parts
    )
    cursor.execute(f"{union} ORDER BY due_at, id LIMIT %s", [v for _p, ps in parts for v in (*ps, limit)] + [limit])
    candidates = [(int(pk), str(state)) for pk, state, _due_at in cursor.fetchall()]
    by_state: dict[str, list[int]] = defaultdict(list)
    for pk, state in candidates:
        by_state[state].append(pk)
    # `+state` (`_state_by_id`): without it, every row of the state was read for every batch.
    waiting = _marks(WAITING_STATES)
    claimable_sql = f"((+state IN ({waiting}) AND due_at <= %s) OR (+state = %s AND lease_until < %s))"
    claimable_params = [*WAITING_STATES, _db_time(now), State.PUBLISHING, _db_time(wall)]
    won: set[int] = set()
    lease = [State.PUBLISHING, worker, _db_time(lease_until)]
    for state, pks in by_state.items():
        cursor.execute(
            f"UPDATE {_DELIVERIES} SET state = %s, lease_owner = %s, lease_until = %s "  # noqa: S608
            f"WHERE id IN ({_marks(pks)}) AND +state = %s AND {claimable_sql}",
            [*lease, *pks, state, *claimable_params],
        )
        if cursor.rowcount == len(pks):
            won.update(pks)
        else:
            cursor.execute(
                f"SELECT id FROM {_DELIVERIES} WHERE id IN ({_marks(pks)}) "  # noqa: S608
                "AND lease_owner = %s AND lease_until = %s",
                [*pks, worker, _db_time(lease_until)],
            )
            won.update(int(row[0]) for row in cursor.fetchall())
    return [Claim(pk, state) for pk, state in candidates if pk in won]


def release(worker: str, claims: list[Claim]) -> int:
    """Give claims back unprocessed (the worker is stopping): each returns to its earlier state,
    except a row that may have been sent, which becomes `unknown` so it is checked first."""
    released = 0
    with transaction.atomic():
        for item in claims:
            back = item.previous_state if item.previous_state in PENDING_STATES else State.UNKNOWN
            released += Delivery.objects.filter(pk=item.delivery_id, lease_owner=worker, state=State.PUBLISHING).update(
                state=back, lease_owner="", lease_until=None
            )
    return released


def next_due(now: dt.datetime | None = None) -> dt.datetime | None:
    """When the next delivery becomes claimable (a due time or an expiring lease), if any."""
    waiting = Delivery.objects.filter(state__in=WAITING_STATES).aggregate(at=Min("due_at"))["at"]
    leased = Delivery.objects.filter(state=State.PUBLISHING).aggregate(at=Min("lease_until"))["at"]
    times = [t for t in (waiting, leased) if t is not None]
    return min(times) if times else None


def backoff(attempts: int, retry_after: float | None = None) -> dt.timedelta:
    """Exponential backoff with jitter: 30 s, 60 s, 2 min, ... up to an hour, each between half
    and all of that; never shorter than what the network asked for (`Retry-After`)."""
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** max(attempts - 1, 0)))
    delay = ceiling / 2 + random.uniform(0, 1) * (ceiling / 2)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, dt.timedelta(seconds=retry_after))
    return delay


def run_once(
    worker: str,
    *,
    now: dt.datetime | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    limit: int = BATCH_SIZE,
    max_batches: int = 20,
    where: Q | None = None,
) -> int:
    """Claim and process batches until nothing is due (or `max_batches`, so periodic jobs get a
    turn). When `should_stop()` turns true, the current item is finished and the rest released.
    Returns how many deliveries were processed."""
    processed = 0
    for _batch in range(max_batches):
        claims = claim(worker, now=now, limit=limit, where=where)
        done = process_batch(claims, worker, now=now, should_stop=should_stop, backlog=len(claims) >= limit)
        processed += done
        if done < len(claims) or len(claims) < limit or should_stop():
            break
    if not should_stop():
        comments = claim_first_comments(worker, now=_now(now), limit=limit, where=where)
        _first_comments(worker, comments, _now(now), fresh=False)
    LIMITER.give_back(timezone.now())
    return processed


def process_batch(
    claims: list[Claim],
    worker: str,
    *,
    now: dt.datetime | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    backlog: bool = False,
) -> int:
    """Process claimed deliveries; returns how many were processed (the rest were released,
    because `should_stop()` turned true or the lease ran short). `backlog`: more batches are due
    right after this one, so the rate-limit reservations may take tokens ahead (`Limiter.reserve`).

    First publishes (a `scheduled` or `retry_wait` row on a healthy channel) go in groups of
    CALLS_PER_TRANSACTION: one transaction records the attempts of the group before any call,
    the calls follow one by one outside any transaction, one transaction stores the outcomes.
    When calls are slow (a real network takes a second or more), a group ends after GROUP_TIME
    and the rest goes on in the next one, so published posts show as published within seconds.
    Everything else (checks of unknown outcomes, take-overs, failing channels, the last attempt)
    goes through `process()`, one at a time.
    """
    now = _now(now)
    loaded = _load([item.delivery_id for item in claims])
    never_sent = _never_sent([item.delivery_id for item in claims if item.previous_state == State.PUBLISHING])
    connectors: dict[str, Network | None] = {}
    direct: list[Claim] = []
    others: list[Claim] = []
    for item in claims:
        delivery = loaded.get(item.delivery_id)
        simple = (
            delivery is not None
            and (item.previous_state in PENDING_STATES or item.delivery_id in never_sent)
            and delivery.attempts < MAX_ATTEMPTS
            and delivery.channel.health not in (Channel.Health.NEEDS_RECONNECT, Channel.Health.DISCONNECTED)
            and _connector(delivery.channel, connectors) is not None
        )
        (direct if simple else others).append(item)
    processed = 0
    for position, item in enumerate(others):
        if should_stop():
            release(worker, others[position:] + direct)
            return processed
        process(item, worker, now=now)
        processed += 1
    # Rate limits: a delivery without a token waits, unsent and uncounted, until there is one.
    wall = timezone.now()
    ready: list[Claim] = []
    later: list[tuple[Claim, dt.datetime]] = []
    needs = []
    for item in direct:
        delivery = loaded[item.delivery_id]
        needs += ratelimit.buckets(delivery.channel_id, cast(Network, connectors[delivery.channel.network]))
    LIMITER.reserve(needs, wall, ahead=backlog)
    for item in direct:
        delivery = loaded[item.delivery_id]
        connector = connectors[delivery.channel.network]
        assert connector is not None
        available_at = LIMITER.take(ratelimit.buckets(delivery.channel_id, connector), wall)
        if available_at is None:
            ready.append(item)
        else:
            later.append((item, now + (available_at - wall)))
    processed += _defer(worker, later)
    media_of = media.outgoing_media({loaded[item.delivery_id].post_id for item in ready})
    short_of = _short_links([loaded[item.delivery_id] for item in ready])  # one query for the batch
    broken: set[int] = set()  # channels that answered with an auth error meanwhile
    limited: dict[int, dt.datetime] = {}  # channels that answered 429, until when
    start = 0
    while start < len(ready):
        group = ready[start : start + CALLS_PER_TRANSACTION]
        deliveries = [loaded[item.delivery_id] for item in group]
        done, given_up = _publish_group(
            deliveries, worker, now, should_stop, connectors, broken, limited, media_of, short_of
        )
        processed += done
        start += done
        if given_up:
            release(worker, ready[start:])
            return processed
    return processed


def _never_sent(pks: list[int]) -> set[int]:
    """Of these taken-over deliveries (their worker died holding them), the ones without any
    recorded attempt: no call can have been made (an attempt is committed before every call and
    only removed again for a call that was not made), so there is nothing to check first. A
    worker killed right after its claim leaves a whole batch of these."""
    if not pks:
        return set()
    attempted = set(DeliveryAttempt.objects.filter(delivery_id__in=pks).values_list("delivery_id", flat=True))
    return set(pks) - attempted


_POST_FIELDS = ("id", "workspace_id", "status", "link", "first_comment")  # what publishing reads of a post
_CHANNELS: dict[int, tuple[tuple[Any, ...], Channel]] = {}  # channel id -> (its row, the instance made of it)
_CHANNELS_KEPT = 10_000


def _load(pks: list[int]) -> dict[int, Delivery]:
    """The claimed deliveries with their posts and channels, a plain query each: deliveries of one
    post share its Post (only the fields publishing reads; the rest load on first access), of one
    channel its Channel. A channel whose row is unchanged since an earlier batch of this process
    is the same instance (its credentials decrypted once); a changed row makes a new one."""
    if not pks:
        return {}
    with db.plain_cursor() as cursor:
        names, select = db.columns(Delivery)
        in_pks, params = db.any_of("id", pks)
        cursor.execute(f"SELECT {select} FROM {_DELIVERIES} WHERE {in_pks}", params)  # noqa: S608
        deliveries = {d.pk: d for d in db.instances(Delivery, names, cursor.fetchall())}
        names, select = db.columns(Post, _POST_FIELDS)
        in_posts, params = db.any_of("id", sorted({delivery.post_id for delivery in deliveries.values()}))
        cursor.execute(f"SELECT {select} FROM {_POSTS} WHERE {in_posts}", params)  # noqa: S608
        posts = {post.pk: post for post in db.instances(Post, names, cursor.fetchall())}
        channels = _channels(cursor, sorted({delivery.channel_id for delivery in deliveries.values()}))
    for delivery in deliveries.values():
        delivery.post = posts[delivery.post_id]
        delivery.channel = channels[delivery.channel_id]
    return deliveries


def _channels(cursor: db.PlainCursor, pks: list[int]) -> dict[int, Channel]:
    names, select = db.columns(Channel)
    in_pks, params = db.any_of("id", pks)
    cursor.execute(f"SELECT {select} FROM {_CHANNELS_TABLE} WHERE {in_pks}", params)  # noqa: S608
    found: dict[int, Channel] = {}
    changed = []
    for row in cursor.fetchall():
        kept = _CHANNELS.get(row[0])
        if kept is not None and kept[0] == row:
            found[row[0]] = kept[1]
        else:
            changed.append(row)
    if len(_CHANNELS) + len(changed) > _CHANNELS_KEPT:
        _CHANNELS.clear()
    for row, channel in zip(changed, db.instances(Channel, names, changed), strict=True):
        _CHANNELS[row[0]] = (tuple(row), channel)
        found[row[0]] = channel
    return found


def _defer(worker: str, deferred: list[tuple[Claim, dt.datetime]]) -> int:
    """Give claims back unsent because a rate limit has no token: each returns to its earlier
    state (`unknown` if it may have been sent before), due when a token will be there. No
    attempt is counted and no error shown: waiting for a rate limit is not a failure."""
    if not deferred:
        return 0
    with transaction.atomic():
        for item, due_at in deferred:
            back = item.previous_state if item.previous_state in PENDING_STATES else State.UNKNOWN
            Delivery.objects.filter(pk=item.delivery_id, lease_owner=worker, state=State.PUBLISHING).update(
                state=back, lease_owner="", lease_until=None, due_at=due_at
            )
    return len(deferred)


def _connector(channel: Channel, cache: dict[str, Network | None]) -> Network | None:
    if channel.network not in cache:
        try:
            cache[channel.network] = channel.connector
        except UnknownNetwork:
            cache[channel.network] = None
    return cache[channel.network]


def _publish_group(
    deliveries: list[Delivery],
    worker: str,
    now: dt.datetime,
    should_stop: Callable[[], bool],
    connectors: dict[str, Network | None],
    broken: set[int],
    limited: dict[int, dt.datetime],
    media_of: dict[int, tuple[MediaItem, ...]],
    short_of: dict[int, str],
) -> tuple[int, bool]:
    """First publishes of a group of deliveries (see `process_batch`). Returns (how many were
    handled, whether the rest is given up); the others were not sent and their attempts are
    unrecorded again. A call starts only while at least half of the lease is left, so no other
    worker can take a row over while its call may still be running: past that (or when
    `should_stop()`) the rest is given up, and the caller releases it. Past GROUP_TIME the group
    ends early and the caller goes on with the rest, still leased, in a new group. After a 429
    the channel's other deliveries of the batch wait, unsent, until the time the network asked
    for."""
    attempts: dict[int, Attempt] = {}
    lease_until = timezone.now()
    store_by = lease_until + GROUP_TIME
    outcomes: list[_Outcome] = []
    not_called: list[Attempt] = []
    for index, delivery in enumerate(deliveries):
        given_up = should_stop() or (index > 0 and timezone.now() > lease_until - LEASE / 2)
        if given_up or (index > 0 and timezone.now() > store_by):
            rest = [d for d in deliveries[index:] if d.pk in attempts]
            not_called += [attempts[d.pk] for d in rest]
            for unsent in rest:  # unrecorded: counted again when a next group records them
                unsent.attempts -= 1
            _unrecord(worker, not_called)
            _store(worker, outcomes, now)
            if given_up:
                for outcome in outcomes:  # any worker may post their first comments at once
                    if outcome.first_comment:
                        _comment_step(outcome.delivery, worker, lease_until=now)
            else:
                _first_comments(worker, [o.delivery for o in outcomes if o.first_comment], now, fresh=True)
            return index, given_up
        if index == 0:
            attempts, lease_until = _start_attempts(deliveries, worker, DeliveryAttempt.Kind.PUBLISH, now)
            store_by = timezone.now() + GROUP_TIME
        attempt = attempts.get(delivery.pk)
        if attempt is None:
            continue  # lost to another worker before the call: nothing was sent
        if delivery.channel_id in broken:
            not_called.append(attempt)
            outcomes.append(_Outcome(delivery, State.FAILED, error=_("The channel needs to be reconnected.")))
            continue
        if delivery.channel_id in limited:
            not_called.append(attempt)
            outcomes.append(_Outcome(delivery, State.RETRY_WAIT, fields={"due_at": limited[delivery.channel_id]}))
            continue
        _warn_if_late(delivery, State.SCHEDULED, now)
        connector = connectors[delivery.channel.network]
        assert connector is not None
        outcome = _call_publish(delivery, connector, attempt, now, media_of.get(delivery.post_id, ()), short_of)
        if outcome.auth:
            broken.add(delivery.channel_id)
        if outcome.retry_after:  # a 429: `_store` blocks the channel's buckets for every worker
            limited[delivery.channel_id] = now + dt.timedelta(seconds=outcome.retry_after)
        outcomes.append(outcome)
    _unrecord(worker, not_called)
    _store(worker, outcomes, now)
    _first_comments(worker, [o.delivery for o in outcomes if o.first_comment], now, fresh=True)
    return len(deliveries), False


def _rate_limited(channel: Channel, retry_after: float) -> None:
    """The network answered 429 with Retry-After: block the channel's buckets for every worker
    until then."""
    try:
        connector = channel.connector
    except UnknownNetwork:
        return
    wall = timezone.now()
    LIMITER.block(ratelimit.blocked_by_429(channel.pk, connector), wall + dt.timedelta(seconds=retry_after), wall)


def _token_wait(delivery: Delivery, connector: Network, now: dt.datetime) -> dt.datetime | None:
    """None when a token for one call was taken; otherwise when there will be one (publisher's
    clock)."""
    wall = timezone.now()
    available_at = LIMITER.take(ratelimit.buckets(delivery.channel_id, connector), wall)
    return None if available_at is None else now + (available_at - wall)


def process(item: Claim, worker: str, *, now: dt.datetime | None = None) -> str:
    """Take one claimed delivery one step: check (if needed), publish, record. Returns the new
    state, or "" when the lease was lost to another worker (nothing was written)."""
    now = _now(now)
    delivery = Delivery.objects.select_related("post", "channel").get(pk=item.delivery_id)
    if delivery.lease_owner != worker or delivery.state != State.PUBLISHING:
        return ""
    _warn_if_late(delivery, item.previous_state, now)
    channel = delivery.channel
    if channel.health in (Channel.Health.NEEDS_RECONNECT, Channel.Health.DISCONNECTED):
        message = _("The channel needs to be reconnected.")
        return _finish(delivery, worker, state=State.FAILED, error=message)
    try:
        connector = channel.connector
    except UnknownNetwork:
        message = _("The network %(network)s is not available on this server.") % {"network": channel.network}
        return _finish(delivery, worker, state=State.FAILED, error=message)

    if item.needs_check:
        if (wait := _token_wait(delivery, connector, now)) is not None:
            _defer(worker, [(item, wait)])
            return State.UNKNOWN
        found = _check(delivery, worker, connector, now)
        if found is None:
            return ""
        if found.state != State.PUBLISHING:
            if found.state == State.PUBLISHED and _wants_first_comment(found):
                _first_comments(worker, [found], now, fresh=True)
            return found.state
        delivery = found
    if delivery.attempts < MAX_ATTEMPTS and (wait := _token_wait(delivery, connector, now)) is not None:
        _defer(worker, [(item, wait)])
        return item.previous_state if item.previous_state in PENDING_STATES else State.UNKNOWN
    state = _publish(delivery, worker, connector, now)
    if state == State.PUBLISHED and _wants_first_comment(delivery):
        _first_comments(worker, [delivery], now, fresh=True)
    return state


def _warn_if_late(delivery: Delivery, previous_state: str, now: dt.datetime) -> None:
    if previous_state == State.SCHEDULED and delivery.due_at and now - delivery.due_at > LATE_AFTER:
        log.warning(
            "delivery %s was due at %s and is published %s late (no worker was running?)",
            delivery.pk,
            delivery.due_at.isoformat(),
            now - delivery.due_at,
        )


def _start_attempts(
    deliveries: list[Delivery], worker: str, kind: str, now: dt.datetime
) -> tuple[dict[int, Attempt], dt.datetime]:
    """Record an attempt for each delivery still leased to `worker`, before any call, and renew
    their lease so it covers the calls. Returns the attempts by delivery id (a delivery whose
    lease was lost meanwhile has none) and the new end of the lease."""
    lease_until = timezone.now() + LEASE
    by_pk = {delivery.pk: delivery for delivery in deliveries}
    pks = list(by_pk)
    with transaction.atomic(), db.plain_cursor() as cursor:
        in_pks, params = db.any_of("id", pks)
        cursor.execute(
            f"SELECT id FROM {_DELIVERIES} WHERE {in_pks} AND lease_owner = %s AND {_state_by_id()} = %s "  # noqa: S608
            f"ORDER BY id{_for_update()}",
            [*params, worker, State.PUBLISHING],
        )
        owned = [int(row[0]) for row in cursor.fetchall()]
        if not owned:
            return {}, lease_until
        in_owned, params = db.any_of("id", owned)
        cursor.execute(
            f"UPDATE {_DELIVERIES} SET attempts = attempts + 1, lease_until = %s WHERE {in_owned}",  # noqa: S608
            [_db_time(lease_until), *params],
        )
        started_at = _db_time(now)
        columns = f"INSERT INTO {_ATTEMPTS} (delivery_id, kind, worker, started_at, outcome, error)"
        if cursor.postgresql:  # one statement whatever the number of rows (prepared once)
            cursor.execute(
                f"{columns} SELECT d, %s::text, %s::text, %s::timestamptz, '', '' "  # noqa: S608
                "FROM unnest(%s::bigint[]) AS d RETURNING id, delivery_id",
                [kind, worker, started_at, owned],
            )
        else:
            cursor.execute(
                f"{columns} VALUES {', '.join(['(%s, %s, %s, %s, %s, %s)'] * len(owned))} RETURNING id, delivery_id",
                [value for pk in owned for value in (pk, kind, worker, started_at, "", "")],
            )
        created = cursor.fetchall()
    attempts: dict[int, Attempt] = {}
    for attempt_id, delivery_id in created:
        delivery = by_pk[int(delivery_id)]
        delivery.attempts += 1
        attempts[delivery.pk] = Attempt(int(attempt_id), delivery.pk, kind)
    return attempts, lease_until


def _start_attempt(delivery: Delivery, worker: str, kind: str, now: dt.datetime) -> Attempt | None:
    """Record the attempt before the call, and renew the lease so it covers the whole call even
    for the last item of a long batch; None when the lease was lost meanwhile."""
    attempts, _lease_until = _start_attempts([delivery], worker, kind, now)
    return attempts.get(delivery.pk)


def _unrecord(worker: str, attempts: list[Attempt]) -> None:
    """Forget attempts recorded for calls that were never made (the worker stopped first)."""
    if not attempts:
        return
    with transaction.atomic():
        DeliveryAttempt.objects.filter(pk__in=[attempt.pk for attempt in attempts]).delete()
        Delivery.objects.filter(
            pk__in=[attempt.delivery_id for attempt in attempts], lease_owner=worker, state=State.PUBLISHING
        ).update(attempts=F("attempts") - 1)


def _check(delivery: Delivery, worker: str, connector: Network, now: dt.datetime) -> Delivery | None:
    """Reconcile an earlier call of unknown outcome. Returns the delivery still in `publishing`
    when nothing was found (go on and publish); otherwise the delivery in its new state, or None
    when the lease was lost."""
    attempt = _start_attempt(delivery, worker, DeliveryAttempt.Kind.CHECK, now)
    if attempt is None:
        return None
    try:
        remote = connector.find_published(delivery.channel, str(delivery.idempotency_key), since=delivery.created_at)
    except Exception as exc:
        delivery.state = _after_error(delivery, worker, _as_network_error(exc), attempt, now, checking=True)
        return delivery
    if remote is not None:
        delivery.state = _store_one(worker, _published_outcome(delivery, remote, attempt, now), now)
        return delivery
    _end_attempt(attempt, now, outcome="not_found")
    return delivery


def _publish(delivery: Delivery, worker: str, connector: Network, now: dt.datetime) -> str:
    if delivery.attempts >= MAX_ATTEMPTS:
        return _finish(delivery, worker, state=State.FAILED, error=_("Gave up after too many attempts."))
    attempt = _start_attempt(delivery, worker, DeliveryAttempt.Kind.PUBLISH, now)
    if attempt is None:
        return ""
    return _store_one(worker, _call_publish(delivery, connector, attempt, now), now)


def _call_publish(
    delivery: Delivery,
    connector: Network,
    attempt: Attempt,
    now: dt.datetime,
    media_items: tuple[MediaItem, ...] | None = None,
    short_of: dict[int, str] | None = None,
) -> _Outcome:
    """The network call, outside any transaction (it may take seconds and holds no lock).
    `media_items`: the post's media, `short_of`: short links by delivery, when the caller loaded
    them for a whole batch. The post's link goes out as the delivery's own short link."""
    items = media_items if media_items is not None else media.items_of(delivery.post)
    short = (short_of if short_of is not None else _short_links([delivery])).get(delivery.pk, "")
    if short:
        from stammtisch.links.auto import outgoing_text

        outgoing = Outgoing(text=outgoing_text(delivery.text, delivery.post.link, short), link=short, media=items)
    else:
        outgoing = Outgoing(text=delivery.text, link=delivery.post.link, media=items)
    if connector.assisted:  # no API (Xing): nothing is sent; a person posts it and confirms
        return _assisted_outcome(delivery, connector, attempt, now)
    try:
        remote = connector.publish(delivery.channel, outgoing, str(delivery.idempotency_key))
    except Exception as exc:
        return _error_outcome(delivery, _as_network_error(exc), attempt, now)
    return _published_outcome(delivery, remote, attempt, now)


def _short_links(deliveries: list[Delivery]) -> dict[int, str]:
    """Each delivery's short link (made on first use), by delivery id; none for posts without a
    link. One query for all of them (docs/links.md)."""
    from stammtisch.links.auto import for_deliveries

    return for_deliveries(deliveries)


def _as_network_error(exc: Exception) -> NetworkError:
    """A connector reports failures as NetworkError; anything else is a bug that may have struck
    after the request was sent, so its outcome is unknown (checked before any retry)."""
    if isinstance(exc, NetworkError):
        return exc
    log.error("connector raised %s instead of NetworkError", type(exc).__name__, exc_info=exc)
    return NetworkError(f"{type(exc).__name__}: {exc}", outcome_unknown=True)


@dataclass
class _Outcome:
    """What became of one delivery, to be stored (guarded by the lease) with others."""

    delivery: Delivery
    state: str
    attempt: Attempt | None = None
    outcome: str = ""
    error: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    auth: bool = False  # a permanent auth error: the channel needs reconnecting
    retry_after: float | None = None  # the network asked us to wait (429): its buckets are blocked
    first_comment: bool = False  # published, with a first comment to post (the lease is kept for it)
    assisted: bool = False  # handed to a person (assisted network): they are notified once stored


def _assisted_outcome(delivery: Delivery, connector: Network, attempt: Attempt, now: dt.datetime) -> _Outcome:
    """An assisted network has no API: the delivery waits in `retry_wait` until a person posts it
    and confirms it (networks/xing/actions.py `do_confirm_assisted`), or skips it. If nobody does,
    it comes due again after ASSISTED_WAIT and the reminder is repeated (until MAX_ATTEMPTS)."""
    error = _("Waiting for you to post it on %(network)s") % {"network": connector.label}
    fields = {"due_at": now + ASSISTED_WAIT}
    return _Outcome(delivery, State.RETRY_WAIT, attempt, DeliveryAttempt.Outcome.RETRY, error, fields, assisted=True)


def _published_outcome(delivery: Delivery, remote: Remote, attempt: Attempt, now: dt.datetime) -> _Outcome:
    return _Outcome(
        delivery,
        State.PUBLISHED,
        attempt,
        outcome="published" if attempt.kind == DeliveryAttempt.Kind.PUBLISH else "found",
        fields={"remote_id": remote.id, "remote_url": remote.url, "published_at": remote.published_at or now},
    )


def _error_outcome(
    delivery: Delivery,
    exc: NetworkError,
    attempt: Attempt,
    now: dt.datetime,
    *,
    checking: bool = False,
) -> _Outcome:
    error = exc.message
    if exc.permanent:
        return _Outcome(delivery, State.FAILED, attempt, outcome="failed", error=error, auth=exc.auth)
    if checking or exc.outcome_unknown:
        # We still do not know whether the post exists: stay `unknown`, ask again later.
        if delivery.attempts >= MAX_ATTEMPTS:
            error = _("Could not find out whether it was published: %(error)s") % {"error": error}
            return _Outcome(delivery, State.FAILED, attempt, outcome="unknown", error=error)
        wait = max(CHECK_DELAY, backoff(delivery.attempts, exc.retry_after)) if checking else CHECK_DELAY
        fields = {"due_at": now + wait}
        return _Outcome(delivery, State.UNKNOWN, attempt, "unknown", error, fields, retry_after=exc.retry_after)
    if delivery.attempts >= MAX_ATTEMPTS:
        return _Outcome(delivery, State.FAILED, attempt, outcome="failed", error=error)
    due_at = now + backoff(delivery.attempts, exc.retry_after)
    fields = {"due_at": due_at}
    return _Outcome(delivery, State.RETRY_WAIT, attempt, "retry", error, fields, retry_after=exc.retry_after)


def _after_error(
    delivery: Delivery,
    worker: str,
    exc: NetworkError,
    attempt: Attempt,
    now: dt.datetime,
    *,
    checking: bool = False,
) -> str:
    return _store_one(worker, _error_outcome(delivery, exc, attempt, now, checking=checking), now)


def _end_attempt(attempt: Attempt | DeliveryAttempt, now: dt.datetime, *, outcome: str, error: str = "") -> None:
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(finished_at=now, outcome=outcome, error=error[:500])


def _finish(
    delivery: Delivery,
    worker: str,
    *,
    state: str,
    now: dt.datetime | None = None,
    error: str = "",
    attempt: Attempt | None = None,
    outcome: str = "",
    **fields: Any,
) -> str:
    """Store one outcome; see `_store`. Returns `state`, or "" when the lease was lost."""
    return _store_one(worker, _Outcome(delivery, state, attempt, outcome, error, fields), _now(now))


def _store_one(worker: str, outcome: _Outcome, now: dt.datetime) -> str:
    return _store(worker, [outcome], now)[0]


def _store(worker: str, outcomes: list[_Outcome], now: dt.datetime) -> list[str]:
    """Write outcomes in one transaction, each guarded by the lease, and derive the posts' status
    in the same transaction (the post rows are locked first, in id order, so two workers finishing
    two channels of one post cannot leave a stale status). Returns each outcome's state, or ""
    where the lease was lost (nothing was written but the attempt's end)."""
    if not outcomes:
        return []
    by_pk = {outcome.delivery.pk: outcome for outcome in outcomes}
    post_ids = sorted({outcome.delivery.post_id for outcome in outcomes})
    for outcome in outcomes:
        if outcome.state == State.PUBLISHED and _wants_first_comment(outcome.delivery):
            outcome.first_comment = True  # this worker keeps the lease and posts it next
            outcome.fields.update(lease_owner=worker, lease_until=timezone.now() + LEASE)
    prepared = _outcome_statements(worker, outcomes)  # before the transaction: nothing waits for it
    ended: dict[tuple[str, str], list[int]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.attempt is not None:
            ended[(outcome.outcome, outcome.error[:500])].append(outcome.attempt.pk)
    pks = list(by_pk)
    with transaction.atomic(), db.plain_cursor() as cursor:
        in_posts, params = db.any_of("id", post_ids)
        cursor.execute(f"SELECT id, status FROM {_POSTS} WHERE {in_posts} ORDER BY id{_for_update()}", params)  # noqa: S608
        statuses = {int(pk): str(status) for pk, status in cursor.fetchall()}
        in_pks, params = db.any_of("id", pks)
        cursor.execute(
            f"SELECT id FROM {_DELIVERIES} WHERE {in_pks} AND lease_owner = %s "  # noqa: S608
            f"AND {_state_by_id()} = %s{_for_update()}",
            [*params, worker, State.PUBLISHING],
        )
        owned = {int(row[0]) for row in cursor.fetchall()}
        for statement, rows in prepared:
            mine = [params for pk, params in rows if pk in owned]
            if mine:
                cursor.executemany(statement, mine)
        finished_at = _db_time(now)
        for (result, error), attempt_pks in ended.items():
            in_attempts, params = db.any_of("id", attempt_pks)
            cursor.execute(
                f"UPDATE {_ATTEMPTS} SET finished_at = %s, outcome = %s, error = %s WHERE {in_attempts}",  # noqa: S608
                [finished_at, result, error, *params],
            )
        refresh_post_statuses(post_ids, current=statuses)
    states = []
    for outcome in outcomes:
        if outcome.delivery.pk in owned:
            states.append(outcome.state)
            outcome.delivery.state = outcome.state
            for name, value in outcome.fields.items():  # the remote id for the first comment, ...
                setattr(outcome.delivery, name, value)
            if outcome.retry_after:
                _rate_limited(outcome.delivery.channel, outcome.retry_after)
            if outcome.auth and outcome.state == State.FAILED:
                _needs_reconnect(outcome.delivery.channel, outcome.error, now)
            if outcome.state == State.FAILED:
                _send(signals.delivery_failed, Delivery, delivery=outcome.delivery, error=outcome.error)
            if outcome.assisted:
                _send(signals.assisted_post_due, Delivery, delivery=outcome.delivery)
        else:
            log.warning(
                "delivery %s: lease lost before the outcome %s could be stored", outcome.delivery.pk, outcome.state
            )
            outcome.first_comment = False
            states.append("")
    published = [o.delivery for o in outcomes if o.delivery.pk in owned and o.state == State.PUBLISHED]
    if published:  # one signal per stored group: analytics schedules their metric checks at once
        _send(signals.deliveries_published, Delivery, deliveries=published)
    return states


def _prep(column: Field, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _db_time(value)  # as DateTimeField.get_db_prep_value, faster
    return column.get_db_prep_value(value, connection)


def _outcome_statements(worker: str, outcomes: list[_Outcome]) -> list[tuple[str, list[tuple[int, list[Any]]]]]:
    """One UPDATE per delivery, guarded by the lease, for `executemany` per set of fields
    (published, waiting again, failed): [(statement, [(delivery id, params), ...]), ...]. The
    ORM's bulk_update builds a CASE expression per row and field, which cost more than all the
    rest of the publisher together."""
    groups: dict[tuple[str, ...], list[_Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[("state", "last_error", *sorted(outcome.fields))].append(outcome)
    meta = Delivery._meta
    quote = connection.ops.quote_name
    prepared = []
    for names, members in groups.items():
        columns = [cast(Field, meta.get_field(name)) for name in names]
        assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
        if "lease_owner" not in names:  # the lease ends, unless kept for the first comment
            assignments += ", lease_owner = '', lease_until = NULL"
        statement = (
            f"UPDATE {quote(meta.db_table)} SET {assignments} "  # noqa: S608 (names from the model)
            "WHERE id = %s AND lease_owner = %s AND state = %s"
        )
        rows = []
        for outcome in members:
            values = {"state": outcome.state, "last_error": outcome.error[:500], **outcome.fields}
            params = [_prep(column, values[column.name]) for column in columns]
            rows.append((outcome.delivery.pk, [*params, outcome.delivery.pk, worker, State.PUBLISHING]))
        prepared.append((statement, rows))
    return prepared


# --- the first comment -------------------------------------------------------------------------
#
# Posted under a published delivery whose post has one, where the network supports it
# (`connector.reply`, key `<idempotency key>:first-comment`). Its state lives on the published
# delivery: `first_comment_id` once posted, `first_comment_error` once given up; while neither is
# set, `lease_until` says when to try next (`lease_owner` empty) or how long a worker holds it.
# Every call is a DeliveryAttempt of kind `comment`, recorded before the call; after a call of
# unknown outcome (or a worker that died mid-call) the next try asks `find_published` first. A
# failing first comment never changes the delivery's state or the post's status.


def _wants_first_comment(delivery: Delivery) -> bool:
    if not delivery.post.first_comment.strip() or delivery.first_comment_id or delivery.first_comment_error:
        return False
    try:
        return delivery.channel.connector.supports_first_comment
    except UnknownNetwork:
        return False


def _comment_key(delivery: Delivery) -> str:
    return f"{delivery.idempotency_key}:first-comment"


def claim_first_comments(
    worker: str, *, now: dt.datetime | None = None, limit: int = BATCH_SIZE, where: Q | None = None
) -> list[Delivery]:
    """Claim published deliveries whose first comment is due for another try, or whose worker
    died holding it (lease expired). `where` narrows the claim as in `claim`."""
    now = _now(now)
    wall = timezone.now()
    lease_until = wall + LEASE
    waiting = Q(
        state=State.PUBLISHED,
        due_at__gte=now - COMMENT_WINDOW,  # with the claim index, only recent rows are read
        first_comment_id="",
        first_comment_error="",
        lease_until__isnull=False,
    ) & (Q(lease_owner="", lease_until__lte=now) | (~Q(lease_owner="") & Q(lease_until__lt=wall)))
    if where is not None:
        waiting &= where
    # No transaction and no lock for the look (it runs on every pass, mostly finding nothing; on
    # SQLite a transaction would take the write lock): the UPDATE checks `waiting` again, so of
    # two workers only one wins each row.
    pks = list(Delivery.objects.filter(waiting).order_by("due_at", "id").values_list("pk", flat=True)[:limit])
    if not pks:
        return []
    Delivery.objects.filter(waiting, pk__in=pks).update(lease_owner=worker, lease_until=lease_until)
    mine = Delivery.objects.filter(pk__in=pks, state=State.PUBLISHED, lease_owner=worker, lease_until=lease_until)
    return list(mine.select_related("post", "channel"))


def _first_comments(worker: str, deliveries: list[Delivery], now: dt.datetime, *, fresh: bool) -> int:
    """Post (or, after an unknown outcome, look for) the first comment of each delivery this
    worker holds. `fresh`: just published, so no earlier comment call exists. Returns how many
    were posted or found."""
    if not deliveries:
        return 0
    history: dict[int, list[str]] = defaultdict(list)  # outcomes of earlier comment calls, in order
    if not fresh:
        earlier = DeliveryAttempt.objects.filter(delivery__in=deliveries, kind=DeliveryAttempt.Kind.COMMENT).order_by(
            "started_at", "pk"
        )
        for delivery_id, result in earlier.values_list("delivery_id", "outcome"):
            history[delivery_id].append(result)
    done = 0
    for delivery in deliveries:
        calls = history[delivery.pk]
        if not _wants_first_comment(delivery):  # the post's first comment was removed meanwhile
            _comment_step(delivery, worker, lease_until=None)
            continue
        connector = delivery.channel.connector
        if (wait := _token_wait(delivery, connector, now)) is not None:
            _comment_step(delivery, worker, lease_until=wait)
            continue
        check = bool(calls) and calls[-1] in ("", DeliveryAttempt.Outcome.UNKNOWN)
        with transaction.atomic():
            if not Delivery.objects.filter(pk=delivery.pk, state=State.PUBLISHED, lease_owner=worker).exists():
                continue  # lost the lease: another worker has it
            attempt = DeliveryAttempt.objects.create(
                delivery=delivery, worker=worker, kind=DeliveryAttempt.Kind.COMMENT, started_at=now
            )
        done += _comment_call(delivery, worker, connector, attempt, now, check=check, calls=len(calls) + 1)
    return done


def _comment_call(
    delivery: Delivery,
    worker: str,
    connector: Network,
    attempt: DeliveryAttempt,
    now: dt.datetime,
    *,
    check: bool,
    calls: int,
) -> int:
    """One recorded comment call (outside any transaction) and what follows from it."""
    Outcome = DeliveryAttempt.Outcome
    try:
        if check:
            remote = connector.find_published(delivery.channel, _comment_key(delivery), since=delivery.created_at)
        else:
            parent = Remote(id=delivery.remote_id, url=delivery.remote_url, published_at=delivery.published_at)
            remote = connector.reply(delivery.channel, parent, delivery.post.first_comment, _comment_key(delivery))
    except Exception as exc:
        error = _as_network_error(exc)
        if error.retry_after:
            _rate_limited(delivery.channel, error.retry_after)
        given_up = error.permanent or calls >= MAX_COMMENT_CALLS
        unknown = check or error.outcome_unknown
        result = Outcome.FAILED if given_up else Outcome.UNKNOWN if unknown else Outcome.RETRY
        _end_attempt(attempt, now, outcome=result, error=error.message)
        if given_up:
            _comment_step(delivery, worker, lease_until=None, error=error.message)
        else:
            wait = CHECK_DELAY if unknown and not check else backoff(calls, error.retry_after)
            _comment_step(delivery, worker, lease_until=now + wait)
        return 0
    if remote is None:  # checked: the earlier call did not get through, so reply next time
        _end_attempt(attempt, now, outcome=Outcome.NOT_FOUND)
        _comment_step(delivery, worker, lease_until=now)
        return 0
    _end_attempt(attempt, now, outcome=Outcome.FOUND if check else Outcome.PUBLISHED)
    _comment_step(delivery, worker, lease_until=None, remote_id=remote.id)
    return 1


def _comment_step(
    delivery: Delivery, worker: str, *, lease_until: dt.datetime | None, remote_id: str = "", error: str = ""
) -> None:
    """Store the first comment's state, guarded by this worker's hold on it: posted
    (`remote_id`), given up (`error`), or to be tried at `lease_until` by any worker."""
    Delivery.objects.filter(pk=delivery.pk, state=State.PUBLISHED, lease_owner=worker).update(
        lease_owner="", lease_until=lease_until, first_comment_id=remote_id[:200], first_comment_error=error[:500]
    )
    delivery.first_comment_id, delivery.first_comment_error = remote_id[:200], error[:500]
    if error:
        log.warning("delivery %s: first comment given up: %s", delivery.pk, error)


def _needs_reconnect(channel: Channel, message: str, now: dt.datetime) -> None:
    with transaction.atomic():
        Channel.objects.filter(pk=channel.pk).update(
            health=Channel.Health.NEEDS_RECONNECT,
            health_message=message[:300],
            health_checked_at=now,
        )
        audit(
            Actor.system("publisher"),
            "channel.needs_reconnect",
            workspace=channel.workspace,
            obj=channel,
            summary=str(channel)[:300],
            data={"error": message[:300]},
        )
    _send(signals.channel_needs_reconnect, Channel, channel=channel, error=message)


def _send(signal: Any, sender: Any, **kwargs: Any) -> None:
    """Send a signal; a failing receiver (a notification that cannot be written) is logged and
    never undoes or stops publishing."""
    for receiver, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            log.error("receiver %r of %s failed: %s", receiver, sender.__name__, result)


def derive_status(deliveries: list[tuple[str, dt.datetime | None]]) -> str:
    """A post's status from its deliveries' (state, due_at)."""
    active = [(state, due_at) for state, due_at in deliveries if state != State.CANCELLED]
    if not active:
        return Post.Status.CANCELLED if deliveries else Post.Status.DRAFT
    states = {state for state, _due in active}
    if states <= {State.PUBLISHED, State.FAILED}:
        if states == {State.PUBLISHED}:
            return Post.Status.PUBLISHED
        return Post.Status.FAILED if states == {State.FAILED} else Post.Status.PARTIAL
    if states - {State.SCHEDULED}:  # something is under way, done or waiting to retry
        return Post.Status.PUBLISHING
    if all(due_at is None for _state, due_at in active):
        return Post.Status.DRAFT
    return Post.Status.SCHEDULED


HELD_STATUSES = (Post.Status.PENDING_APPROVAL, Post.Status.CHANGES_REQUESTED)


def _held_or_derived(current: str | None, deliveries: list[tuple[str, dt.datetime | None]]) -> str:
    """A post waiting for approval (or for changes) keeps that status while none of its active
    deliveries has a due time: only approval gives them one (docs/approvals.md)."""
    active = [due_at for state, due_at in deliveries if state != State.CANCELLED]
    if current in HELD_STATUSES and active and all(due_at is None for due_at in active):
        return current
    return derive_status(deliveries)


def refresh_post_status(post_id: int) -> str:
    return refresh_post_statuses([post_id])[post_id]


def refresh_post_statuses(post_ids: list[int], *, current: dict[int, str] | None = None) -> dict[int, str]:
    """Derive the status of these posts from their deliveries and store the ones that changed
    (`current`: their stored status, when the caller has read it). Returns the statuses."""
    post_ids = list(post_ids)
    if current is None:
        current = dict(Post.objects.filter(pk__in=post_ids).values_list("pk", "status"))
    deliveries: dict[int, list[tuple[str, dt.datetime | None]]] = defaultdict(list)
    if post_ids:
        with db.plain_cursor() as cursor:
            # Plain SQL: it runs inside every outcome transaction. Only whether `due_at` is set
            # matters for the status, so it is not converted.
            in_posts, params = db.any_of("post_id", post_ids)
            cursor.execute(f"SELECT post_id, state, due_at FROM {_DELIVERIES} WHERE {in_posts}", params)  # noqa: S608
            for post_id, state, due_at in cursor.fetchall():
                deliveries[int(post_id)].append((str(state), due_at))
    statuses = {post_id: _held_or_derived(current.get(post_id), deliveries[post_id]) for post_id in post_ids}
    changed: dict[str, list[int]] = defaultdict(list)
    for post_id, status in statuses.items():
        if current.get(post_id) != status:
            changed[status].append(post_id)
    if changed:
        with db.plain_cursor() as cursor:
            for status, pks in changed.items():
                in_pks, params = db.any_of("id", pks)
                cursor.execute(
                    f"UPDATE {_POSTS} SET status = %s, updated_at = %s WHERE {in_pks}",  # noqa: S608
                    [status, _db_time(timezone.now()), *params],
                )
    return statuses


def notify_due() -> None:
    """Wake PostgreSQL workers (LISTEN) when the current transaction commits; no-op on SQLite,
    where workers sleep until the next due time (a few seconds at most)."""
    if connection.vendor != "postgresql":
        return

    def send() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])

    transaction.on_commit(send)
