"""The Mastodon connector (docs/networks/mastodon.md).

A channel is one account on one instance: `handle` = `username@instance`, `remote_account_id` =
the account's id there, `network_data["instance"]` = https://instance, `credentials =
{"access_token": ...}` (Mastodon's user tokens do not expire).

* publish: media through POST /api/v2/media (alt text as `description`), polled with
  GET /api/v1/media/:id until processed; then POST /api/v1/statuses with `Idempotency-Key` = our
  idempotency key, so a repeated request within Mastodon's hour returns the same status.
* find_published: Mastodon cannot look a status up by idempotency key. Before sending we record a
  SHA-256 of the exact text, the status it answers and the media count (`OutboundPost`); to
  reconcile, we read the account's own statuses from that moment on and compare each candidate's
  source text (GET /api/v1/statuses/:id/source) with the hash. Only an exact match counts; when we
  cannot look far enough or the instance has no source endpoint, we raise instead of answering
  "not found", so an unknown outcome never becomes a second post.
* reply: `in_reply_to_id`, the parent's visibility kept (a reply to a private mention stays
  private) and its author mentioned, as Mastodon's own apps do.
* fetch_activity: notifications (mention, favourite, reblog, follow) forward from the cursor with
  `min_id`, page by page through the Link header.
* fetch_metrics: favourites, boosts and replies per status (Mastodon offers no impressions or
  clicks) and the account's followers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import httpx
from django.core.files.storage import default_storage
from django.utils import timezone

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
from stammtisch.networks.mastodon import api
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.rules import RULES

NOTIFICATION_TYPES = ("mention", "favourite", "reblog", "follow")
NOTIFICATIONS_PAGE = 80  # Mastodon's maximum
ACTIVITY_PAGES = 10  # per fetch_activity call; the cursor carries on next time
STATUSES_PAGE = 40  # Mastodon's maximum for an account's statuses
FIND_PAGES = 5  # at most 200 of our own statuses newer than the send are searched
FIND_MARGIN = dt.timedelta(minutes=5)  # clock difference between us and the instance
METRICS_BATCH = 20
# Seconds between polls of a media attachment that is still processing (about one minute in all).
MEDIA_POLL_DELAYS = (1, 1, 2, 3, 5, 8, 13, 21)


def text_fingerprint(text: str) -> str:
    """SHA-256 of a status text as Mastodon stores it (surrounding white space stripped, line
    ends normalised)."""
    return hashlib.sha256(text.replace("\r\n", "\n").strip().encode("utf-8")).hexdigest()


class MastodonNetwork(Network):
    key: ClassVar[str] = "mastodon"
    label: ClassVar[str] = "Mastodon"
    rules: ClassVar[TextRules] = RULES["mastodon"]
    # Mastodon's documented default: 300 requests per 5 minutes per account. The media limit
    # (30 uploads per 30 minutes) comes back as a 429 with X-RateLimit-Reset, which we honour.
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit("channel", 300, 300.0),)

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep  # waiting between media polls; tests pass a stand-in and never sleep

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _instance_and_token(channel: Channel) -> tuple[str, str]:
        if channel.network != "mastodon":
            raise NetworkError(f"Not a Mastodon channel: {channel.network}", permanent=True)
        instance = str((channel.network_data or {}).get("instance") or "")
        token = (channel.credentials or {}).get("access_token")
        if not instance or not isinstance(token, str) or not token:
            raise NetworkError("Mastodon: the channel has no access token; please reconnect it", auth=True)
        return instance, token

    @contextmanager
    def _client(self, channel: Channel) -> Iterator[httpx.Client]:
        instance, token = self._instance_and_token(channel)
        with api.client(instance, token) as http:
            yield http

    @staticmethod
    def _remote(status: Any, what: str) -> Remote:
        if not isinstance(status, dict) or not status.get("id"):
            raise NetworkError(f"Mastodon {what}: unexpected answer", outcome_unknown=True)
        return Remote(
            id=str(status["id"]),
            url=str(status.get("url") or status.get("uri") or ""),
            published_at=api.parse_time(status.get("created_at")),
        )

    @staticmethod
    def _record(channel: Channel, key: str, text: str, in_reply_to: str, media_count: int) -> None:
        """Remember what we are about to send (before sending), for `find_published`."""
        record, created = OutboundPost.objects.get_or_create(
            channel=channel,
            idempotency_key=key,
            defaults={"text_sha256": text_fingerprint(text), "in_reply_to": in_reply_to, "media_count": media_count},
        )
        if not created:  # a retry: keep the first send time, so the search window covers every attempt
            record.text_sha256, record.in_reply_to, record.media_count = (
                text_fingerprint(text),
                in_reply_to,
                media_count,
            )
            record.save(update_fields=["text_sha256", "in_reply_to", "media_count"])

    @staticmethod
    def _text(outgoing: Outgoing) -> str:
        text = outgoing.text
        if outgoing.link and outgoing.link not in text:
            text = f"{text.rstrip()}\n\n{outgoing.link}" if text.strip() else outgoing.link
        return text

    def _upload(self, http: httpx.Client, item: MediaItem) -> str:
        """Upload one file and wait until Mastodon has processed it. Returns the attachment id."""
        try:
            with default_storage.open(item.path, "rb") as handle:
                content = handle.read()
        except OSError as exc:
            raise NetworkError(f"Mastodon media: cannot read {item.path}: {exc}", permanent=True) from None
        name = item.path.rsplit("/", 1)[-1] or "media"
        data = {"description": item.alt_text} if item.alt_text else {}
        files = {"file": (name, content, item.content_type)}
        response = api.call(http, "POST", api.MEDIA_UPLOAD, "media upload", files=files, data=data)
        attachment = api.json_of(response, "media upload")
        media_id = str((attachment or {}).get("id") or "")
        if not media_id:
            raise NetworkError("Mastodon media upload: no attachment id in the answer", permanent=True)
        if response.status_code == 200 and attachment.get("url"):
            return media_id
        for delay in MEDIA_POLL_DELAYS:  # 202: processing in the background
            self.sleep(delay)
            polled = api.call(http, "GET", api.MEDIA.format(id=media_id), "media processing")
            if polled.status_code == 200:
                return media_id
        raise NetworkError("Mastodon media: still processing after a minute; trying again later", retry_after=120)

    def _post_status(self, http: httpx.Client, payload: dict[str, Any], key: str, what: str) -> Remote:
        response = api.call(http, "POST", api.STATUSES, what, json=payload, headers={"Idempotency-Key": key})
        try:
            status = response.json()
        except ValueError:  # a success we cannot read: the status may exist, so the outcome is unknown
            status = None
        return self._remote(status, what)

    # --- the contract ---------------------------------------------------------------------------

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        text = self._text(outgoing)
        if not text.strip() and not outgoing.media:
            raise NetworkError("Mastodon: a post needs text or media", permanent=True)
        with self._client(channel) as http:
            media_ids = [self._upload(http, item) for item in outgoing.media]
            payload: dict[str, Any] = {"status": text}
            if media_ids:
                payload["media_ids"] = media_ids
            self._record(channel, idempotency_key, text, "", len(media_ids))
            return self._post_status(http, payload, idempotency_key, "publish")

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        record = OutboundPost.objects.filter(channel=channel, idempotency_key=idempotency_key).first()
        if record is None:
            return None  # we record before sending: nothing recorded, nothing sent
        window_start = min(record.sent_at, since) - FIND_MARGIN
        params: dict[str, Any] = {"limit": STATUSES_PAGE, "exclude_reblogs": "true"}
        path = api.ACCOUNT_STATUSES.format(id=channel.remote_account_id)
        with self._client(channel) as http:
            for _page in range(FIND_PAGES):
                response = api.call(http, "GET", path, "find published", params=params)
                statuses = api.json_of(response, "find published")
                if not isinstance(statuses, list) or not statuses:
                    return None
                for status in statuses:
                    created = api.parse_time(status.get("created_at"))
                    if created is not None and created < window_start:
                        return None  # newest first: everything after this is older than the send
                    if self._matches(http, status, record):
                        return self._remote(status, "find published")
                older = api.next_link(response, "next").get("max_id") or str(statuses[-1].get("id") or "")
                if not older:
                    return None
                params = {**params, "max_id": older}
        raise NetworkError(
            "Mastodon: too many newer posts to search; cannot tell yet whether the post went out",
            retry_after=600,
        )

    def _matches(self, http: httpx.Client, status: dict[str, Any], record: OutboundPost) -> bool:
        if str(status.get("in_reply_to_id") or "") != record.in_reply_to:
            return False
        if len(status.get("media_attachments") or []) != record.media_count:
            return False
        response = api.send(http, "GET", api.STATUS_SOURCE.format(id=status["id"]), "find published")
        if response.status_code == 404:
            raise NetworkError(
                "Mastodon: this instance cannot show a post's source (Mastodon before 3.5), so Stammtisch "
                "cannot tell whether the post went out. Please check the account and publish again if needed.",
                permanent=True,
            )
        source = api.json_of(api.check(response, "find published"), "find published")
        return text_fingerprint(str((source or {}).get("text") or "")) == record.text_sha256

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        if not text.strip():
            raise NetworkError("Mastodon: a reply needs text", permanent=True)
        with self._client(channel) as http:
            parent = api.json_of(api.call(http, "GET", api.STATUS.format(id=to.id), "reply"), "reply")
            author = (parent or {}).get("account") or {}
            acct = str(author.get("acct") or "")
            if acct and str(author.get("id")) != channel.remote_account_id and f"@{acct}".lower() not in text.lower():
                text = f"@{acct} {text}"
            payload: dict[str, Any] = {"status": text, "in_reply_to_id": to.id}
            visibility = (parent or {}).get("visibility")
            if visibility in ("direct", "private", "unlisted"):
                payload["visibility"] = visibility  # never widen who can see the conversation
            self._record(channel, idempotency_key, text, to.id, 0)
            return self._post_status(http, payload, idempotency_key, "reply")

    def delete(self, channel: Channel, remote: Remote) -> None:
        with self._client(channel) as http:
            response = api.send(http, "DELETE", api.STATUS.format(id=remote.id), "delete")
            if response.status_code == 404:
                return  # already gone
            api.check(response, "delete")

    # Mastodon lets an account favourite anyone's status, but neither hide nor delete other
    # people's replies (https://docs.joinmastodon.org/methods/statuses/#favourite).
    supports_moderation: ClassVar[frozenset[str]] = frozenset({"like"})

    def like(self, channel: Channel, remote: Remote) -> None:
        with self._client(channel) as http:
            api.call(http, "POST", api.STATUS.format(id=remote.id) + "/favourite", "favourite")

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        """Notifications newer than `cursor["min_id"]`, oldest page first. The first sync takes
        only the newest page (no backfill of the account's whole history)."""
        base: dict[str, Any] = {"types[]": list(NOTIFICATION_TYPES), "limit": NOTIFICATIONS_PAGE}
        min_id = str(cursor.get("min_id") or "")
        events: list[Event] = []
        instance, _token = self._instance_and_token(channel)
        domain = api.instance_domain(instance)
        with self._client(channel) as http:
            for _page in range(ACTIVITY_PAGES):
                params = {**base, "min_id": min_id} if min_id else base
                response = api.call(http, "GET", api.NOTIFICATIONS, "notifications", params=params)
                page = api.json_of(response, "notifications")
                if not isinstance(page, list) or not page:
                    break
                events += [e for n in reversed(page) if (e := self._event(n, channel, domain)) is not None]
                newer = api.next_link(response, "prev").get("min_id") or str(page[0].get("id") or "")
                if not newer or newer == min_id:
                    break
                first_sync, min_id = not min_id, newer
                if first_sync or len(page) < NOTIFICATIONS_PAGE:
                    break
        events.sort(key=lambda e: e.occurred_at)
        return events, {**cursor, "min_id": min_id} if min_id else dict(cursor)

    @staticmethod
    def _event(notification: dict[str, Any], channel: Channel, domain: str) -> Event | None:
        kind = notification.get("type")
        account = notification.get("account") or {}
        status = notification.get("status") or {}
        occurred = api.parse_time(notification.get("created_at"))
        if kind not in NOTIFICATION_TYPES or occurred is None or not notification.get("id"):
            return None
        acct = str(account.get("acct") or "")
        author: dict[str, Any] = {
            "author_id": str(account.get("id") or ""),
            "author_handle": acct if "@" in acct or not acct else f"{acct}@{domain}",
            "author_name": str(account.get("display_name") or account.get("username") or ""),
        }
        links = api.profile_links(account)
        profile: dict[str, Any] = {} if links is None else {"author_links": links}
        if kind == "follow":
            return Event(kind="follow", remote_id=str(notification["id"]), occurred_at=occurred, data=profile, **author)
        if kind in ("favourite", "reblog"):
            return Event(
                kind="like" if kind == "favourite" else "share",
                remote_id=str(notification["id"]),
                occurred_at=occurred,
                post_remote_id=str(status.get("id") or ""),
                data=profile,
                **author,
            )
        # A mention: a private message, a comment on one of our posts, or a mention elsewhere.
        if not status.get("id"):
            return None
        if status.get("visibility") == "direct":
            event_kind = "message"
        elif str(status.get("in_reply_to_account_id") or "") == channel.remote_account_id:
            event_kind = "comment"
        else:
            event_kind = "mention"
        in_reply_to = str(status.get("in_reply_to_id") or "")
        return Event(
            kind=event_kind,
            remote_id=str(status["id"]),
            occurred_at=api.parse_time(status.get("created_at")) or occurred,
            author_language=str(status.get("language") or ""),
            text=api.html_to_text(str(status.get("content") or "")),
            in_reply_to=in_reply_to,
            post_remote_id=in_reply_to if event_kind == "comment" else "",
            data={
                "url": str(status.get("url") or status.get("uri") or ""),
                "visibility": str(status.get("visibility") or ""),
                "spoiler_text": str(status.get("spoiler_text") or ""),
                "notification_id": str(notification["id"]),
                **profile,
            },
            **author,
        )

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        now = timezone.now()
        metrics: list[Metric] = []
        ids = [remote.id for remote in remotes]
        with self._client(channel) as http:
            for status in self._statuses(http, ids):
                metrics.append(
                    Metric(
                        remote_id=str(status["id"]),
                        observed_at=now,
                        values={
                            "likes": int(status.get("favourites_count") or 0),
                            "shares": int(status.get("reblogs_count") or 0),
                            "comments": int(status.get("replies_count") or 0),
                        },
                    )
                )
            account = api.json_of(api.call(http, "GET", api.VERIFY_CREDENTIALS, "account"), "account")
        metrics.append(
            Metric(
                remote_id=channel.remote_account_id,
                observed_at=now,
                values={
                    "followers": int(account.get("followers_count") or 0),
                    "following": int(account.get("following_count") or 0),
                    "posts": int(account.get("statuses_count") or 0),
                },
            )
        )
        return metrics

    @staticmethod
    def _statuses(http: httpx.Client, ids: list[str]) -> list[dict[str, Any]]:
        """Our statuses by id: GET /api/v1/statuses?id[]= in batches (Mastodon 4.3+), one by one
        on older instances. Deleted statuses are left out."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), METRICS_BATCH):
            batch = ids[start : start + METRICS_BATCH]
            response = api.send(http, "GET", api.STATUSES, "metrics", params={"id[]": batch})
            if response.status_code != 404:
                page = api.json_of(api.check(response, "metrics"), "metrics")
                found += [s for s in page if isinstance(s, dict) and s.get("id")] if isinstance(page, list) else []
                continue
            for status_id in batch:  # before Mastodon 4.3
                single = api.send(http, "GET", api.STATUS.format(id=status_id), "metrics")
                if single.status_code == 404:
                    continue
                found.append(api.json_of(api.check(single, "metrics"), "metrics"))
        return found

    def refresh_credentials(self, channel: Channel) -> Credentials:
        """Mastodon's user tokens do not expire and have no refresh token: we only check that the
        token still works (an `auth` error when it was revoked) and keep it."""
        with self._client(channel) as http:
            api.call(http, "GET", api.VERIFY_CREDENTIALS, "account")
        return dict(channel.credentials)
