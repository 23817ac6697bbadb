"""The Sandbox connector: the connector contract (networks/base.py) on our own tables.

A Channel connects with `network="sandbox"`, `handle` = the SandboxAccount's handle and
`credentials={"token": ...}` (made by `actions.do_connect_sandbox_channel` or
`simulation.issue_token`). A missing, wrong or expired token raises `NetworkError(auth=True)`.

Remote ids: posts, comments and replies are `post-<id>` (the id one replies to), other events
`event-<id>`, the account `account-<id>`. All times are the Sandbox clock's (`clock.now()`).

* `fetch_activity` returns what the audience did (likes, shares, comments, questions as comments
  with `data["question"]`, answers to our replies as `reply`, follows, unfollows, link clicks),
  never views (those are in `fetch_metrics`, as on real networks). The cursor survives
  back-dated writes (`clock.at`): it remembers both the time it has seen up to and the newest
  event id, so an event created later for an earlier time is still delivered. Pages hold at most
  `PAGE_SIZE` events; an event may be delivered twice (same remote id), never lost.
* `fetch_metrics` returns one Metric per known, undeleted post (views, likes, shares, comments,
  questions, clicks, follows) and, last, one for the account (`followers`, `posts`).
* Faults: `faults.py` (settings.SANDBOX_FAULT_RATE and `faults.inject`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import ClassVar

from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stammtisch.networks.base import (
    Credentials,
    Cursor,
    Event,
    Metric,
    Network,
    NetworkError,
    Outgoing,
    Remote,
    TextRules,
)
from stammtisch.networks.models import Channel
from stammtisch.networks.rules import RULES
from stammtisch.networks.sandbox import clock, faults, simulation
from stammtisch.networks.sandbox.models import (
    SandboxAccount,
    SandboxEvent,
    SandboxPost,
    SandboxToken,
    hash_token,
)

Kind = SandboxEvent.Kind
PAGE_SIZE = 500
MAX_LENGTH = RULES["sandbox"].max_length
# Old tokens stay valid this long after refresh_credentials, as with many real networks.
TOKEN_GRACE = dt.timedelta(hours=1)
ACTIVITY_KINDS = (
    Kind.LIKE,
    Kind.SHARE,
    Kind.COMMENT,
    Kind.QUESTION,
    Kind.REPLY,
    Kind.FOLLOW,
    Kind.UNFOLLOW,
    Kind.CLICK,
)
METRIC_KINDS = {
    Kind.VIEW: "views",
    Kind.LIKE: "likes",
    Kind.SHARE: "shares",
    Kind.CLICK: "clicks",
    Kind.FOLLOW: "follows",
    Kind.QUESTION: "questions",
}
COMMENT_KINDS = (Kind.COMMENT, Kind.QUESTION, Kind.REPLY)


def post_id_from_remote(remote_id: str) -> int | None:
    prefix, _sep, number = remote_id.partition("-")
    return int(number) if prefix == "post" and number.isdigit() else None


class SandboxNetwork(Network):
    key: ClassVar[str] = "sandbox"
    label: ClassVar[str] = "Sandbox"  # a name, the same in every language
    rules: ClassVar[TextRules] = RULES["sandbox"]
    supports_first_comment: ClassVar[bool] = True

    # --- helpers --------------------------------------------------------------------------------

    def _account(self, channel: Channel) -> SandboxAccount:
        if channel.network != self.key:
            raise NetworkError(f"Not a Sandbox channel: {channel.network}", permanent=True)
        token = (channel.credentials or {}).get("token")
        if not isinstance(token, str) or not token:
            raise NetworkError("Sandbox: no access token", auth=True)
        found = (
            SandboxToken.objects.select_related("account")
            .filter(token_hash=hash_token(token), account__handle=channel.handle)
            .first()
        )
        if found is None or (found.expires_at is not None and found.expires_at <= timezone.now()):
            raise NetworkError("Sandbox: 401 invalid or expired access token", auth=True)
        return found.account

    def _check_text(self, text: str, media: int = 0) -> None:
        if len(text) > MAX_LENGTH:
            raise NetworkError(f"Sandbox: text longer than {MAX_LENGTH} characters", permanent=True)
        if not text.strip() and not media:
            raise NetworkError("Sandbox: a post needs text or media", permanent=True)

    def _own_post(self, account: SandboxAccount, remote_id: str) -> SandboxPost:
        post_id = post_id_from_remote(remote_id)
        posts = SandboxPost.objects.select_related("account")
        post = posts.filter(pk=post_id, account=account).first() if post_id else None
        if post is None or post.published_at > clock.now():
            raise NetworkError(f"Sandbox: 404 {remote_id} not found", permanent=True)
        return post

    @staticmethod
    def _remote(post: SandboxPost) -> Remote:
        return Remote(id=post.remote_id, url=post.url, published_at=post.published_at)

    # --- the contract ---------------------------------------------------------------------------

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        account = self._account(channel)
        self._check_text(outgoing.text, len(outgoing.media))
        if outgoing.first_comment:
            self._check_text(outgoing.first_comment)
        fault = faults.take("publish")
        faults.raise_before(fault, "publish")
        post = simulation.publish_post(
            account,
            text=outgoing.text,
            link=outgoing.link,
            media_count=len(outgoing.media),
            idempotency_key=idempotency_key,
        )
        if outgoing.first_comment:
            simulation.reply_to(
                account, post, text=outgoing.first_comment, idempotency_key=f"{idempotency_key}:first-comment"
            )
        faults.raise_after(fault)
        return self._remote(post)

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        """Our post or reply published with this key on or after `since` (Sandbox clock or wall
        clock, whichever the caller used), not deleted; the newest if the caller published twice."""
        account = self._account(channel)
        faults.raise_before(faults.take("find_published"), "find_published")
        if not idempotency_key:
            return None
        post = (
            SandboxPost.objects.select_related("account")
            .filter(
                account=account,
                author_persona__isnull=True,
                idempotency_key=idempotency_key,
                deleted_at__isnull=True,
            )
            .filter(Q(published_at__gte=since) | Q(created_at__gte=since))
            .order_by("-id")
            .first()
        )
        return self._remote(post) if post else None

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        account = self._account(channel)
        self._check_text(text)
        parent = self._own_post(account, to.id)
        if parent.deleted_at is not None:
            raise NetworkError(f"Sandbox: 404 {to.id} was deleted", permanent=True)
        fault = faults.take("reply")
        faults.raise_before(fault, "reply")
        reply = simulation.reply_to(account, parent, text=text, idempotency_key=idempotency_key)
        faults.raise_after(fault)
        return self._remote(reply)

    def delete(self, channel: Channel, remote: Remote) -> None:
        """Delete our post or reply; deleting it again is fine, a persona's comment is not ours."""
        account = self._account(channel)
        faults.raise_before(faults.take("delete"), "delete")
        post = self._own_post(account, remote.id)
        if post.author_persona_id is not None:
            raise NetworkError("Sandbox: 403 only the author can delete this", permanent=True)
        if post.deleted_at is None:
            simulation.delete_post(post)

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        account = self._account(channel)
        faults.raise_before(faults.take("fetch_activity"), "fetch_activity")
        now = clock.now()
        simulation.catch_up(account)

        seen_until = _parse_time(cursor.get("until"))
        seen_max_id = int(cursor.get("max_id", 0))
        events = SandboxEvent.objects.filter(account=account, kind__in=ACTIVITY_KINDS)
        if "window_until" in cursor:  # continuing a page of the previous call
            window_until = _parse_time(cursor["window_until"]) or now
            window_max_id = int(cursor["window_max_id"])
        else:
            window_until = now
            window_max_id = SandboxEvent.objects.filter(account=account).aggregate(m=Max("pk"))["m"] or 0
        new = events.filter(occurs_at__lte=window_until, pk__lte=window_max_id)
        if seen_until is not None:
            new = new.filter(Q(occurs_at__gt=seen_until) | Q(pk__gt=seen_max_id))
        after_time = _parse_time(cursor.get("after_time"))
        if after_time is not None:
            after_id = int(cursor["after_id"])
            new = new.filter(Q(occurs_at__gt=after_time) | Q(occurs_at=after_time, pk__gt=after_id))
        rows = list(new.select_related("persona", "comment").order_by("occurs_at", "pk")[: PAGE_SIZE + 1])

        page = rows[:PAGE_SIZE]
        if len(rows) > PAGE_SIZE:
            last = page[-1]
            next_cursor: Cursor = {
                "until": cursor.get("until"),
                "max_id": seen_max_id,
                "window_until": window_until.isoformat(),
                "window_max_id": window_max_id,
                "after_time": last.occurs_at.isoformat(),
                "after_id": last.pk,
            }
        elif seen_until is not None and window_until < seen_until:
            # The clock went back (clock.at): keep the old mark; at worst an event comes twice.
            next_cursor = {"until": seen_until.isoformat(), "max_id": seen_max_id}
        else:
            next_cursor = {"until": window_until.isoformat(), "max_id": max(window_max_id, seen_max_id)}
        return [_event(e) for e in page], next_cursor

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        account = self._account(channel)
        faults.raise_before(faults.take("fetch_metrics"), "fetch_metrics")
        now = clock.now()
        wanted = {pid: r.id for r in remotes if (pid := post_id_from_remote(r.id)) is not None}
        posts = set(
            SandboxPost.objects.filter(
                pk__in=wanted, account=account, deleted_at__isnull=True, published_at__lte=now
            ).values_list("pk", flat=True)
        )
        counts: dict[int, dict[str, int]] = defaultdict(dict)
        totals = (
            SandboxEvent.objects.filter(post_id__in=posts, occurs_at__lte=now)
            .values("post_id", "kind")
            .annotate(n=Sum("count"))
        )
        for row in totals:
            counts[row["post_id"]][row["kind"]] = row["n"]
        metrics = []
        for post_id in sorted(posts):
            by_kind = counts[post_id]
            values = {name: by_kind.get(kind, 0) for kind, name in METRIC_KINDS.items()}
            values["comments"] = sum(by_kind.get(kind, 0) for kind in COMMENT_KINDS)
            metrics.append(Metric(remote_id=wanted[post_id], observed_at=now, values=values))
        top_level = SandboxPost.objects.filter(
            account=account,
            author_persona__isnull=True,
            parent__isnull=True,
            deleted_at__isnull=True,
            published_at__lte=now,
        )
        metrics.append(
            Metric(
                remote_id=account.remote_id,
                observed_at=now,
                values={"followers": simulation.follower_count(account, now), "posts": top_level.count()},
            )
        )
        return metrics

    def refresh_credentials(self, channel: Channel) -> Credentials:
        """A new token; the old one keeps working for TOKEN_GRACE."""
        account = self._account(channel)
        faults.raise_before(faults.take("refresh_credentials"), "refresh_credentials")
        old = hash_token(channel.credentials["token"])
        SandboxToken.objects.filter(token_hash=old, expires_at__isnull=True).update(
            expires_at=timezone.now() + TOKEN_GRACE
        )
        return {"token": simulation.issue_token(account)}


def _parse_time(value: object) -> dt.datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


def _event(row: SandboxEvent) -> Event:
    persona = row.persona
    data: dict[str, object] = {"sandbox_kind": row.kind}
    kind = row.kind
    if kind == Kind.QUESTION:
        kind, data["question"] = Kind.COMMENT, True
    post_remote = f"post-{row.post_id}" if row.post_id else ""
    in_reply_to = post_remote
    if row.comment is not None and row.comment.parent_id:
        in_reply_to = f"post-{row.comment.parent_id}"
    return Event(
        kind=str(kind),
        remote_id=row.remote_id,
        occurred_at=row.occurs_at,
        author_id=f"persona-{persona.pk}" if persona else "",
        author_handle=persona.handle if persona else "",
        author_name=persona.name if persona else "",
        author_language=persona.language if persona else "",
        text=row.text,
        in_reply_to=in_reply_to,
        post_remote_id=post_remote,
        data=data,
    )
