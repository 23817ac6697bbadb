"""The X connector, API v2 (docs/networks/x.md).

A channel is one X account: `handle` = the @username (without @), `remote_account_id` = the user
id, `credentials = {"access_token", "refresh_token", "expires_at"}` (when the access token, good for
two hours, runs out). Every call first refreshes a token that expires within five minutes.
`Channel.token_expires_at` stays empty: a refreshable channel never needs the user to reconnect.

* publish: images through POST /2/media/upload (one request each); a video through the chunked
  upload (initialize, append in 4 MiB chunks, finalize, then GET /2/media/upload?command=STATUS
  while X processes it, waiting as long as X's `check_after_secs` says, at most
  VIDEO_PROCESSING_WAIT in all); then POST /2/tweets {"text", "media"}. Uploads keep no state: a
  retried publish uploads its media again (an unused media id simply expires at X).
* find_published: X has no idempotency key. Before sending we record a SHA-256 of the normalised
  text (`text_fingerprint`), the post it answers and the media count (`OutboundPost`); to
  reconcile we read the account's own posts since then (GET /2/users/:id/tweets with start_time)
  and compare. When we cannot see far enough back or the send is too recent for X's timeline to
  show it, we raise instead of answering "not found": never publish twice.
* reply: `reply.in_reply_to_tweet_id`. delete: DELETE /2/tweets/:id.
* fetch_activity: mentions (GET /2/users/:id/mentions) newer than the cursor's `since_id`, page by
  page through `meta.next_token`; replies to our posts become comments.
* fetch_metrics: public_metrics per post (GET /2/tweets?ids=) and the account's followers
  (GET /2/users/me).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import httpx
from django.core.files.storage import default_storage
from django.db import transaction
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
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.rules import RULES
from stammtisch.networks.x import api, oauth
from stammtisch.networks.x.actions import store_refreshed_token

REFRESH_MARGIN = dt.timedelta(minutes=5)  # refresh a token this long before it runs out
PAGE = 100  # X's maximum max_results for timelines and mentions
ACTIVITY_PAGES = 5  # per fetch_activity call; the cursor carries on next time
FIND_PAGES = 3  # at most 300 of our own posts newer than the send are searched
FIND_MARGIN = dt.timedelta(minutes=5)  # clock difference between us and X
FIND_SETTLE = dt.timedelta(minutes=1)  # X's timeline may not show a post this fresh yet
METRICS_BATCH = 100  # ids per GET /2/tweets
TWEET_FIELDS = "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,attachments,lang"
IMAGE_CATEGORIES = {"image/gif": "tweet_gif"}  # everything else we upload is a tweet_image
# Chunked upload: each APPEND carries at most 5 MB (docs.x.com media upload reference); X's own
# sample sends 4 MiB, and so do we. At most 1,000 segments (segment_index 0-999): 4 GiB.
VIDEO_CHUNK = 4 * 1024 * 1024
VIDEO_PROCESSING_WAIT = 300.0  # seconds we wait in all for X to process a video before giving up
VIDEO_CHECK_MIN, VIDEO_CHECK_MAX = 1.0, 60.0  # bounds for X's check_after_secs

_URL = re.compile(r"https?://\S+")


def text_fingerprint(text: str, *, drop_trailing_url: bool = False) -> str:
    """SHA-256 of a post text as X shows it back to us: HTML entities (&amp; &lt; &gt;) decoded,
    Unicode NFC, line ends normalised, surrounding white space stripped, and every URL replaced by
    one marker, because X rewrites each link to a t.co address. With `drop_trailing_url`, one
    trailing URL is dropped first: the t.co link X appends to a post with media."""
    text = unicodedata.normalize("NFC", html.unescape(text)).replace("\r\n", "\n").strip()
    if drop_trailing_url:
        text = re.sub(r"\s*https?://\S+$", "", text).strip()
    return hashlib.sha256(_URL.sub("\x00URL", text).encode("utf-8")).hexdigest()


class XNetwork(Network):
    key: ClassVar[str] = "x"
    label: ClassVar[str] = "X"
    rules: ClassVar[TextRules] = RULES["x"]
    # POST /2/tweets: 100 requests per 15 minutes per user. Other endpoints' limits (and the
    # plan's monthly caps) come back as 429 with x-rate-limit-reset, which we honour.
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit("channel", 100, 900.0),)

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep  # waits between processing checks of a video; tests pass their own

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _check_channel(channel: Channel) -> None:
        if channel.network != "x":
            raise NetworkError(f"Not an X channel: {channel.network}", permanent=True)

    @staticmethod
    def _expiring(credentials: dict[str, Any]) -> bool:
        """True when the access token runs out within REFRESH_MARGIN (unknown expiry: False)."""
        expires = api.parse_time((credentials or {}).get("expires_at"))
        return expires is not None and expires - timezone.now() < REFRESH_MARGIN

    def _token(self, channel: Channel) -> str:
        self._check_channel(channel)
        if self._expiring(channel.credentials):
            self.refresh_credentials(channel)
        token = (channel.credentials or {}).get("access_token")
        if not isinstance(token, str) or not token:
            raise NetworkError("X: the channel has no access token; please reconnect it", auth=True)
        return token

    @contextmanager
    def _client(self, channel: Channel) -> Iterator[httpx.Client]:
        with api.client(self._token(channel)) as http:
            yield http

    @staticmethod
    def _remote(channel: Channel, body: Any, what: str) -> Remote:
        tweet = (body or {}).get("data") if isinstance(body, dict) else None
        if not isinstance(tweet, dict) or not tweet.get("id"):
            raise NetworkError(f"X {what}: unexpected answer", outcome_unknown=True)
        return Remote(
            id=str(tweet["id"]),
            url=api.POST_URL.format(username=channel.handle, id=tweet["id"]),
            published_at=api.parse_time(tweet.get("created_at")) or timezone.now(),
        )

    @staticmethod
    def _record(channel: Channel, key: str, text: str, in_reply_to: str, media_count: int) -> None:
        """Remember what we are about to send (before sending), for `find_published`."""
        values = {"text_sha256": text_fingerprint(text), "in_reply_to": in_reply_to, "media_count": media_count}
        record, created = OutboundPost.objects.get_or_create(channel=channel, idempotency_key=key, defaults=values)
        if not created:  # a retry: keep the first send time, so the search window covers every attempt
            for name, value in values.items():
                setattr(record, name, value)
            record.save(update_fields=list(values))

    @staticmethod
    def _text(outgoing: Outgoing) -> str:
        text = outgoing.text
        if outgoing.link and outgoing.link not in text:
            text = f"{text.rstrip()}\n\n{outgoing.link}" if text.strip() else outgoing.link
        return text

    def _upload(self, http: httpx.Client, item: MediaItem) -> str:
        """Upload one image or video; returns the media id to attach."""
        if item.content_type.startswith("video/"):
            return self._upload_video(http, item)
        return self._upload_image(http, item)

    @staticmethod
    def _upload_image(http: httpx.Client, item: MediaItem) -> str:
        """POST /2/media/upload (multipart, one request for an image). Returns the media id."""
        try:
            with default_storage.open(item.path, "rb") as handle:
                content = handle.read()
        except OSError as exc:
            raise NetworkError(f"X media: cannot read {item.path}: {exc}", permanent=True) from None
        name = item.path.rsplit("/", 1)[-1] or "media"
        category = IMAGE_CATEGORIES.get(item.content_type, "tweet_image")
        response = api.call(
            http,
            "POST",
            api.MEDIA_UPLOAD,
            "media upload",
            files={"media": (name, content, item.content_type)},
            data={"media_category": category, "media_type": item.content_type},
        )
        return XNetwork._media_id(api.json_of(response, "media upload"), "media upload")

    @staticmethod
    def _media_id(body: dict[str, Any], what: str) -> str:
        media = body.get("data") or {}
        media_id = str(media.get("id") or "") if isinstance(media, dict) else ""
        if not media_id:
            raise NetworkError(f"X {what}: no media id in the answer", permanent=True)
        return media_id

    def _upload_video(self, http: httpx.Client, item: MediaItem) -> str:
        """The chunked upload: initialize, append the file in VIDEO_CHUNK pieces, finalize, and wait
        until X has processed the video. Returns the media id."""
        try:
            total = default_storage.size(item.path)
            handle = default_storage.open(item.path, "rb")
        except OSError as exc:
            raise NetworkError(f"X media: cannot read {item.path}: {exc}", permanent=True) from None
        with handle:
            payload = {"media_type": item.content_type, "total_bytes": total, "media_category": "tweet_video"}
            response = api.call(http, "POST", api.MEDIA_INITIALIZE, "video upload", json=payload)
            media_id = self._media_id(api.json_of(response, "video upload"), "video upload")
            name = item.path.rsplit("/", 1)[-1] or "video"
            for segment in range((total + VIDEO_CHUNK - 1) // VIDEO_CHUNK):
                chunk = handle.read(VIDEO_CHUNK)
                api.call(
                    http,
                    "POST",
                    api.MEDIA_APPEND.format(id=media_id),
                    "video upload",
                    files={"media": (name, chunk, "application/octet-stream")},
                    data={"segment_index": str(segment)},
                )
        response = api.call(http, "POST", api.MEDIA_FINALIZE.format(id=media_id), "video upload")
        self._wait_for_processing(http, media_id, api.json_of(response, "video upload"))
        return media_id

    def _wait_for_processing(self, http: httpx.Client, media_id: str, body: dict[str, Any]) -> None:
        """Poll STATUS while processing_info says pending or in_progress. No processing_info, or
        "succeeded": ready. "failed": permanent, with X's words. Longer than VIDEO_PROCESSING_WAIT:
        transient (the retry uploads again)."""
        waited = 0.0
        params = {"command": "STATUS", "media_id": media_id}
        while True:
            data = body.get("data")
            info = data.get("processing_info") if isinstance(data, dict) else None
            if not isinstance(info, dict) or info.get("state") == "succeeded":
                return  # no processing_info: the media is ready
            if info.get("state") == "failed":
                error = info.get("error")
                detail = str(error.get("message") or error.get("name") or "") if isinstance(error, dict) else ""
                raise NetworkError(
                    "X video upload: X could not process the video" + (f": {detail}" if detail else ""),
                    permanent=True,
                )
            try:
                delay = float(info.get("check_after_secs") or VIDEO_CHECK_MIN)
            except (TypeError, ValueError):
                delay = VIDEO_CHECK_MIN
            delay = min(max(delay, VIDEO_CHECK_MIN), VIDEO_CHECK_MAX)
            if waited + delay > VIDEO_PROCESSING_WAIT:
                raise NetworkError(
                    "X video upload: X is still processing the video; trying again later", retry_after=60
                )
            self.sleep(delay)
            waited += delay
            response = api.call(http, "GET", api.MEDIA_UPLOAD, "video status", params=params)
            body = api.json_of(response, "video status")

    def _post(self, channel: Channel, http: httpx.Client, payload: dict[str, Any], what: str) -> Remote:
        response = api.call(http, "POST", api.TWEETS, what, json=payload)
        return self._remote(channel, api.json_of(response, what), what)

    # --- the contract ---------------------------------------------------------------------------

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        text = self._text(outgoing)
        if not text.strip() and not outgoing.media:
            raise NetworkError("X: a post needs text or media", permanent=True)
        with self._client(channel) as http:
            media_ids = [self._upload(http, item) for item in outgoing.media]
            payload: dict[str, Any] = {"text": text} if text.strip() else {}
            if media_ids:
                payload["media"] = {"media_ids": media_ids}
            self._record(channel, idempotency_key, text, "", len(media_ids))
            return self._post(channel, http, payload, "publish")

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        record = OutboundPost.objects.filter(channel=channel, idempotency_key=idempotency_key).first()
        if record is None:
            return None  # we record before sending: nothing recorded, nothing sent
        if timezone.now() - record.sent_at < FIND_SETTLE:
            raise NetworkError("X: the post may still be on its way; looking again in a minute", retry_after=60)
        params: dict[str, Any] = {
            "start_time": api.format_time(min(record.sent_at, since) - FIND_MARGIN),
            "max_results": PAGE,
            "tweet.fields": TWEET_FIELDS,
        }
        path = api.USER_TWEETS.format(id=channel.remote_account_id)
        with self._client(channel) as http:
            for _page in range(FIND_PAGES):
                body = api.json_of(api.call(http, "GET", path, "find published", params=params), "find published")
                for tweet in body.get("data") or []:
                    if isinstance(tweet, dict) and self._matches(tweet, record):
                        return self._remote(channel, {"data": tweet}, "find published")
                next_token = (body.get("meta") or {}).get("next_token")
                if not next_token:
                    return None  # every post since the send was seen
                params = {**params, "pagination_token": next_token}
        raise NetworkError(
            "X: too many newer posts to search; cannot tell yet whether the post went out", retry_after=600
        )

    @staticmethod
    def _matches(tweet: dict[str, Any], record: OutboundPost) -> bool:
        replied_to = next(
            (str(ref.get("id")) for ref in tweet.get("referenced_tweets") or [] if ref.get("type") == "replied_to"),
            "",
        )
        if replied_to != record.in_reply_to:
            return False
        media_count = len((tweet.get("attachments") or {}).get("media_keys") or [])
        if media_count != record.media_count:
            return False
        text = str(tweet.get("text") or "")
        return text_fingerprint(text, drop_trailing_url=media_count > 0) == record.text_sha256

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        if not text.strip():
            raise NetworkError("X: a reply needs text", permanent=True)
        with self._client(channel) as http:
            self._record(channel, idempotency_key, text, to.id, 0)
            return self._post(channel, http, {"text": text, "reply": {"in_reply_to_tweet_id": to.id}}, "reply")

    def delete(self, channel: Channel, remote: Remote) -> None:
        with self._client(channel) as http:
            response = api.send(http, "DELETE", api.TWEET.format(id=remote.id), "delete")
            if response.status_code == 404:
                return  # already gone
            api.check(response, "delete")

    # --- moderation (the inbox's like and hide buttons) ------------------------------------------
    # Like and unlike as the channel: POST /2/users/:id/likes {"tweet_id"} and DELETE
    # /2/users/:id/likes/:tweet_id (scope like.write; 50 requests per 15 minutes per user), answer
    # {"data": {"liked": true|false}}. Hide a reply in a conversation the channel started: PUT
    # /2/tweets/:id/hidden {"hidden": true|false} (scope tweet.moderate.write; 50 per 15 minutes),
    # answer {"data": {"hidden": ...}}. X deletes only one's own posts, so "delete" is not offered.
    # https://docs.x.com/x-api/posts/likes/introduction, https://docs.x.com/x-api/posts/hide-replies/introduction

    supports_moderation: ClassVar[frozenset[str]] = frozenset({"like", "hide", "unhide"})

    def _user_id(self, channel: Channel) -> str:
        if not channel.remote_account_id:
            raise NetworkError("X: the channel has no user id; please reconnect it", auth=True)
        return channel.remote_account_id

    @staticmethod
    def _flag(response: httpx.Response, name: str, what: str) -> Any:
        data = (api.json_of(response, what) or {}).get("data")
        return data.get(name) if isinstance(data, dict) else None

    def like(self, channel: Channel, remote: Remote) -> None:
        with self._client(channel) as http:
            path = api.LIKES.format(id=self._user_id(channel))
            response = api.call(http, "POST", path, "like", json={"tweet_id": remote.id})
        if self._flag(response, "liked", "like") is False:
            raise NetworkError("X like: X did not like the post", permanent=True)

    def unlike(self, channel: Channel, remote: Remote) -> None:
        with self._client(channel) as http:
            path = api.LIKE.format(id=self._user_id(channel), tweet_id=remote.id)
            response = api.call(http, "DELETE", path, "unlike")
        if self._flag(response, "liked", "unlike") is True:
            raise NetworkError("X unlike: X still shows the post as liked", permanent=True)

    def hide(self, channel: Channel, remote: Remote, hidden: bool = True) -> None:
        with self._client(channel) as http:
            response = api.call(http, "PUT", api.HIDDEN.format(id=remote.id), "hide", json={"hidden": hidden})
        if self._flag(response, "hidden", "hide") not in (hidden, None):
            raise NetworkError("X hide: X did not change the reply", permanent=True)

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        """Mentions newer than `cursor["since_id"]`. X pages from the newest down to since_id; when
        one call does not reach the end, the cursor keeps the page token and the newest id seen, and
        the next call carries on. The first sync takes only the newest page (no backfill)."""
        since_id = str(cursor.get("since_id") or "")
        pending_token = str(cursor.get("next_token") or "")
        newest = str(cursor.get("pending_newest") or "")
        params: dict[str, Any] = {
            "max_results": PAGE,
            "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": "username,name",
        }
        if since_id:
            params["since_id"] = since_id
        if pending_token:
            params["pagination_token"] = pending_token
        events: list[Event] = []
        path = api.MENTIONS.format(id=channel.remote_account_id)
        next_token = ""
        with self._client(channel) as http:
            for _page in range(ACTIVITY_PAGES):
                body = api.json_of(api.call(http, "GET", path, "mentions", params=params), "mentions")
                meta = body.get("meta") or {}
                newest = newest or str(meta.get("newest_id") or "")
                users = {str(u.get("id")): u for u in (body.get("includes") or {}).get("users") or []}
                events += [e for t in body.get("data") or [] if (e := self._event(t, users, channel)) is not None]
                next_token = str(meta.get("next_token") or "") if since_id else ""  # first sync: one page
                if not next_token:
                    break
                params = {**params, "pagination_token": next_token}
        events.sort(key=lambda e: e.occurred_at)
        if next_token:  # not at since_id yet: carry on from here next time
            return events, {**cursor, "since_id": since_id, "next_token": next_token, "pending_newest": newest}
        new_cursor = {k: v for k, v in cursor.items() if k not in ("next_token", "pending_newest")}
        if newest:
            new_cursor["since_id"] = newest
        return events, new_cursor

    @staticmethod
    def _event(tweet: dict[str, Any], users: dict[str, Any], channel: Channel) -> Event | None:
        occurred = api.parse_time(tweet.get("created_at"))
        if not tweet.get("id") or occurred is None:
            return None
        author = users.get(str(tweet.get("author_id"))) or {}
        replied_to = next(
            (str(ref.get("id")) for ref in tweet.get("referenced_tweets") or [] if ref.get("type") == "replied_to"),
            "",
        )
        is_comment = bool(replied_to) and str(tweet.get("in_reply_to_user_id") or "") == channel.remote_account_id
        return Event(
            kind="comment" if is_comment else "mention",
            remote_id=str(tweet["id"]),
            occurred_at=occurred,
            author_id=str(tweet.get("author_id") or ""),
            author_handle=str(author.get("username") or ""),
            author_name=str(author.get("name") or author.get("username") or ""),
            author_language=str(tweet.get("lang") or ""),
            text=html.unescape(str(tweet.get("text") or "")),
            in_reply_to=replied_to,
            post_remote_id=str(tweet.get("conversation_id") or replied_to) if is_comment else "",
            data={
                "url": api.POST_URL.format(username=author.get("username") or "i", id=tweet["id"]),
                "conversation_id": str(tweet.get("conversation_id") or ""),
            },
        )

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        now = timezone.now()
        metrics: list[Metric] = []
        ids = [remote.id for remote in remotes]
        with self._client(channel) as http:
            for start in range(0, len(ids), METRICS_BATCH):
                batch = ",".join(ids[start : start + METRICS_BATCH])
                params = {"ids": batch, "tweet.fields": "public_metrics"}
                body = api.json_of(api.call(http, "GET", api.TWEETS, "metrics", params=params), "metrics")
                # Deleted posts come back in "errors" (200 OK); they are left out.
                for tweet in body.get("data") or []:
                    counts = tweet.get("public_metrics") or {}
                    values = {
                        "likes": int(counts.get("like_count") or 0),
                        "shares": int(counts.get("retweet_count") or 0),
                        "comments": int(counts.get("reply_count") or 0),
                        "quotes": int(counts.get("quote_count") or 0),
                    }
                    if counts.get("impression_count") is not None:
                        values["views"] = int(counts["impression_count"])
                    metrics.append(Metric(remote_id=str(tweet["id"]), observed_at=now, values=values))
            params = {"user.fields": "public_metrics"}
            me = api.json_of(api.call(http, "GET", api.ME, "account", params=params), "account").get("data") or {}
        counts = me.get("public_metrics") or {}
        metrics.append(
            Metric(
                remote_id=channel.remote_account_id,
                observed_at=now,
                values={
                    "followers": int(counts.get("followers_count") or 0),
                    "following": int(counts.get("following_count") or 0),
                    "posts": int(counts.get("tweet_count") or 0),
                },
            )
        )
        return metrics

    def refresh_credentials(self, channel: Channel) -> Credentials:
        """A new access token from the refresh token, stored at once (X's refresh tokens are used
        once: the answer's new refresh token must not be lost). The channel row is locked, so two
        workers never spend the same refresh token; one that waited finds the fresh token and uses
        it. A network hiccup raises a transient error and leaves the stored tokens alone."""
        self._check_channel(channel)
        with transaction.atomic():
            locked = Channel.objects.select_for_update().get(pk=channel.pk)
            if locked.credentials != channel.credentials and not self._expiring(locked.credentials):
                # Another worker refreshed while we waited for the lock: its token is ours now.
                channel.credentials = locked.credentials
                return dict(locked.credentials)
            refresh_token = (locked.credentials or {}).get("refresh_token")
            if not isinstance(refresh_token, str) or not refresh_token:
                raise NetworkError("X: the channel has no refresh token; please reconnect it", auth=True)
            token = oauth.refresh(refresh_token)
            store_refreshed_token(locked, token)
        channel.credentials = locked.credentials
        return dict(locked.credentials)
