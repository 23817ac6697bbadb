"""The Bluesky connector, AT Protocol XRPC over httpx (docs/networks/bluesky.md).

A channel is one account: `handle` = the Bluesky handle, `remote_account_id` = its DID,
`network_data["pds"]` = the PDS address, `credentials = {"access_jwt", "refresh_jwt"}` from
com.atproto.server.createSession (the app password is not kept), or, for a channel connected by
AT Protocol OAuth, DPoP-bound tokens and the channel's DPoP key (`auth.py` says how each kind
signs its calls; `oauth_actions.py` refreshes OAuth tokens). `token_expires_at` = when the
refresh token runs out, the time by which the user must reconnect if no refresh happens (the
connection-health page warns before it); the access token's own expiry (about two hours) is read
from the token itself. Every call first refreshes an access token that expires within five
minutes, and once more when the PDS answers ExpiredToken.

* publish: images through com.atproto.repo.uploadBlob (alt text, aspect ratio), then
  com.atproto.repo.createRecord of an app.bsky.feed.post with rich-text facets (links, mentions
  resolved to DIDs, hashtags) and a record key we choose: a TID derived from the idempotency key
  and the first send time (`api.record_key`). A repeated createRecord with that key cannot create
  a second post: the PDS refuses it, and we then return the existing record.
* find_published: exact. com.atproto.repo.getRecord by that record key.
* reply: ReplyRef with root and parent (uri + cid, read with app.bsky.feed.getPosts).
* delete: com.atproto.repo.deleteRecord.
* fetch_activity: app.bsky.notification.listNotifications (like, repost, follow, mention, reply,
  quote), newest first, paged back with `cursor` until the last sync's time.
* fetch_metrics: app.bsky.feed.getPosts (likes, reposts, replies, quotes; Bluesky offers no
  impressions or clicks) and app.bsky.actor.getProfile (followers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
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
from stammtisch.networks.bluesky import api, auth
from stammtisch.networks.bluesky.actions import store_refreshed_session
from stammtisch.networks.bluesky.oauth_actions import keep_pds_nonce, refresh_oauth_session
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.rules import RULES

REFRESH_MARGIN = dt.timedelta(minutes=5)  # refresh an access token this long before it runs out
NOTIFICATIONS_PAGE = 100  # listNotifications' maximum
ACTIVITY_PAGES = 10  # per fetch_activity call
METRICS_BATCH = 25  # getPosts' maximum
MAX_IMAGE_BYTES = 1_000_000  # app.bsky.embed.images: image maxSize
# Notification reasons we turn into events (others, such as starterpack-joined, are skipped).
REASONS = {"like": "like", "repost": "share", "follow": "follow", "mention": "mention", "reply": "comment"}


class _Session:
    """An open client for one channel's PDS that renews the access token once when the PDS
    answers ExpiredToken, then repeats the request."""

    def __init__(self, network: BlueskyNetwork, channel: Channel, http: httpx.Client) -> None:
        self.network, self.channel, self.http = network, channel, http

    @property
    def did(self) -> str:
        return self.channel.remote_account_id

    def request(self, method: str, nsid: str, what: str, **kwargs: Any) -> httpx.Response:
        response = api.send(self.http, method, nsid, what, **kwargs)
        if api.is_token_error(response):
            self.network.refresh_credentials(self.channel)
            auth.set_token(self.http, self.network.access_token(self.channel))
            response = api.send(self.http, method, nsid, what, **kwargs)
        return response

    def call(self, method: str, nsid: str, what: str, **kwargs: Any) -> dict[str, Any]:
        return api.json_of(self.request(method, nsid, what, **kwargs), what)


class BlueskyNetwork(Network):
    key: ClassVar[str] = "bluesky"
    label: ClassVar[str] = "Bluesky"
    rules: ClassVar[TextRules] = RULES["bluesky"]
    # docs.bsky.app "Rate limits": creating a record costs 3 of 5,000 points per hour and 35,000
    # per day per account; every API call counts against 3,000 requests per 5 minutes per IP
    # address (one Stammtisch server = one IP, so per network). Other limits come back as 429
    # with ratelimit-reset, which we honour.
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (
        RateLimit("channel", 5_000 // 3, 3600.0),
        RateLimit("channel", 35_000 // 3, 86400.0),
        RateLimit("network", 3_000, 300.0),
    )

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _check_channel(channel: Channel) -> None:
        if channel.network != "bluesky":
            raise NetworkError(f"Not a Bluesky channel: {channel.network}", permanent=True)

    @staticmethod
    def _pds(channel: Channel) -> str:
        return str((channel.network_data or {}).get("pds") or api.DEFAULT_PDS)

    def access_token(self, channel: Channel) -> str:
        self._check_channel(channel)
        expires = auth.access_expiry(channel.credentials)
        if expires is not None and expires - timezone.now() < REFRESH_MARGIN:
            self.refresh_credentials(channel)
        token = auth.access_token(channel.credentials)
        if not token or not channel.remote_account_id:
            raise NetworkError("Bluesky: the channel has no session; please reconnect it", auth=True)
        return token

    @contextmanager
    def _session(self, channel: Channel) -> Iterator[_Session]:
        token = self.access_token(channel)
        with auth.pds_client(channel, token) as http:
            try:
                yield _Session(self, channel, http)
            finally:
                keep_pds_nonce(channel, http)  # OAuth: the PDS's DPoP nonce for next time

    @staticmethod
    def _text(outgoing: Outgoing) -> str:
        text = outgoing.text
        if outgoing.link and outgoing.link not in text:
            text = f"{text.rstrip()}\n\n{outgoing.link}" if text.strip() else outgoing.link
        return text

    @staticmethod
    def _record_key(channel: Channel, key: str, text: str, in_reply_to: str, media_count: int) -> str:
        """Remember what we are about to send (before sending) and return its record key. A retry
        keeps the first send time, so it gets the same record key."""
        values = {"text_sha256": api.text_fingerprint(text), "in_reply_to": in_reply_to, "media_count": media_count}
        record, created = OutboundPost.objects.get_or_create(channel=channel, idempotency_key=key, defaults=values)
        if created:
            record.refresh_from_db(fields=["sent_at"])  # the stored precision, as a retry will read it
        return api.record_key(key, record.sent_at)

    def _resolver(self, session: _Session) -> Any:
        cache: dict[str, str | None] = {}

        def resolve(handle: str) -> str | None:
            if handle not in cache:
                response = session.request("GET", api.RESOLVE_HANDLE, "resolve handle", params={"handle": handle})
                if response.status_code == 400:  # "Unable to resolve handle": no mention facet, as in the app
                    cache[handle] = None
                else:
                    cache[handle] = str(api.json_of(response, "resolve handle").get("did") or "") or None
            return cache[handle]

        return resolve

    def _upload(self, session: _Session, item: MediaItem) -> dict[str, Any]:
        if not item.content_type.startswith("image/"):
            raise NetworkError("Bluesky: videos are not supported by Stammtisch yet", permanent=True)
        try:
            with default_storage.open(item.path, "rb") as handle:
                content = handle.read()
        except OSError as exc:
            raise NetworkError(f"Bluesky media: cannot read {item.path}: {exc}", permanent=True) from None
        if len(content) > MAX_IMAGE_BYTES:
            raise NetworkError(f"Bluesky media: {item.path} is larger than 1,000,000 bytes", permanent=True)
        body = session.call(
            "POST", api.UPLOAD_BLOB, "media upload", content=content, headers={"Content-Type": item.content_type}
        )
        blob = body.get("blob")
        if not isinstance(blob, dict):
            raise NetworkError("Bluesky media upload: no blob in the answer", permanent=True)
        image: dict[str, Any] = {"alt": item.alt_text, "image": blob}
        if item.width and item.height:
            image["aspectRatio"] = {"width": item.width, "height": item.height}
        return image

    def _post_record(self, session: _Session, text: str, **extra: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": api.POST_COLLECTION,
            "text": text,
            "createdAt": api.format_time(timezone.now()),
        }
        found = api.facets(text, self._resolver(session))
        if found:
            record["facets"] = found
        record.update({key: value for key, value in extra.items() if value})
        return record

    def _create(self, session: _Session, record: dict[str, Any], rkey: str, what: str) -> Remote:
        payload = {"repo": session.did, "collection": api.POST_COLLECTION, "rkey": rkey, "record": record}
        response = session.request("POST", api.CREATE_RECORD, what, json=payload)
        if not response.is_success and response.status_code != 429 and not api.is_token_error(response):
            # A refusal may mean "this record key exists": an earlier attempt went through.
            existing = self._get_record(session, rkey)
            if existing is not None:
                return existing
        body = api.json_of(response, what)
        if not body.get("uri"):
            raise NetworkError(f"Bluesky {what}: unexpected answer", outcome_unknown=True)
        return Remote(
            id=str(body["uri"]), url=api.post_url(str(body["uri"]), session.channel.handle), published_at=timezone.now()
        )

    def _get_record(self, session: _Session, rkey: str) -> Remote | None:
        params = {"repo": session.did, "collection": api.POST_COLLECTION, "rkey": rkey}
        response = session.request("GET", api.GET_RECORD, "find published", params=params)
        if response.status_code == 400 and api.error_body(response)[0] == "RecordNotFound":
            return None  # the PDS is the authority for its repository: this post was never created
        body = api.json_of(response, "find published")
        uri = str(body.get("uri") or "")
        if not uri:
            raise NetworkError("Bluesky find published: unexpected answer", retry_after=300)
        value = body.get("value") or {}
        return Remote(
            id=uri,
            url=api.post_url(uri, session.channel.handle),
            published_at=api.parse_time(value.get("createdAt") if isinstance(value, dict) else None),
        )

    # --- the contract ---------------------------------------------------------------------------

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        text = self._text(outgoing)
        if not text.strip() and not outgoing.media:
            raise NetworkError("Bluesky: a post needs text or media", permanent=True)
        if any(not item.content_type.startswith("image/") for item in outgoing.media):
            raise NetworkError("Bluesky: videos are not supported by Stammtisch yet", permanent=True)
        with self._session(channel) as session:
            images = [self._upload(session, item) for item in outgoing.media]
            embed = {"$type": "app.bsky.embed.images", "images": images} if images else None
            record = self._post_record(session, text, embed=embed)
            rkey = self._record_key(channel, idempotency_key, text, "", len(images))
            return self._create(session, record, rkey, "publish")

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        outbound = OutboundPost.objects.filter(channel=channel, idempotency_key=idempotency_key).first()
        if outbound is None:
            return None  # we record before sending: nothing recorded, nothing sent
        with self._session(channel) as session:
            return self._get_record(session, api.record_key(idempotency_key, outbound.sent_at))

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        if not text.strip():
            raise NetworkError("Bluesky: a reply needs text", permanent=True)
        api.split_uri(to.id)
        with self._session(channel) as session:
            posts = session.call("GET", api.GET_POSTS, "reply", params={"uris": [to.id]}).get("posts") or []
            parent = next((p for p in posts if isinstance(p, dict) and p.get("uri") == to.id and p.get("cid")), None)
            if parent is None:
                raise NetworkError("Bluesky reply: the post no longer exists", permanent=True)
            parent_ref = {"uri": parent["uri"], "cid": parent["cid"]}
            root = ((parent.get("record") or {}).get("reply") or {}).get("root") or parent_ref
            record = self._post_record(session, text, reply={"root": root, "parent": parent_ref})
            rkey = self._record_key(channel, idempotency_key, text, to.id, 0)
            return self._create(session, record, rkey, "reply")

    def delete(self, channel: Channel, remote: Remote) -> None:
        repo, collection, rkey = api.split_uri(remote.id)
        if repo != channel.remote_account_id:
            raise NetworkError("Bluesky delete: this post belongs to another account", permanent=True)
        with self._session(channel) as session:
            # deleteRecord of a record that is already gone succeeds.
            session.call(
                "POST", api.DELETE_RECORD, "delete", json={"repo": repo, "collection": collection, "rkey": rkey}
            )

    # --- moderation (the inbox's like button) ----------------------------------------------------
    # A like is an app.bsky.feed.like record in our repository with the post's uri and cid as
    # `subject` (com.atproto.repo.createRecord); unliking deletes that record. The post view of
    # app.bsky.feed.getPosts gives the cid and, in `viewer.like`, the uri of our like record, so
    # nothing needs storing and a like given in the app is found too.
    # https://docs.bsky.app/docs/tutorials/like-repost. Hiding others' replies exists only as the
    # root post's threadgate `hiddenReplies` (a read-modify-write of that record): not offered yet.
    # Bluesky lets nobody delete others' posts.

    supports_moderation: ClassVar[frozenset[str]] = frozenset({"like"})

    @staticmethod
    def _post_view(session: _Session, uri: str, what: str) -> dict[str, Any]:
        api.split_uri(uri)
        posts = session.call("GET", api.GET_POSTS, what, params={"uris": [uri]}).get("posts") or []
        post = next((p for p in posts if isinstance(p, dict) and p.get("uri") == uri and p.get("cid")), None)
        if post is None:
            raise NetworkError(f"Bluesky {what}: the post no longer exists", permanent=True)
        return post

    def like(self, channel: Channel, remote: Remote) -> None:
        with self._session(channel) as session:
            post = self._post_view(session, remote.id, "like")
            if (post.get("viewer") or {}).get("like"):
                return  # liked already
            record = {
                "$type": api.LIKE_COLLECTION,
                "subject": {"uri": post["uri"], "cid": post["cid"]},
                "createdAt": api.format_time(timezone.now()),
            }
            payload = {"repo": session.did, "collection": api.LIKE_COLLECTION, "record": record}
            session.call("POST", api.CREATE_RECORD, "like", json=payload)

    def unlike(self, channel: Channel, remote: Remote) -> None:
        with self._session(channel) as session:
            like_uri = str((self._post_view(session, remote.id, "unlike").get("viewer") or {}).get("like") or "")
            if not like_uri:
                return  # not liked (any more)
            repo, collection, rkey = api.split_uri(like_uri)
            if repo != session.did or collection != api.LIKE_COLLECTION:
                raise NetworkError(f"Bluesky unlike: not our like record: {like_uri}", permanent=True)
            payload = {"repo": repo, "collection": collection, "rkey": rkey}
            session.call("POST", api.DELETE_RECORD, "unlike", json=payload)

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        """Notifications since `cursor["seen_at"]` (the newest one seen last time). The first sync
        takes only the newest page (no backfill of the account's whole history)."""
        since = api.parse_time(cursor.get("seen_at"))
        newest: dt.datetime | None = since
        events: list[Event] = []
        params: dict[str, Any] = {"limit": NOTIFICATIONS_PAGE}
        with self._session(channel) as session:
            for _page in range(ACTIVITY_PAGES):
                body = session.call("GET", api.LIST_NOTIFICATIONS, "notifications", params=params)
                page = [n for n in body.get("notifications") or [] if isinstance(n, dict)]
                reached_since = False
                for notification in page:
                    indexed = api.parse_time(notification.get("indexedAt"))
                    if indexed is None:
                        continue
                    if since is not None and indexed < since:
                        reached_since = True
                        break
                    newest = indexed if newest is None or indexed > newest else newest
                    event = self._event(notification, channel)
                    if event is not None:
                        events.append(event)
                next_cursor = body.get("cursor")
                if reached_since or since is None or not next_cursor or not page:
                    break
                params = {**params, "cursor": next_cursor}
        events.sort(key=lambda e: e.occurred_at)
        return events, ({**cursor, "seen_at": newest.isoformat()} if newest else dict(cursor))

    @staticmethod
    def _event(notification: dict[str, Any], channel: Channel) -> Event | None:
        reason = str(notification.get("reason") or "")
        uri = str(notification.get("uri") or "")
        occurred = api.parse_time(notification.get("indexedAt"))
        if (reason not in REASONS and reason != "quote") or not uri or occurred is None:
            return None
        author = notification.get("author") or {}
        who: dict[str, Any] = {
            "author_id": str(author.get("did") or ""),
            "author_handle": str(author.get("handle") or ""),
            "author_name": str(author.get("displayName") or author.get("handle") or ""),
        }
        subject = str(notification.get("reasonSubject") or "")
        links = api.profile_links(author)
        profile: dict[str, Any] = {} if links is None else {"author_links": links}
        if reason in ("like", "repost", "follow"):
            return Event(
                kind=REASONS[reason], remote_id=uri, occurred_at=occurred, post_remote_id=subject, data=profile, **who
            )
        record = notification.get("record") or {}
        langs = record.get("langs") or []
        reply = record.get("reply") or {}
        parent = str((reply.get("parent") or {}).get("uri") or "")
        root = str((reply.get("root") or {}).get("uri") or "")
        ours = f"at://{channel.remote_account_id}/"
        if reason == "reply":
            post = parent if parent.startswith(ours) else root if root.startswith(ours) else ""
        else:
            post = subject if reason == "quote" and subject.startswith(ours) else ""
        return Event(
            kind=REASONS.get(reason, "mention"),  # a quote is a mention with our post attached
            remote_id=uri,
            occurred_at=api.parse_time(record.get("createdAt")) or occurred,
            author_language=str(langs[0]) if langs else "",
            text=str(record.get("text") or ""),
            in_reply_to=parent,
            post_remote_id=post,
            data={
                "url": api.post_url(uri, who["author_handle"]) if api.AT_URI.match(uri) else "",
                "cid": str(notification.get("cid") or ""),
                "reason": reason,
                **({"quote_of": subject} if reason == "quote" else {}),
                **profile,
            },
            **who,
        )

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        now = timezone.now()
        metrics: list[Metric] = []
        uris = [remote.id for remote in remotes if api.AT_URI.match(remote.id)]
        with self._session(channel) as session:
            for start in range(0, len(uris), METRICS_BATCH):
                params = {"uris": uris[start : start + METRICS_BATCH]}
                for post in session.call("GET", api.GET_POSTS, "metrics", params=params).get("posts") or []:
                    if not isinstance(post, dict) or not post.get("uri"):
                        continue  # deleted posts are left out of the answer
                    metrics.append(
                        Metric(
                            remote_id=str(post["uri"]),
                            observed_at=now,
                            values={
                                "likes": int(post.get("likeCount") or 0),
                                "shares": int(post.get("repostCount") or 0),
                                "comments": int(post.get("replyCount") or 0),
                                "quotes": int(post.get("quoteCount") or 0),
                            },
                        )
                    )
            profile = session.call("GET", api.GET_PROFILE, "profile", params={"actor": channel.remote_account_id})
        metrics.append(
            Metric(
                remote_id=channel.remote_account_id,
                observed_at=now,
                values={
                    "followers": int(profile.get("followersCount") or 0),
                    "following": int(profile.get("followsCount") or 0),
                    "posts": int(profile.get("postsCount") or 0),
                },
            )
        )
        return metrics

    def refresh_credentials(self, channel: Channel) -> Credentials:
        """A new session from the refresh token (com.atproto.server.refreshSession), stored at
        once: the PDS rotates refresh tokens, so the new one must not be lost. The channel row is
        locked, so two workers never spend the same refresh token; one that waited finds the
        fresh session and uses it. A network hiccup raises a transient error and leaves the stored
        tokens alone; a rejected refresh token is an `auth` error (reconnect)."""
        self._check_channel(channel)
        with transaction.atomic():
            locked = Channel.objects.select_for_update().get(pk=channel.pk)
            expires = auth.access_expiry(locked.credentials)
            still_fresh = expires is None or expires - timezone.now() >= REFRESH_MARGIN
            refreshed_meanwhile = auth.access_token(locked.credentials) != auth.access_token(channel.credentials)
            if still_fresh and refreshed_meanwhile:  # another worker refreshed while we waited for the lock
                channel.credentials, channel.token_expires_at = locked.credentials, locked.token_expires_at
                return dict(locked.credentials)
            if auth.uses_oauth(locked.credentials):
                refresh_oauth_session(locked)  # the token endpoint of the channel's issuer, with DPoP
                channel.credentials, channel.token_expires_at = locked.credentials, locked.token_expires_at
                channel.network_data = locked.network_data
                return dict(locked.credentials)
            refresh_jwt = (locked.credentials or {}).get("refresh_jwt")
            if not isinstance(refresh_jwt, str) or not refresh_jwt:
                raise NetworkError("Bluesky: the channel has no refresh token; please reconnect it", auth=True)
            session = api.refresh_session(self._pds(locked), refresh_jwt)
            if not session.get("accessJwt"):
                raise NetworkError("Bluesky refresh: no access token in the answer", retry_after=300)
            store_refreshed_session(locked, session)
        channel.credentials, channel.token_expires_at = locked.credentials, locked.token_expires_at
        channel.network_data, channel.handle = locked.network_data, locked.handle
        return dict(locked.credentials)
