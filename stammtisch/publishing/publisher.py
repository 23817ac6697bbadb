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
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import Actor, audit
from stammtisch.networks.base import Network, NetworkError, Outgoing, Remote
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.publishing.models import Delivery, DeliveryAttempt, Post

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
BATCH_SIZE = 50
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
    other's rows. SQLite: a conditional UPDATE per candidate (`WHERE id=? AND state=? AND <still
    claimable>`), kept only when it changed the row; SQLite runs one writer at a time.
    """
    now = _now(now)
    wall = timezone.now()
    lease = {"state": State.PUBLISHING, "lease_owner": worker, "lease_until": wall + LEASE}
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
        return [
            Claim(pk, state)
            for pk, state in candidates
            if Delivery.objects.filter(due, pk=pk, state=state).update(**lease) == 1
        ]


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
        for index, item in enumerate(claims):
            if should_stop():
                release(worker, claims[index:])
                return processed
            process(item, worker, now=now)
            processed += 1
        if len(claims) < limit or should_stop():
            break
    return processed


def process(item: Claim, worker: str, *, now: dt.datetime | None = None) -> str:
    """Take one claimed delivery one step: check (if needed), publish, record. Returns the new
    state, or "" when the lease was lost to another worker (nothing was written)."""
    now = _now(now)
    delivery = Delivery.objects.select_related("post", "channel").get(pk=item.delivery_id)
    if delivery.lease_owner != worker or delivery.state != State.PUBLISHING:
        return ""
    if item.previous_state == State.SCHEDULED and delivery.due_at and now - delivery.due_at > LATE_AFTER:
        log.warning(
            "delivery %s was due at %s and is published %s late (no worker was running?)",
            delivery.pk,
            delivery.due_at.isoformat(),
            now - delivery.due_at,
        )
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


def _start_attempt(delivery: Delivery, worker: str, kind: str, now: dt.datetime) -> DeliveryAttempt | None:
    """Record the attempt before the call, and renew the lease so it covers the whole call even
    for the last item of a long batch; None when the lease was lost meanwhile."""
    with transaction.atomic():
        counted = Delivery.objects.filter(pk=delivery.pk, lease_owner=worker, state=State.PUBLISHING).update(
            attempts=F("attempts") + 1, lease_until=timezone.now() + LEASE
        )
        if counted != 1:
            return None
        delivery.attempts += 1
        return DeliveryAttempt.objects.create(delivery=delivery, worker=worker, kind=kind, started_at=now)


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
        delivery.state = _published(delivery, worker, remote, attempt, now)
        return delivery
    _end_attempt(attempt, now, outcome="not_found")
    return delivery


def _publish(delivery: Delivery, worker: str, connector: Network, now: dt.datetime) -> str:
    if delivery.attempts >= MAX_ATTEMPTS:
        return _finish(delivery, worker, state=State.FAILED, error=_("Gave up after too many attempts."))
    attempt = _start_attempt(delivery, worker, DeliveryAttempt.Kind.PUBLISH, now)
    if attempt is None:
        return ""
    post = delivery.post
    outgoing = Outgoing(text=delivery.text, link=post.link)
    try:  # outside any transaction: the call may take seconds and holds no lock
        remote = connector.publish(delivery.channel, outgoing, str(delivery.idempotency_key))
    except Exception as exc:
        return _after_error(delivery, worker, _as_network_error(exc), attempt, now)
    return _published(delivery, worker, remote, attempt, now)


def _as_network_error(exc: Exception) -> NetworkError:
    """A connector reports failures as NetworkError; anything else is a bug that may have struck
    after the request was sent, so its outcome is unknown (checked before any retry)."""
    if isinstance(exc, NetworkError):
        return exc
    log.error("connector raised %s instead of NetworkError", type(exc).__name__, exc_info=exc)
    return NetworkError(f"{type(exc).__name__}: {exc}", outcome_unknown=True)


def _published(delivery: Delivery, worker: str, remote: Remote, attempt: DeliveryAttempt, now: dt.datetime) -> str:
    return _finish(
        delivery,
        worker,
        state=State.PUBLISHED,
        now=now,
        attempt=attempt,
        outcome="published" if attempt.kind == DeliveryAttempt.Kind.PUBLISH else "found",
        remote_id=remote.id,
        remote_url=remote.url,
        published_at=remote.published_at or now,
    )


def _after_error(
    delivery: Delivery,
    worker: str,
    exc: NetworkError,
    attempt: DeliveryAttempt,
    now: dt.datetime,
    *,
    checking: bool = False,
) -> str:
    error = exc.message
    if exc.permanent:
        state = _finish(
            delivery,
            worker,
            state=State.FAILED,
            now=now,
            error=error,
            attempt=attempt,
            outcome="failed",
        )
        if exc.auth and state == State.FAILED:
            _needs_reconnect(delivery.channel, error, now)
        return state
    if checking or exc.outcome_unknown:
        # We still do not know whether the post exists: stay `unknown`, ask again later.
        if delivery.attempts >= MAX_ATTEMPTS:
            error = _("Could not find out whether it was published: %(error)s") % {"error": error}
            return _finish(
                delivery,
                worker,
                state=State.FAILED,
                now=now,
                error=error,
                attempt=attempt,
                outcome="unknown",
            )
        wait = max(CHECK_DELAY, backoff(delivery.attempts, exc.retry_after)) if checking else CHECK_DELAY
        return _finish(
            delivery,
            worker,
            state=State.UNKNOWN,
            now=now,
            error=error,
            attempt=attempt,
            outcome="unknown",
            due_at=now + wait,
        )
    if delivery.attempts >= MAX_ATTEMPTS:
        return _finish(
            delivery,
            worker,
            state=State.FAILED,
            now=now,
            error=error,
            attempt=attempt,
            outcome="failed",
        )
    return _finish(
        delivery,
        worker,
        state=State.RETRY_WAIT,
        now=now,
        error=error,
        attempt=attempt,
        outcome="retry",
        due_at=now + backoff(delivery.attempts, exc.retry_after),
    )


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
    **fields: object,
) -> str:
    """Write the outcome, guarded by the lease, and derive the post's status in the same
    transaction (the post row is locked first, so two workers finishing two channels of one post
    cannot leave a stale status). Returns `state`, or "" when the lease was lost."""
    with transaction.atomic():
        list(Post.objects.select_for_update().filter(pk=delivery.post_id).values_list("pk"))
        written = Delivery.objects.filter(pk=delivery.pk, lease_owner=worker, state=State.PUBLISHING).update(
            state=state, lease_owner="", lease_until=None, last_error=error[:500], **fields
        )
        if attempt is not None:
            _end_attempt(attempt, _now(now), outcome=outcome, error=error)
        if written != 1:
            log.warning("delivery %s: lease lost before the outcome %s could be stored", delivery.pk, state)
            return ""
        refresh_post_status(delivery.post_id)
    return state


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
    status = derive_status(list(Delivery.objects.filter(post_id=post_id).values_list("state", "due_at")))
    Post.objects.filter(pk=post_id).exclude(status=status).update(status=status, updated_at=timezone.now())
    return status


def notify_due() -> None:
    """Wake PostgreSQL workers (LISTEN) when the current transaction commits; no-op on SQLite,
    where workers sleep until the next due time (a few seconds at most)."""
    if connection.vendor != "postgresql":
        return

    def send() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])

    transaction.on_commit(send)
