"""The Threads connector, Threads API v1.0 (docs/networks/threads.md).

A channel is one Threads profile: `handle` = the username, `remote_account_id` = the Threads user
id, `credentials = {"access_token", "issued_at"}` (a long-lived token), `token_expires_at` = when
that token runs out ("reconnect by", docs/networks/health.md). Every call first refreshes a token
with fewer than REFRESH_WITHIN of its 60 days left, which moves `token_expires_at` on.

What Facebook, Instagram and Threads share comes from the Meta base (`meta/connector.py`): the
public-media-URL check, the record of what we sent (`OutboundPost`) and the per-key facts in
`network_data`. Threads' own host, version and token handling are in `api.py` and `oauth.py`.

* publish: Threads fetches every file from its public URL (MediaItem.url, docs/media.md). Step 1
  creates a media container: POST /{user}/threads with media_type TEXT (the link as
  `link_attachment`), IMAGE (`image_url`) or VIDEO (`video_url`); several files become a CAROUSEL
  (one child container each with is_carousel_item, then the carousel with `children`). With media
  the link goes into the text. The container id is remembered (network_data["threads_containers"])
  before anything is published, and a retry with the same idempotency key reuses it: a container
  can be published only once. We poll the container's `status` until FINISHED, check the
  profile's quota (GET /{user}/threads_publishing_limit), then step 2 publishes it: POST
  /{user}/threads_publish with creation_id.
* find_published: the container's status tells exactly whether it was published (PUBLISHED); the
  post itself is then found among the profile's newest threads (GET /{user}/threads, or the
  replies under the post we answered) by the text's SHA-256 (`OutboundPost`). Anything unsure
  raises instead of answering "not found".
* reply: the same two steps with `reply_to_id`. delete: DELETE /{media-id}.
* moderation (inbox): hide and show again replies to our posts (POST /{reply-id}/manage_reply).
* fetch_activity: the conversation (replies at any depth) under our ACTIVITY_POSTS newest posts,
  newest first and page by page (`paging.cursors.after`) down to what the cursor has seen; and
  the posts that mention the profile (GET /{user}/mentions) when that permission was granted.
* fetch_metrics: views, likes, replies, reposts, quotes and shares per post (GET
  /{media-id}/insights) and the profile's followers (GET /{user}/threads_insights).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import httpx
from django.db import transaction
from django.utils import timezone

from stammtisch.networks.base import (
    Credentials,
    Cursor,
    Event,
    MediaItem,
    Metric,
    NetworkError,
    Outgoing,
    RateLimit,
    Remote,
    TextRules,
)
from stammtisch.networks.meta.connector import MetaNetwork, text_fingerprint
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.rules import RULES
from stammtisch.networks.threads import api, oauth
from stammtisch.networks.threads.actions import store_refreshed_token

log = logging.getLogger(__name__)

CONTAINERS = "threads_containers"  # network_data key: idempotency key -> container id
# Seconds between polls of a container. Text and images are usually ready at once; Meta asks to
# poll about once a minute for at most five minutes (Threads API Troubleshooting).
POLL_DELAYS = (1, 2, 3, 5, 10, 15, 30, 60, 60, 60, 60)
REFRESH_WITHIN = dt.timedelta(days=50)  # refresh a 60-day token once fewer than 50 days are left
MIN_TOKEN_AGE = dt.timedelta(hours=24)  # Threads refreshes only tokens at least a day old
PAGE = 50  # items per page of a list
ACTIVITY_POSTS = 10  # our newest posts whose conversations fetch_activity reads
CONVERSATION_PAGES = 5  # per post and call; the cursor carries on next time
MENTION_PAGES = 3
FIND_PAGES = 5  # at most 250 of our newest posts (or replies) searched by find_published
MENTIONS_EPOCH = 1688540400  # the mentions endpoint refuses an earlier `since` (Mentions reference)
POST_FIELDS = "id,text,timestamp,permalink,media_type"
REPLY_FIELDS = "id,text,username,permalink,timestamp,media_type,replied_to,root_post,is_reply"
INSIGHT_METRICS = "views,likes,replies,reposts,quotes,shares"
# Threads' insight names -> ours (docs/networks/threads.md): reposts are "shares" as on X and
# Bluesky; Threads' own "shares" (sending a post to someone) are "sends".
METRIC_NAMES = {
    "views": "views",
    "likes": "likes",
    "replies": "comments",
    "reposts": "shares",
    "quotes": "quotes",
    "shares": "sends",
}


def _media_types(count: int) -> set[str]:
    """The `media_type` Threads reports for a post we made with `count` files."""
    if count == 0:
        return {"TEXT_POST"}
    return {"IMAGE", "VIDEO"} if count == 1 else {"CAROUSEL_ALBUM"}


def _iso(when: dt.datetime | None) -> str:
    return when.isoformat() if when is not None else ""


def _from_iso(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


class ThreadsNetwork(MetaNetwork):
    key: ClassVar[str] = "threads"
    label: ClassVar[str] = "Threads"
    network_label: ClassVar[str] = "Threads"
    rules: ClassVar[TextRules] = RULES["threads"]
    # Publishing: 250 posts per profile in a moving 24 hours (a carousel counts as one), enforced
    # by threads_publish (Threads overview, "Rate limiting"). Replies have a quota of their own
    # (1,000 per 24 hours), which we check before each reply with threads_publishing_limit; the
    # app's call budget (4,800 x impressions per day) comes back as codes 4/17/32/613.
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit("channel", 250, 86400.0),)

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep  # waiting between container polls; tests pass a stand-in

    # --- tokens ---------------------------------------------------------------------------------

    @staticmethod
    def _due(channel: Channel, now: dt.datetime) -> bool:
        """True when the token should be refreshed now: fewer than REFRESH_WITHIN left and at least
        a day old (unknown expiry: never)."""
        expires = channel.token_expires_at
        if expires is None or expires - now >= REFRESH_WITHIN:
            return False
        issued = _from_iso((channel.credentials or {}).get("issued_at"))
        return issued is None or now - issued >= MIN_TOKEN_AGE

    def _token(self, channel: Channel) -> str:
        if channel.network != self.key:
            raise NetworkError(f"Not a Threads channel: {channel.network}", permanent=True)
        now = timezone.now()
        if channel.token_expires_at is not None and channel.token_expires_at <= now:
            raise NetworkError("Threads: the access token has run out; please reconnect the channel", auth=True)
        if self._due(channel, now):
            try:
                self.refresh_credentials(channel)
            except NetworkError as error:
                if error.auth:
                    raise
                # The current token still works for weeks: use it and try again next time.
                log.warning("threads channel %s: token refresh failed, will retry: %s", channel.pk, error.message)
        token = (channel.credentials or {}).get("access_token")
        if not isinstance(token, str) or not token or not channel.remote_account_id:
            raise NetworkError("Threads: the channel has no access token; please reconnect it", auth=True)
        return token

    @contextmanager
    def _client(self, channel: Channel) -> Iterator[httpx.Client]:
        with api.client(self._token(channel)) as http:
            yield http

    def refresh_credentials(self, channel: Channel) -> Credentials:
        """A fresh long-lived token (GET /refresh_access_token), stored at once with its new expiry.
        The channel row is locked, so two workers never refresh at the same time; one that waited
        finds the fresh token and uses it. A token less than a day old is kept as it is (Threads
        refreshes only older ones). A network hiccup raises a temporary error and leaves the stored
        token alone; an expired or revoked token is an `auth` error (reconnect)."""
        if channel.network != self.key:
            raise NetworkError(f"Not a Threads channel: {channel.network}", permanent=True)
        now = timezone.now()
        with transaction.atomic():
            locked = Channel.objects.select_for_update().get(pk=channel.pk)
            changed = (locked.credentials, locked.token_expires_at) != (channel.credentials, channel.token_expires_at)
            token = (locked.credentials or {}).get("access_token")
            issued = _from_iso((locked.credentials or {}).get("issued_at"))
            too_new = issued is not None and now - issued < MIN_TOKEN_AGE
            if (changed and not self._due(locked, now)) or too_new:
                # Refreshed by another worker meanwhile, or too new to refresh: keep what is stored.
                channel.credentials, channel.token_expires_at = locked.credentials, locked.token_expires_at
                return dict(locked.credentials)
            if not isinstance(token, str) or not token:
                raise NetworkError("Threads: the channel has no access token; please reconnect it", auth=True)
            if locked.token_expires_at is not None and locked.token_expires_at <= now:
                raise NetworkError("Threads: the access token has run out; please reconnect the channel", auth=True)
            store_refreshed_token(locked, oauth.refresh(token))
        channel.credentials, channel.token_expires_at = locked.credentials, locked.token_expires_at
        return dict(locked.credentials)

    # --- publish and reply ----------------------------------------------------------------------

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        text, link, media = outgoing.text.strip(), outgoing.link.strip(), outgoing.media
        extra: dict[str, str] = {}
        if link and not media:
            extra["link_attachment"] = link  # a text post shows the link as a preview card
            text = text or link
        elif link and link not in text:  # posts with media have no link card: the link goes in the text
            text = f"{text}\n\n{link}" if text else link
        if not text and not media:
            raise NetworkError("Threads: a post needs text or media", permanent=True)
        self._check_media(media)
        return self._post(channel, idempotency_key, text=text, media=media, extra=extra, reply_to="")

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        if not text.strip():
            raise NetworkError("Threads: a reply needs text", permanent=True)
        return self._post(
            channel, idempotency_key, text=text.strip(), media=(), extra={"reply_to_id": to.id}, reply_to=to.id
        )

    def _check_media(self, media: Sequence[MediaItem]) -> None:
        """Refuse what Threads would refuse, before anything is sent (the composer checks the same
        rules: networks/rules.py)."""
        if len(media) > self.rules.max_media:
            raise NetworkError(f"Threads: at most {self.rules.max_media} images or videos in a post", permanent=True)
        for item in media:
            if not self.rules.accepts(item.content_type):
                raise NetworkError(
                    f"Threads does not accept {item.content_type or 'this kind of'} files", permanent=True
                )
            self._public_url(item)  # Threads fetches each file: it needs a public address

    def _post(
        self,
        channel: Channel,
        key: str,
        *,
        text: str,
        media: Sequence[MediaItem],
        extra: dict[str, str],
        reply_to: str,
    ) -> Remote:
        user = channel.remote_account_id
        label = "Threads reply" if reply_to else "Threads publish"
        with self._client(channel) as http:
            container = self._known_container(channel, key)
            if container:
                state = self._status(http, container)
                if state is not None and state[0] == "PUBLISHED":
                    return self._published_before(http, channel, key)
                if state is None or state[0] not in ("FINISHED", "IN_PROGRESS"):
                    container = ""  # expired, failed or gone: start over with a new container
            self._record(channel, key, text, reply_to, len(media))
            if not container:
                container = self._containers_for(http, user, text, media, extra)
                self._remember(channel, CONTAINERS, key, container)
            if self._wait_until_ready(http, container) == "PUBLISHED":
                return self._published_before(http, channel, key)
            self._check_quota(http, user, reply=bool(reply_to))
            body = api.call(http, "POST", f"{user}/threads_publish", label, data={"creation_id": container})
            media_id = str(body.get("id") or "")
            if not media_id:
                raise NetworkError(f"{label}: no media id in the answer", outcome_unknown=True)
            return Remote(id=media_id, url=self._permalink(http, media_id), published_at=timezone.now())

    def _published_before(self, http: httpx.Client, channel: Channel, key: str) -> Remote:
        """An earlier attempt with this key published its container: find that post, never
        publish again."""
        record = OutboundPost.objects.get(channel=channel, idempotency_key=key)  # made before the container
        return self._find(http, channel, record, self._window_start(record, record.sent_at), published=True)

    @staticmethod
    def _known_container(channel: Channel, key: str) -> str:
        """The container an earlier attempt with this key created (read from the database: another
        worker may have made the attempt)."""
        data = Channel.objects.filter(pk=channel.pk).values_list("network_data", flat=True).first() or {}
        return str((data.get(CONTAINERS) or {}).get(key) or "")

    def _media_fields(self, item: MediaItem) -> dict[str, str]:
        if item.content_type.startswith("video/"):
            fields = {"media_type": "VIDEO", "video_url": self._public_url(item)}
        else:
            fields = {"media_type": "IMAGE", "image_url": self._public_url(item)}
        if item.alt_text.strip():
            fields["alt_text"] = item.alt_text.strip()[:1000]  # Threads takes at most 1,000 characters
        return fields

    @staticmethod
    def _container(http: httpx.Client, user: str, data: dict[str, str]) -> str:
        body = api.call(http, "POST", f"{user}/threads", "Threads media container", data=data)
        container = str(body.get("id") or "")
        if not container:
            raise NetworkError("Threads media container: no id in the answer", permanent=True)
        return container

    def _containers_for(
        self, http: httpx.Client, user: str, text: str, media: Sequence[MediaItem], extra: dict[str, str]
    ) -> str:
        with_text = {"text": text} if text else {}
        if not media:
            return self._container(http, user, {"media_type": "TEXT", **with_text, **extra})
        if len(media) == 1:
            return self._container(http, user, {**self._media_fields(media[0]), **with_text, **extra})
        children = [
            self._container(http, user, {**self._media_fields(item), "is_carousel_item": "true"}) for item in media
        ]
        for child, item in zip(children, media, strict=True):
            if item.content_type.startswith("video/"):
                self._wait_until_ready(http, child)
        data = {"media_type": "CAROUSEL", "children": ",".join(children), **with_text, **extra}
        return self._container(http, user, data)

    @staticmethod
    def _status(http: httpx.Client, container: str) -> tuple[str, str] | None:
        """(status, error_message) of a container; None when Threads no longer knows it."""
        label = "Threads container status"
        response = api.send(http, "GET", container, label, params={"fields": "status,error_message"})
        if api.is_not_found(response):
            return None
        body = api.json_of(api.check(response, label), label)
        return str(body.get("status") or ""), str(body.get("error_message") or "")

    def _wait_until_ready(self, http: httpx.Client, container: str) -> str:
        """Poll until the container is FINISHED (or PUBLISHED, by an earlier attempt); returns it."""
        for delay in (0, *POLL_DELAYS):
            if delay:
                self.sleep(delay)
            state = self._status(http, container)
            if state is None:
                raise NetworkError("Threads: the media container is gone; trying again with a new one", retry_after=60)
            status, detail = state
            if status in ("FINISHED", "PUBLISHED"):
                return status
            if status in ("ERROR", "EXPIRED"):
                raise NetworkError(f"Threads could not process the media: {detail or status}", permanent=True)
        raise NetworkError(
            "Threads: the media is still processing after five minutes; trying again later", retry_after=300
        )

    @staticmethod
    def _check_quota(http: httpx.Client, user: str, *, reply: bool) -> None:
        """Threads' own count of what the profile published through the API in the last 24 hours
        (250 posts, 1,000 replies): when it is used up, wait instead of letting threads_publish fail."""
        usage_field, config_field = ("reply_quota_usage", "reply_config") if reply else ("quota_usage", "config")
        body = api.call(
            http,
            "GET",
            f"{user}/threads_publishing_limit",
            "Threads publishing limit",
            params={"fields": f"{usage_field},{config_field}"},
        )
        for entry in body.get("data") or []:
            if not isinstance(entry, dict):
                continue
            config = entry.get(config_field) or {}
            total = api.as_int(config.get("quota_total")) or 0
            if total and (api.as_int(entry.get(usage_field)) or 0) >= total:
                what = "replies" if reply else "posts"
                raise NetworkError(
                    f"Threads: the profile has published its {total} {what} of the last 24 hours through the API",
                    retry_after=3600,
                )

    @staticmethod
    def _permalink(http: httpx.Client, media_id: str) -> str:
        """The post's address; the post is out already, so a failure here only loses the link."""
        try:
            body = api.call(http, "GET", media_id, "Threads permalink", params={"fields": "permalink"})
        except NetworkError:
            return ""
        link = str(body.get("permalink") or "")
        return link if link.startswith("https://") else ""

    # --- find_published -------------------------------------------------------------------------

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        record = OutboundPost.objects.filter(channel=channel, idempotency_key=idempotency_key).first()
        if record is None:
            return None  # we record before sending: nothing recorded, nothing sent
        container = self._known_container(channel, idempotency_key)
        if not container:
            return None  # no container was ever created, so threads_publish was never called
        with self._client(channel) as http:
            state = self._status(http, container)
            if state is not None and state[0] != "PUBLISHED":
                return None  # FINISHED, IN_PROGRESS, ERROR, EXPIRED: not published
            start = self._window_start(record, since)
            return self._find(http, channel, record, start, published=state is not None)

    def _find(
        self, http: httpx.Client, channel: Channel, record: OutboundPost, start: dt.datetime, *, published: bool
    ) -> Remote:
        """The published post (or reply) among the profile's newest ones, newest first, by the
        text's hash. `published`: the container said PUBLISHED (else it is gone and we only have
        the text)."""
        if record.in_reply_to:
            path, label = f"{record.in_reply_to}/replies", "Threads find reply"
            params: dict[str, Any] = {"fields": REPLY_FIELDS, "reverse": "true", "limit": PAGE}
        else:
            path, label = f"{channel.remote_account_id}/threads", "Threads find published"
            params = {"fields": POST_FIELDS, "since": api.unix(start), "limit": PAGE}
        kinds = _media_types(record.media_count)
        matches: list[dict[str, Any]] = []
        for page in api.pages(http, path, label, params, FIND_PAGES):
            done = False
            for item in page:
                created = api.parse_time(item.get("timestamp"))
                if created is not None and created < start:
                    done = True
                    break
                ours = str(item.get("username") or channel.handle) == channel.handle
                same_kind = record.in_reply_to or str(item.get("media_type") or "") in kinds
                if ours and same_kind and text_fingerprint(str(item.get("text") or "")) == record.text_sha256:
                    matches.append(item)
            if done:
                break
        if len(matches) == 1 or (matches and record.text_sha256 != text_fingerprint("")):
            item = matches[0]  # the newest match
            return Remote(
                id=str(item["id"]),
                url=str(item.get("permalink") or ""),
                published_at=api.parse_time(item.get("timestamp")),
            )
        if not matches and published:  # published, but not listed yet: look again later, never publish again
            raise NetworkError("Threads: the post was published but is not listed yet", retry_after=600)
        if not matches:
            raise NetworkError(
                "Threads: the media container is gone and no post with this text was found; Stammtisch cannot "
                "tell whether the post went out. Please check the profile and publish again if needed.",
                permanent=True,
            )
        raise NetworkError(
            "Threads: several posts without text went out in that time; Stammtisch cannot tell which one is "
            "this post. Please check the profile.",
            permanent=True,
        )

    # --- delete ---------------------------------------------------------------------------------

    def delete(self, channel: Channel, remote: Remote) -> None:
        with self._client(channel) as http:
            response = api.send(http, "DELETE", remote.id, "Threads delete")
            if api.is_not_found(response):
                return  # already gone
            body = api.json_of(api.check(response, "Threads delete"), "Threads delete")
        if body.get("success") is False:
            raise NetworkError("Threads delete: Threads did not delete the post", permanent=True)

    # --- moderation of replies to our posts (the inbox's hide button) ----------------------------
    # POST /{reply-id}/manage_reply with hide=true|false hides a reply in a conversation under one of
    # the profile's posts, or shows it again (permission threads_manage_replies; answer
    # {"success": true}). https://developers.facebook.com/docs/threads/retrieve-and-manage-replies/hide-replies
    # The Threads API has no call to like a reply or delete someone else's reply.

    supports_moderation: ClassVar[frozenset[str]] = frozenset({"hide", "unhide"})

    def hide(self, channel: Channel, remote: Remote, hidden: bool = True) -> None:
        with self._client(channel) as http:
            body = api.call(
                http,
                "POST",
                f"{remote.id}/manage_reply",
                "Threads hide",
                data={"hide": "true" if hidden else "false"},
            )
        if body.get("success") is False:
            raise NetworkError("Threads hide: Threads did not change the reply", permanent=True)

    # --- activity -------------------------------------------------------------------------------

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        """Replies under our newest posts and mentions, newer than what the cursor has seen.

        Cursor: {"posts": {post id: {"since", "after", "newest"}}, "mentions_since"}. Per post,
        `since` is the newest reply already reported; when one call does not get down to it, the
        post keeps the page cursor (`after`) and the newest time seen (`newest`), and the next call
        carries on from there. A post's first sync reads at most CONVERSATION_PAGES pages."""
        known: dict[str, Any] = dict(cursor.get("posts") or {})
        posts: dict[str, Any] = {}
        events: list[Event] = []
        user = channel.remote_account_id
        with self._client(channel) as http:
            recent = api.call(
                http,
                "GET",
                f"{user}/threads",
                "Threads posts",
                params={"fields": "id,timestamp,media_type,has_replies", "limit": ACTIVITY_POSTS},
            )
            for post in recent.get("data") or []:
                post_id = str(post.get("id") or "") if isinstance(post, dict) else ""
                if not post_id or post.get("media_type") == "REPOST_FACADE":
                    continue  # a repost is someone else's post
                state = dict(known.get(post_id) or {})
                if post.get("has_replies") is False:
                    if state:
                        posts[post_id] = state
                    continue  # nothing to read (yet)
                found, state = self._conversation(http, channel, post_id, state)
                events += found
                if state:
                    posts[post_id] = state
            mentions, mentions_since = self._mentions(
                http, channel, str(cursor.get("mentions_since") or ""), set(posts)
            )
        seen = {event.remote_id for event in events}
        events += [event for event in mentions if event.remote_id not in seen]
        events.sort(key=lambda event: event.occurred_at)
        new_cursor: Cursor = {**cursor, "posts": posts}
        if mentions_since:
            new_cursor["mentions_since"] = mentions_since
        return events, new_cursor

    def _conversation(
        self, http: httpx.Client, channel: Channel, post_id: str, state: dict[str, Any]
    ) -> tuple[list[Event], dict[str, Any]]:
        """New replies (any depth) under one post, newest first (GET /{post}/conversation)."""
        since = _from_iso(state.get("since"))
        newest = _from_iso(state.get("newest"))
        params: dict[str, Any] = {"fields": REPLY_FIELDS, "reverse": "true", "limit": PAGE}
        if state.get("after"):
            params["after"] = str(state["after"])
        events: list[Event] = []
        more = ""
        for _page in range(CONVERSATION_PAGES):
            body = api.call(http, "GET", f"{post_id}/conversation", "Threads replies", params=params)
            reached = False
            for item in body.get("data") or []:
                when = api.parse_time(item.get("timestamp")) if isinstance(item, dict) else None
                if when is None or not item.get("id"):
                    continue
                if since is not None and when <= since:
                    reached = True
                    break
                newest = max(newest, when) if newest is not None else when
                event = self._reply_event(channel, item, post_id, when)
                if event is not None:
                    events.append(event)
            paging = body.get("paging") or {}
            after = str((paging.get("cursors") or {}).get("after") or "") if paging.get("next") else ""
            more = "" if reached else after
            if not more:
                break
            params = {**params, "after": more}
        if more and since is not None:  # not down to `since` yet: carry on from here next time
            return events, {"since": _iso(since), "after": more, "newest": _iso(newest)}
        top = newest or since
        return events, {"since": _iso(top)} if top else {}

    @staticmethod
    def _reply_event(channel: Channel, item: dict[str, Any], post_id: str, when: dt.datetime) -> Event | None:
        username = str(item.get("username") or "")
        if username == channel.handle:
            return None  # our own answers are not activity
        parent = str((item.get("replied_to") or {}).get("id") or post_id)
        permalink = str(item.get("permalink") or "")
        return Event(
            kind="comment" if parent == post_id else "reply",
            remote_id=str(item["id"]),
            occurred_at=when,
            author_handle=username,
            author_name=username,
            text=str(item.get("text") or ""),
            in_reply_to=parent,
            post_remote_id=post_id,
            data={"url": permalink} if permalink.startswith("https://") else {},
        )

    def _mentions(
        self, http: httpx.Client, channel: Channel, since_iso: str, our_posts: set[str]
    ) -> tuple[list[Event], str]:
        """Posts that mention the profile, newer than `since_iso` (GET /{user}/mentions). Without
        the threads_manage_mentions permission Threads answers with a permission error: then there
        are simply no mentions. A mention that is a reply under one of `our_posts` is already in its
        conversation. The first sync reads one page."""
        since = _from_iso(since_iso)
        params: dict[str, Any] = {"fields": REPLY_FIELDS, "limit": PAGE}
        if since is not None:
            params["since"] = max(api.unix(since), MENTIONS_EPOCH)
        label = "Threads mentions"
        events: list[Event] = []
        newest = since
        for page in range(MENTION_PAGES if since is not None else 1):
            response = api.send(http, "GET", f"{channel.remote_account_id}/mentions", label, params=params)
            if page == 0 and api.error_code(response) in api.PERMISSION_CODES:
                return [], since_iso  # threads_manage_mentions not granted
            body = api.json_of(api.check(response, label), label)
            for item in body.get("data") or []:
                when = api.parse_time(item.get("timestamp")) if isinstance(item, dict) else None
                if when is None or not item.get("id") or (since is not None and when <= since):
                    continue
                newest = max(newest, when) if newest is not None else when
                root = str((item.get("root_post") or {}).get("id") or "")
                username = str(item.get("username") or "")
                if root in our_posts or username == channel.handle:
                    continue
                permalink = str(item.get("permalink") or "")
                events.append(
                    Event(
                        kind="mention",
                        remote_id=str(item["id"]),
                        occurred_at=when,
                        author_handle=username,
                        author_name=username,
                        text=str(item.get("text") or ""),
                        in_reply_to=str((item.get("replied_to") or {}).get("id") or ""),
                        data={"url": permalink} if permalink.startswith("https://") else {},
                    )
                )
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
            if not after:
                break
            params = {**params, "after": after}
        return events, _iso(newest)

    # --- metrics --------------------------------------------------------------------------------

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        now = timezone.now()
        metrics: list[Metric] = []
        label = "Threads insights"
        with self._client(channel) as http:
            for remote in remotes:
                response = api.send(http, "GET", f"{remote.id}/insights", label, params={"metric": INSIGHT_METRICS})
                if api.is_not_found(response) or api.error_code(response) == 100:
                    continue  # deleted on Threads (or not a post of ours)
                body = api.json_of(api.check(response, label), label)
                values: dict[str, int] = {}
                for entry in body.get("data") or []:
                    name = METRIC_NAMES.get(str(entry.get("name") or "")) if isinstance(entry, dict) else None
                    value = self._insight_value(entry) if name else None
                    if name and value is not None:
                        values[name] = value
                metrics.append(Metric(remote_id=remote.id, observed_at=now, values=values))
            body = api.call(
                http,
                "GET",
                f"{channel.remote_account_id}/threads_insights",
                "Threads followers",
                params={"metric": "followers_count"},
            )
        followers = next(
            (
                self._insight_value(e)
                for e in body.get("data") or []
                if isinstance(e, dict) and e.get("name") == "followers_count"
            ),
            None,
        )
        metrics.append(
            Metric(remote_id=channel.remote_account_id, observed_at=now, values={"followers": followers or 0})
        )
        return metrics

    @staticmethod
    def _insight_value(entry: dict[str, Any]) -> int | None:
        """A metric's number: `total_value.value` (user insights) or the first of `values` (media
        insights, period "lifetime")."""
        total = entry.get("total_value")
        if isinstance(total, dict) and total.get("value") is not None:
            return api.as_int(total["value"])
        points = entry.get("values") or []
        if points and isinstance(points[0], dict):
            return api.as_int(points[0].get("value"))
        return None
