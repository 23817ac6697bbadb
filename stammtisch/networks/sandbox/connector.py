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
import functools
import json
from collections import defaultdict
from typing import ClassVar, cast

from django.conf import settings
from django.db import connection
from django.db.models import Field, Max, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stammtisch.core.db import db_time, write_one
from stammtisch.networks.base import (
    Credentials,
    Cursor,
    Event,
    MediaItem,
    Metric,
    Network,
    NetworkError,
    Outgoing,
    RateLimit,
    Remote,
    TextRules,
)
from stammtisch.networks.models import Channel
from stammtisch.networks.rules import LABELS, RULES, Validation, validate
from stammtisch.networks.sandbox import clock, faults, personas, simulation
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
    # Generous, so that load benchmarks measure the publisher; tests set their own.
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit("channel", 600, 60.0), RateLimit("network", 60_000, 60.0))

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

    def _check_rules(self, channel: Channel, outgoing: Outgoing) -> None:
        """Refuse what the network the channel stands in for would refuse (text and media by
        `rules.validate`): a Sandbox "Instagram" takes no post without an image."""
        key = channel.stands_in_for if channel.stands_in_for in RULES else self.key
        validation = _validated(key, outgoing.text, tuple(outgoing.media))
        if not validation.ok:
            problems = "; ".join(problem.message for problem in validation.problems)
            raise NetworkError(f"Sandbox as {LABELS[key]}: 400 {problems}", permanent=True)

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
        if not settings.SANDBOX_REACTIONS and not outgoing.first_comment:
            return self._publish_quietly(channel, outgoing, idempotency_key)
        account = self._account(channel)
        self._check_text(outgoing.text, len(outgoing.media))
        self._check_rules(channel, outgoing)
        if outgoing.first_comment:
            self._check_text(outgoing.first_comment)
        fault = faults.take("publish")
        faults.raise_before(fault, "publish")
        post = simulation.publish_post(
            account,
            text=outgoing.text,
            link=outgoing.link,
            media_count=len(outgoing.media),
            media=[_media_entry(item) for item in outgoing.media],
            idempotency_key=idempotency_key,
        )
        if outgoing.first_comment:
            simulation.reply_to(
                account, post, text=outgoing.first_comment, idempotency_key=f"{idempotency_key}:first-comment"
            )
        faults.raise_after(fault)
        return self._remote(post)

    def _publish_quietly(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        """`publish` without the audience simulation (settings.SANDBOX_REACTIONS off): one INSERT
        that checks the token in the same statement, as a network's API server would, and stores
        the same row as `simulation.publish_post`, except that the text's features (what the
        simulation reads from a post) are left empty: they are worked out when first read
        (`simulation.features_of`), as a network ranks a post after accepting it."""
        if channel.network != self.key:
            raise NetworkError(f"Not a Sandbox channel: {channel.network}", permanent=True)
        token = (channel.credentials or {}).get("token")
        if not isinstance(token, str) or not token:
            raise NetworkError("Sandbox: no access token", auth=True)
        self._check_text(outgoing.text, len(outgoing.media))
        self._check_rules(channel, outgoing)
        fault = faults.take("publish")
        faults.raise_before(fault, "publish")
        published_at = clock.now()
        media = len(outgoing.media)
        values = {
            "text": outgoing.text,
            "link": outgoing.link,
            "media_count": media,
            "media": json.dumps([_media_entry(item) for item in outgoing.media]),
            "idempotency_key": idempotency_key,
            "features": "{}",
            "published_at": published_at,
            "created_at": timezone.now(),
        }
        post_id = _insert_post(values, token_hash=hash_token(token), handle=channel.handle)
        if post_id is None:
            raise NetworkError("Sandbox: 401 invalid or expired access token", auth=True)
        faults.raise_after(fault)
        url = f"{_feed_url(channel.handle)}{post_id}/#post-{post_id}"  # as SandboxPost.url, without a query
        return Remote(id=f"post-{post_id}", url=url, published_at=published_at)

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
        # Idempotent by key (as Mastodon's Idempotency-Key header): the same reply again is the first one.
        ours = SandboxPost.objects.select_related("account").filter(
            account=account, parent=parent, author_persona__isnull=True, deleted_at__isnull=True
        )
        reply = ours.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
        if reply is None:
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

    # --- moderation (optional contract; the inbox's like, hide and delete buttons) --------------

    supports_moderation: ClassVar[frozenset[str]] = frozenset({"like", "hide", "unhide", "delete"})

    def _comment(self, account: SandboxAccount, remote_id: str) -> SandboxPost:
        """A persona's comment or reply under one of the account's posts."""
        post_id = post_id_from_remote(remote_id)
        found = SandboxPost.objects.filter(pk=post_id, account=account).first() if post_id else None
        if found is None or found.author_persona_id is None or found.published_at > clock.now():
            raise NetworkError(f"Sandbox: 404 comment {remote_id} not found", permanent=True)
        return found

    def _moderate(self, channel: Channel, remote: Remote, what: str, **change: object) -> SandboxPost:
        account = self._account(channel)
        faults.raise_before(faults.take(what), what)
        comment = self._comment(account, remote.id)
        if comment.deleted_at is not None:
            raise NetworkError(f"Sandbox: 404 {remote.id} was deleted", permanent=True)
        # Kept with the comment's features (no schema change): {"moderation": {"liked": ..., "hidden": ...}}.
        features = dict(comment.features or {})
        features["moderation"] = {**(features.get("moderation") or {}), **change}
        SandboxPost.objects.filter(pk=comment.pk).update(features=features)
        comment.features = features
        return comment

    def like(self, channel: Channel, remote: Remote) -> None:
        self._moderate(channel, remote, "like", liked=True)

    def hide(self, channel: Channel, remote: Remote, hidden: bool = True) -> None:
        self._moderate(channel, remote, "hide", hidden=hidden)

    def delete_comment(self, channel: Channel, remote: Remote) -> None:
        """The account may delete comments under its own posts (as a page can on Facebook)."""
        account = self._account(channel)
        faults.raise_before(faults.take("delete"), "delete")
        comment = self._comment(account, remote.id)
        if comment.deleted_at is None:
            simulation.delete_post(comment)

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


@functools.lru_cache(maxsize=512)
def _validated(key: str, text: str, media: tuple[MediaItem, ...]) -> Validation:
    """`rules.validate`, once per text and process (a post goes to several channels)."""
    return validate(key, text, media)


def _media_entry(item: MediaItem) -> dict[str, str]:
    return {"url": item.url, "alt": item.alt_text, "type": item.content_type}


@functools.lru_cache(maxsize=1024)
def _feed_url(handle: str) -> str:
    """The account's feed; a post's page is `<feed>/<post id>/` (urls.py)."""
    return f"{settings.BASE_URL}{reverse('sandbox:feed', args=[handle])}"


JSON_COLUMNS = frozenset({"features", "media"})


def _insert_post(values: dict[str, object], *, token_hash: str, handle: str) -> int | None:
    """Insert our top-level post if the token is valid for the account `handle`; its id, or None
    for a missing, wrong or expired token (nothing stored). `values`: column name to value
    (datetimes as they are, JSON as text)."""
    params = [db_time(value) if isinstance(value, dt.datetime) else value for value in values.values()]
    wall = db_time(timezone.now())
    rows = write_one(_insert_statement(tuple(values), connection.vendor), [*params, token_hash, handle, wall])
    return int(rows[0][0]) if rows else None


@functools.lru_cache(maxsize=8)
def _insert_statement(names: tuple[str, ...], vendor: str) -> str:
    posts, tokens, accounts = SandboxPost._meta, SandboxToken._meta, SandboxAccount._meta
    quote = connection.ops.quote_name
    account_column = cast(Field, tokens.get_field("account")).column
    columns = [cast(Field, posts.get_field(name)) for name in names]
    # JSON columns get their text as it is (PostgreSQL casts it to jsonb).
    jsonb = vendor == "postgresql"
    placeholders = ", ".join("%s::jsonb" if jsonb and c.name in JSON_COLUMNS else "%s" for c in columns)
    return (
        f"INSERT INTO {quote(posts.db_table)} ({', '.join(quote(c.column) for c in columns)}, "  # noqa: S608 (names from the models)
        f"{quote(cast(Field, posts.get_field('account')).column)}) "
        f"SELECT {placeholders}, t.{quote(account_column)} "
        f"FROM {quote(tokens.db_table)} t INNER JOIN {quote(accounts.db_table)} a "
        f"ON a.{quote(accounts.pk.column)} = t.{quote(account_column)} "
        "WHERE t.token_hash = %s AND a.handle = %s AND (t.expires_at IS NULL OR t.expires_at > %s) "
        f"RETURNING {quote(posts.pk.column)}"
    )


def _parse_time(value: object) -> dt.datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


def _event(row: SandboxEvent) -> Event:
    persona = row.persona
    data: dict[str, object] = {"sandbox_kind": row.kind}
    if persona is not None and (links := personas.profile_links(persona.pk)):
        data["author_links"] = links  # a second account named in the bio (people's merge suggestions)
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
