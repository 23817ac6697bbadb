"""Publishing inbox replies exactly once (docs/inbox.md "Replies").

The publisher's deliveries belong to posts; a reply belongs to a conversation, so it has a row of
its own (`Reply`) with the same rules as a delivery (DESIGN.md "Publishing: exactly once"):

* a worker claims due replies with a lease (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL,
  a conditional UPDATE on SQLite);
* every network call is recorded as a `ReplyAttempt` and committed *before* the call;
* `connector.reply` gets the reply's idempotency key;
* a reply whose last call has no known outcome (a timeout after sending, a worker killed
  mid-call: `unknown`, or `sending` with an expired lease and an unfinished attempt) is never
  sent blindly again: `find_published(key)` decides first, and only "not found" sends again;
* every write after a call is guarded by the lease.

Once sent, the reply is also stored as an outgoing Message of the conversation (remote id unique
per channel, so when the network later reports our own reply, it is the same row).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db import connection, transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from stammtisch.inbox.ingest import refresh_conversations
from stammtisch.inbox.models import Conversation, Message, Reply, ReplyAttempt
from stammtisch.networks.base import Network, NetworkError, Remote
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.publishing import publisher, ratelimit

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
BATCH_SIZE = 50
MAX_ATTEMPTS = 6
CHECK_DELAY = dt.timedelta(seconds=10)
State = Reply.State
Outcome = ReplyAttempt.Outcome
# Only these are ever claimed: a reply waiting for approval (or rejected) is never sent.
WAITING = (State.PENDING, State.RETRY_WAIT, State.UNKNOWN)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else timezone.now()


def claimable(now: dt.datetime, wall: dt.datetime) -> Q:
    return Q(state__in=WAITING, due_at__lte=now) | Q(state=State.SENDING, lease_until__lt=wall)


def claim(worker: str, *, now: dt.datetime | None = None, limit: int = BATCH_SIZE, where: Q | None = None) -> list[int]:
    now = _now(now)
    wall = timezone.now()
    lease_until = wall + LEASE
    lease = {"state": State.SENDING, "lease_owner": worker, "lease_until": lease_until}
    due = claimable(now, wall)
    if where is not None:
        due &= where
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            pks = list(
                Reply.objects.select_for_update(skip_locked=True)
                .filter(due)
                .order_by("due_at", "id")
                .values_list("id", flat=True)[:limit]
            )
            Reply.objects.filter(pk__in=pks).update(**lease)
            return pks
        candidates = list(Reply.objects.filter(due).order_by("due_at", "id").values_list("id", flat=True)[:limit])
        won = []
        for pk in candidates:  # one conditional UPDATE each: of two workers, one wins each row
            if Reply.objects.filter(due, pk=pk).update(**lease):
                won.append(pk)
        return won


def next_due() -> dt.datetime | None:
    return Reply.objects.filter(state__in=WAITING).aggregate(at=Min("due_at"))["at"]


def _held(worker: str, pk: int) -> QuerySet[Reply]:
    return Reply.objects.filter(pk=pk, lease_owner=worker, state=State.SENDING)


def run_due(
    worker: str,
    *,
    now: dt.datetime | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    where: Q | None = None,
) -> int:
    """Send (or check) every due reply once. Returns how many were sent or found sent."""
    now = _now(now)
    sent = 0
    pks = claim(worker, now=now, where=where)
    for position, pk in enumerate(pks):
        if should_stop():
            Reply.objects.filter(pk__in=pks[position:], lease_owner=worker, state=State.SENDING).update(
                state=State.UNKNOWN, lease_owner="", lease_until=None, due_at=now
            )
            break
        sent += process(pk, worker, now=now)
    publisher.LIMITER.give_back(timezone.now())
    return sent


def _needs_check(reply: Reply) -> bool:
    """Whether the last recorded call may have reached the network: then ask before sending."""
    last = reply.attempt_log.order_by("-started_at", "-pk").first()
    return last is not None and last.outcome in ("", Outcome.UNKNOWN)


def process(pk: int, worker: str, *, now: dt.datetime) -> int:
    reply = Reply.objects.select_related("channel", "conversation").get(pk=pk)
    if reply.lease_owner != worker:
        return 0
    try:
        connector = reply.channel.connector
    except UnknownNetwork:
        _settle(reply, worker, State.FAILED, error="This network is not available on this server.")
        return 0
    wall = timezone.now()
    available_at = publisher.LIMITER.take(ratelimit.buckets(reply.channel_id, connector), wall)
    if available_at is not None:
        back = State.UNKNOWN if _needs_check(reply) else State.PENDING
        _settle(reply, worker, back, due_at=now + (available_at - wall), count=False)
        return 0
    check = _needs_check(reply)
    with transaction.atomic():
        if not _held(worker, pk).select_for_update().exists():
            return 0
        attempt = ReplyAttempt.objects.create(
            reply=reply,
            kind=ReplyAttempt.Kind.CHECK if check else ReplyAttempt.Kind.REPLY,
            worker=worker,
            started_at=now,
        )
        _held(worker, pk).update(lease_until=timezone.now() + LEASE)
    return _call(reply, connector, attempt, worker, now, check=check)


def _call(
    reply: Reply, connector: Network, attempt: ReplyAttempt, worker: str, now: dt.datetime, *, check: bool
) -> int:
    key = str(reply.idempotency_key)
    try:
        if check:
            remote = connector.find_published(reply.channel, key, since=reply.created_at)
        else:
            remote = connector.reply(reply.channel, Remote(id=reply.in_reply_to), reply.text, key)
    except Exception as exc:
        error = exc if isinstance(exc, NetworkError) else NetworkError(f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, NetworkError):
            log.error("connector raised %s instead of NetworkError", type(exc).__name__, exc_info=exc)
            error.outcome_unknown = True  # it may have sent before failing
        attempts = reply.attempts + 1
        unknown = check or error.outcome_unknown
        if error.retry_after:
            wall = timezone.now()
            publisher.LIMITER.block(
                ratelimit.blocked_by_429(reply.channel_id, connector),
                wall + dt.timedelta(seconds=error.retry_after),
                wall,
            )
        if error.permanent or attempts >= MAX_ATTEMPTS:
            _end(attempt, now, Outcome.FAILED, error.message)
            _settle(reply, worker, State.FAILED, error=error.message)
        elif unknown:
            _end(attempt, now, Outcome.UNKNOWN, error.message)
            delay = CHECK_DELAY if not check else publisher.backoff(attempts, error.retry_after)
            _settle(reply, worker, State.UNKNOWN, error=error.message, due_at=now + delay)
        else:
            _end(attempt, now, Outcome.RETRY, error.message)
            due_at = now + publisher.backoff(attempts, error.retry_after)
            _settle(reply, worker, State.RETRY_WAIT, error=error.message, due_at=due_at)
        return 0
    if remote is None:  # checked: the earlier call did not get through; send next time
        _end(attempt, now, Outcome.NOT_FOUND, "")
        _settle(reply, worker, State.PENDING, due_at=now)
        return 0
    _end(attempt, now, Outcome.FOUND if check else Outcome.SENT, "")
    return 1 if _sent(reply, worker, remote, now) else 0


def _end(attempt: ReplyAttempt, now: dt.datetime, outcome: str, error: str) -> None:
    ReplyAttempt.objects.filter(pk=attempt.pk).update(finished_at=now, outcome=outcome, error=error[:500])


def _settle(
    reply: Reply,
    worker: str,
    state: str,
    *,
    error: str = "",
    due_at: dt.datetime | None = None,
    count: bool = True,
) -> None:
    fields: dict[str, object] = {"state": state, "lease_owner": "", "lease_until": None, "last_error": error[:500]}
    if count:
        fields["attempts"] = reply.attempts + 1
    if due_at is not None:
        fields["due_at"] = due_at
    if not _held(worker, reply.pk).update(**fields):
        log.warning("reply %s: lease lost before %s could be stored", reply.pk, state)
    elif state == State.FAILED:
        log.warning("reply %s failed: %s", reply.pk, error)


def _sent(reply: Reply, worker: str, remote: Remote, now: dt.datetime) -> bool:
    """Store the remote id, and our reply as an outgoing message of the conversation."""
    with transaction.atomic():
        updated = _held(worker, reply.pk).update(
            state=State.SENT,
            remote_id=remote.id[:200],
            remote_url=remote.url[:500],
            sent_at=remote.published_at or now,
            attempts=reply.attempts + 1,
            last_error="",
            lease_owner="",
            lease_until=None,
        )
        if not updated:
            log.warning("reply %s: lease lost after it was sent as %s", reply.pk, remote.id)
            return False
        sent_at = remote.published_at or now
        author = reply.author
        Message.objects.bulk_create(
            [
                Message(
                    workspace_id=reply.workspace_id,
                    conversation_id=reply.conversation_id,
                    channel_id=reply.channel_id,
                    remote_id=remote.id[:200],
                    parent_remote_id=reply.in_reply_to,
                    kind="reply",
                    author_handle=reply.channel.handle[:200],
                    author_name=(author.get_full_name() or author.get_username())[:200] if author else "",
                    text=reply.text,
                    occurred_at=sent_at,
                    direction=Message.Direction.OUT,
                )
            ],
            ignore_conflicts=True,
        )
        refresh_conversations({reply.conversation_id})
        conversation = Conversation.objects.select_for_update().get(pk=reply.conversation_id)
        changed = []
        if conversation.first_response_at is None:
            conversation.first_response_at = sent_at
            changed.append("first_response_at")
        if conversation.status == Conversation.Status.OPEN:
            conversation.status = Conversation.Status.WAITING
            changed.append("status")
        if changed:
            conversation.save(update_fields=changed)
    return True
