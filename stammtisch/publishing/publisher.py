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

from stammtisch.core.actions import Actor, audit
from stammtisch.networks.base import Network, NetworkError, Outgoing, Remote
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.publishing import signals
from stammtisch.publishing.models import Delivery, DeliveryAttempt, Post

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
BATCH_SIZE = 50
CALLS_PER_TRANSACTION = 10  # first publishes recorded, then stored, in groups this large
MAX_ATTEMPTS = 8  # network calls (publish and check) per delivery before it fails for good
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_MAX = dt.timedelta(hours=1)
CHECK_DELAY = dt.timedelta(seconds=10)  # pause before asking the network about an unknown outcome
LATE_AFTER = dt.timedelta(minutes=5)  # a claim this late is logged: no worker was running
NOTIFY_CHANNEL = "stammtisch_due"

State = Delivery.State
WAITING_STATES = (State.SCHEDULED, State.RETRY_WAIT, State.UNKNOWN)
PENDING_STATES = (State.SCHEDULED, State.RETRY_WAIT)  # never sent: may still be cancelled


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

    PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`, then one UPDATE; concurrent workers skip each
    other's rows. SQLite: one conditional UPDATE per previous state (`WHERE id IN (...) AND
    state=? AND <still claimable>`); when it changed fewer rows than selected, the rows it won are
    looked up by their new lease. SQLite runs one writer at a time (IMMEDIATE transactions), so
    that fallback is a safety net, not a path taken under load.
    """
    now = _now(now)
    wall = timezone.now()
    lease_until = wall + LEASE
    lease = {"state": State.PUBLISHING, "lease_owner": worker, "lease_until": lease_until}
    due = claimable(now, wall)
    if where is not None:
        due &= where
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            rows = list(
                Delivery.objects.select_for_update(skip_locked=True)
                .filter(due)
                .order_by("due_at", "id")
                .values_list("id", "state")[:limit]
            )
            Delivery.objects.filter(pk__in=[pk for pk, _state in rows]).update(**lease)
            return [Claim(pk, state) for pk, state in rows]
        candidates = list(Delivery.objects.filter(due).order_by("due_at", "id").values_list("id", "state")[:limit])
        by_state: dict[str, list[int]] = defaultdict(list)
        for pk, state in candidates:
            by_state[state].append(pk)
        won: set[int] = set()
        for state, pks in by_state.items():
            if Delivery.objects.filter(due, pk__in=pks, state=state).update(**lease) == len(pks):
                won.update(pks)
            else:
                mine = Delivery.objects.filter(pk__in=pks, lease_owner=worker, lease_until=lease_until)
                won.update(mine.values_list("pk", flat=True))
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
        done = process_batch(claims, worker, now=now, should_stop=should_stop)
        processed += done
        if done < len(claims) or len(claims) < limit or should_stop():
            break
    return processed


def process_batch(
    claims: list[Claim],
    worker: str,
    *,
    now: dt.datetime | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Process claimed deliveries; returns how many were processed (the rest were released,
    because `should_stop()` turned true or the lease ran short).

    First publishes (a `scheduled` or `retry_wait` row on a healthy channel) go in groups of
    CALLS_PER_TRANSACTION: one transaction records the attempts of the group before any call,
    the calls follow one by one outside any transaction, one transaction stores the outcomes.
    Everything else (checks of unknown outcomes, take-overs, failing channels, the last attempt)
    goes through `process()`, one at a time.
    """
    now = _now(now)
    loaded = Delivery.objects.select_related("post", "channel").in_bulk([item.delivery_id for item in claims])
    connectors: dict[str, Network | None] = {}
    direct: list[Claim] = []
    others: list[Claim] = []
    for item in claims:
        delivery = loaded.get(item.delivery_id)
        simple = (
            delivery is not None
            and item.previous_state in PENDING_STATES
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
    broken: set[int] = set()  # channels that answered with an auth error meanwhile
    for start in range(0, len(direct), CALLS_PER_TRANSACTION):
        group = direct[start : start + CALLS_PER_TRANSACTION]
        deliveries = [loaded[item.delivery_id] for item in group]
        done = _publish_group(deliveries, worker, now, should_stop, connectors, broken)
        processed += done
        if done < len(group):
            release(worker, direct[start + done :])
            return processed
    return processed


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
) -> int:
    """First publishes of a group of deliveries (see `process_batch`). Returns how many were
    handled; the others were not sent and their attempts are unrecorded again (the caller
    releases them). A call starts only while at least half of the lease is left, so no other
    worker can take a row over while its call may still be running."""
    attempts: dict[int, DeliveryAttempt] = {}
    lease_until = timezone.now()
    outcomes: list[_Outcome] = []
    not_called: list[DeliveryAttempt] = []
    for index, delivery in enumerate(deliveries):
        if should_stop() or (index > 0 and timezone.now() > lease_until - LEASE / 2):
            not_called += [attempts[d.pk] for d in deliveries[index:] if d.pk in attempts]
            _unrecord(worker, not_called)
            _store(worker, outcomes, now)
            return index
        if index == 0:
            attempts, lease_until = _start_attempts(deliveries, worker, DeliveryAttempt.Kind.PUBLISH, now)
        attempt = attempts.get(delivery.pk)
        if attempt is None:
            continue  # lost to another worker before the call: nothing was sent
        if delivery.channel_id in broken:
            not_called.append(attempt)
            outcomes.append(_Outcome(delivery, State.FAILED, error=_("The channel needs to be reconnected.")))
            continue
        _warn_if_late(delivery, State.SCHEDULED, now)
        connector = connectors[delivery.channel.network]
        assert connector is not None
        outcome = _call_publish(delivery, connector, attempt, now)
        if outcome.auth:
            broken.add(delivery.channel_id)
        outcomes.append(outcome)
    _unrecord(worker, not_called)
    _store(worker, outcomes, now)
    return len(deliveries)


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
        found = _check(delivery, worker, connector, now)
        if found is None or found.state != State.PUBLISHING:
            return found.state if found is not None else ""
        delivery = found
    return _publish(delivery, worker, connector, now)


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
) -> tuple[dict[int, DeliveryAttempt], dt.datetime]:
    """Record an attempt for each delivery still leased to `worker`, before any call, and renew
    their lease so it covers the calls. Returns the attempts by delivery id (a delivery whose
    lease was lost meanwhile has none) and the new end of the lease."""
    lease_until = timezone.now() + LEASE
    by_pk = {delivery.pk: delivery for delivery in deliveries}
    with transaction.atomic():
        mine = Delivery.objects.filter(pk__in=by_pk, lease_owner=worker, state=State.PUBLISHING)
        owned = list(mine.select_for_update().values_list("pk", flat=True))
        if not owned:
            return {}, lease_until
        mine.filter(pk__in=owned).update(attempts=F("attempts") + 1, lease_until=lease_until)
        for pk in owned:
            by_pk[pk].attempts += 1
        created = DeliveryAttempt.objects.bulk_create(
            [DeliveryAttempt(delivery=by_pk[pk], worker=worker, kind=kind, started_at=now) for pk in owned]
        )
    return {attempt.delivery_id: attempt for attempt in created}, lease_until


def _start_attempt(delivery: Delivery, worker: str, kind: str, now: dt.datetime) -> DeliveryAttempt | None:
    """Record the attempt before the call, and renew the lease so it covers the whole call even
    for the last item of a long batch; None when the lease was lost meanwhile."""
    attempts, _lease_until = _start_attempts([delivery], worker, kind, now)
    return attempts.get(delivery.pk)


def _unrecord(worker: str, attempts: list[DeliveryAttempt]) -> None:
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


def _call_publish(delivery: Delivery, connector: Network, attempt: DeliveryAttempt, now: dt.datetime) -> _Outcome:
    """The network call, outside any transaction (it may take seconds and holds no lock)."""
    outgoing = Outgoing(text=delivery.text, link=delivery.post.link)
    try:
        remote = connector.publish(delivery.channel, outgoing, str(delivery.idempotency_key))
    except Exception as exc:
        return _error_outcome(delivery, _as_network_error(exc), attempt, now)
    return _published_outcome(delivery, remote, attempt, now)


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
    attempt: DeliveryAttempt | None = None
    outcome: str = ""
    error: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    auth: bool = False  # a permanent auth error: the channel needs reconnecting


def _published_outcome(delivery: Delivery, remote: Remote, attempt: DeliveryAttempt, now: dt.datetime) -> _Outcome:
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
    attempt: DeliveryAttempt,
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
        return _Outcome(delivery, State.UNKNOWN, attempt, outcome="unknown", error=error, fields={"due_at": now + wait})
    if delivery.attempts >= MAX_ATTEMPTS:
        return _Outcome(delivery, State.FAILED, attempt, outcome="failed", error=error)
    due_at = now + backoff(delivery.attempts, exc.retry_after)
    return _Outcome(delivery, State.RETRY_WAIT, attempt, outcome="retry", error=error, fields={"due_at": due_at})


def _after_error(
    delivery: Delivery,
    worker: str,
    exc: NetworkError,
    attempt: DeliveryAttempt,
    now: dt.datetime,
    *,
    checking: bool = False,
) -> str:
    return _store_one(worker, _error_outcome(delivery, exc, attempt, now, checking=checking), now)


def _end_attempt(attempt: DeliveryAttempt, now: dt.datetime, *, outcome: str, error: str = "") -> None:
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(finished_at=now, outcome=outcome, error=error[:500])


def _finish(
    delivery: Delivery,
    worker: str,
    *,
    state: str,
    now: dt.datetime | None = None,
    error: str = "",
    attempt: DeliveryAttempt | None = None,
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
    with transaction.atomic():
        statuses = dict(
            Post.objects.select_for_update().filter(pk__in=post_ids).order_by("pk").values_list("pk", "status")
        )
        mine = Delivery.objects.filter(lease_owner=worker, state=State.PUBLISHING)
        owned = set(mine.select_for_update().filter(pk__in=by_pk).values_list("pk", flat=True))
        _write_outcomes(worker, [by_pk[pk] for pk in sorted(owned)])
        ended: dict[tuple[str, str], list[int]] = defaultdict(list)
        for outcome in outcomes:
            if outcome.attempt is not None:
                ended[(outcome.outcome, outcome.error[:500])].append(outcome.attempt.pk)
        for (result, error), pks in ended.items():
            DeliveryAttempt.objects.filter(pk__in=pks).update(finished_at=now, outcome=result, error=error)
        refresh_post_statuses(post_ids, current=statuses)
    states = []
    for outcome in outcomes:
        if outcome.delivery.pk in owned:
            states.append(outcome.state)
            if outcome.auth and outcome.state == State.FAILED:
                _needs_reconnect(outcome.delivery.channel, outcome.error, now)
            if outcome.state == State.FAILED:
                _send(signals.delivery_failed, Delivery, delivery=outcome.delivery, error=outcome.error)
        else:
            log.warning(
                "delivery %s: lease lost before the outcome %s could be stored", outcome.delivery.pk, outcome.state
            )
            states.append("")
    return states


def _write_outcomes(worker: str, outcomes: list[_Outcome]) -> None:
    """One UPDATE per delivery, guarded by the lease, sent with `executemany` per set of fields
    (published, waiting again, failed). The ORM's bulk_update builds a CASE expression per row
    and field, which cost more than all the rest of the publisher together."""
    groups: dict[tuple[str, ...], list[_Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[("state", "last_error", *sorted(outcome.fields))].append(outcome)
    meta = Delivery._meta
    quote = connection.ops.quote_name
    for names, members in groups.items():
        columns = [cast(Field, meta.get_field(name)) for name in names]
        assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
        statement = (
            f"UPDATE {quote(meta.db_table)} SET {assignments}, lease_owner = '', lease_until = NULL "  # noqa: S608 (names from the model)
            "WHERE id = %s AND lease_owner = %s AND state = %s"
        )
        rows = []
        for outcome in members:
            values = {"state": outcome.state, "last_error": outcome.error[:500], **outcome.fields}
            params = [column.get_db_prep_value(values[column.name], connection) for column in columns]
            rows.append([*params, outcome.delivery.pk, worker, State.PUBLISHING])
        with connection.cursor() as cursor:
            cursor.executemany(statement, rows)


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


def refresh_post_status(post_id: int) -> str:
    return refresh_post_statuses([post_id])[post_id]


def refresh_post_statuses(post_ids: list[int], *, current: dict[int, str] | None = None) -> dict[int, str]:
    """Derive the status of these posts from their deliveries and store the ones that changed
    (`current`: their stored status, when the caller has read it). Returns the statuses."""
    if current is None:
        current = dict(Post.objects.filter(pk__in=post_ids).values_list("pk", "status"))
    deliveries: dict[int, list[tuple[str, dt.datetime | None]]] = defaultdict(list)
    rows = Delivery.objects.filter(post_id__in=post_ids).values_list("post_id", "state", "due_at")
    for post_id, state, due_at in rows:
        deliveries[post_id].append((state, due_at))
    statuses = {post_id: derive_status(deliveries[post_id]) for post_id in post_ids}
    changed: dict[str, list[int]] = defaultdict(list)
    for post_id, status in statuses.items():
        if current.get(post_id) != status:
            changed[status].append(post_id)
    for status, pks in changed.items():
        Post.objects.filter(pk__in=pks).update(status=status, updated_at=timezone.now())
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
