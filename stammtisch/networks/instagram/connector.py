"""The Instagram connector, for professional (business and creator) accounts linked to a Facebook
Page (docs/networks/instagram.md). Instagram API with Facebook Login, host graph.facebook.com.

A channel is one Instagram account: `remote_account_id` = the IG user id, `handle` = its username,
`network_data["page_id"]` = the linked Page, `credentials = {"access_token": <Page token>}`.

* publish: Instagram fetches every file from its public URL (MediaItem.url, docs/media.md). Step 1
  creates a container: POST /{ig-user}/media with image_url and caption; a video becomes a reel
  (media_type=REELS, video_url); several files become a carousel (one child container each with
  is_carousel_item, then media_type=CAROUSEL with children). We poll the container's status_code
  until FINISHED. Step 2 publishes it: POST /{ig-user}/media_publish with creation_id. Before step
  2 the account's quota is checked (GET /{ig-user}/content_publishing_limit).
* find_published: the container id is remembered (network_data["ig_containers"]) before step 2.
  Its status_code tells exactly whether it was published (PUBLISHED); the post itself is then found
  among the account's newest media by the caption's SHA-256 (`OutboundPost`). Anything unsure
  raises instead of answering "not found".
* reply: POST /{ig-media}/comments (the first comment, a comment on our post) or, for a comment,
  POST /{ig-comment}/replies.
* delete: DELETE /{ig-media}.
* moderation (inbox): hide/unhide and delete others' comments; no like (the API has none).
* fetch_mention: the text of a mention that the inbox's webhook announced by ids only.
* fetch_activity: comments and their replies on the account's 25 newest posts.
* fetch_metrics: likes and comments per post, reach, views, saves and shares from media insights;
  followers of the account.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import httpx
from django.utils import timezone

from stammtisch.networks.base import (
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
from stammtisch.networks.meta import api
from stammtisch.networks.meta.connector import FIND_PAGES, MetaNetwork, text_fingerprint
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.rules import RULES

CONTAINERS = "ig_containers"  # network_data key: idempotency key -> container id
# Seconds between polls of a container. Images are usually ready at once; Meta asks to poll video
# containers about once a minute for at most five minutes.
POLL_DELAYS = (1, 2, 3, 5, 10, 15, 30, 60, 60, 60, 60)
ACTIVITY_POSTS = 25
COMMENT_FIELDS = "id,text,timestamp,username,from{id,username}"
MEDIA_ACTIVITY_FIELDS = f"id,timestamp,comments.limit(50){{{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}}}"
INSIGHT_METRICS = "reach,views,saved,shares"
# Fields the IG User mentioned_comment and mentioned_media references list (the comment has no author
# field; a caption mention gives the author's username).
MENTIONED_COMMENT_FIELDS = "id,text,timestamp,media{id}"
MENTIONED_MEDIA_FIELDS = "id,caption,timestamp,username"


class InstagramNetwork(MetaNetwork):
    key: ClassVar[str] = "instagram"
    label: ClassVar[str] = "Instagram"
    network_label: ClassVar[str] = "Instagram"
    rules: ClassVar[TextRules] = RULES["instagram"]
    supports_first_comment: ClassVar[bool] = True
    # Content publishing: 50 posts per account in a moving 24 hours (IG User Media Publish and
    # Content Publishing Limit references; a carousel counts as one). Other calls share the Page's
    # Business Use Case limit, answered with retry_after when reached.
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit("channel", 50, 86400.0),)

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep  # waiting between container polls; tests pass a stand-in

    # --- publish --------------------------------------------------------------------------------

    @staticmethod
    def _is_video(item: MediaItem) -> bool:
        return item.content_type.startswith("video/")

    def _container(self, http: httpx.Client, ig_user: str, data: dict[str, str]) -> str:
        body = api.call(http, "POST", f"{ig_user}/media", "Instagram media container", data=data)
        container = str(body.get("id") or "")
        if not container:
            raise NetworkError("Instagram media container: no id in the answer", permanent=True)
        return container

    def _wait_until_ready(self, http: httpx.Client, container: str) -> None:
        for delay in (0, *POLL_DELAYS):
            if delay:
                self.sleep(delay)
            body = api.call(
                http, "GET", container, "Instagram container status", params={"fields": "status_code,status"}
            )
            status = str(body.get("status_code") or "")
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status in ("ERROR", "EXPIRED"):
                detail = str(body.get("status") or status)[:200]
                raise NetworkError(f"Instagram could not process the media: {detail}", permanent=True)
        raise NetworkError(
            "Instagram: the media is still processing after five minutes; trying again later", retry_after=300
        )

    def _check_quota(self, http: httpx.Client, ig_user: str) -> None:
        body = api.call(
            http,
            "GET",
            f"{ig_user}/content_publishing_limit",
            "Instagram publishing limit",
            params={"fields": "quota_usage,config"},
        )
        for entry in body.get("data") or []:
            total = int((entry.get("config") or {}).get("quota_total") or 0)
            if total and int(entry.get("quota_usage") or 0) >= total:
                raise NetworkError(
                    f"Instagram: the account has published its {total} posts of the last 24 hours through the API",
                    retry_after=3600,
                )

    def _containers_for(self, http: httpx.Client, ig_user: str, media: Sequence[MediaItem], caption: str) -> str:
        if len(media) == 1:
            item = media[0]
            if self._is_video(item):
                data = {"media_type": "REELS", "video_url": self._public_url(item), "caption": caption}
            else:
                data = {"image_url": self._public_url(item), "caption": caption}
            return self._container(http, ig_user, data)
        children = []
        for item in media:
            if self._is_video(item):
                child = {"media_type": "VIDEO", "video_url": self._public_url(item), "is_carousel_item": "true"}
            else:
                child = {"image_url": self._public_url(item), "is_carousel_item": "true"}
            children.append(self._container(http, ig_user, child))
        for child_id, item in zip(children, media, strict=True):
            if self._is_video(item):
                self._wait_until_ready(http, child_id)
        data = {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption}
        return self._container(http, ig_user, data)

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        if not outgoing.media:
            raise NetworkError("Instagram: a post needs an image or a video", permanent=True)
        caption = outgoing.text.strip()
        if outgoing.link and outgoing.link not in caption:  # links in captions are not clickable, but kept
            caption = f"{caption}\n\n{outgoing.link}" if caption else outgoing.link
        ig_user = channel.remote_account_id
        with self._client(channel) as http:
            self._check_quota(http, ig_user)
            container = self._containers_for(http, ig_user, outgoing.media, caption)
            self._wait_until_ready(http, container)
            self._record(channel, idempotency_key, caption, "", len(outgoing.media))
            self._remember(channel, CONTAINERS, idempotency_key, container)
            body = api.call(
                http, "POST", f"{ig_user}/media_publish", "Instagram publish", data={"creation_id": container}
            )
            media_id = str(body.get("id") or "")
            if not media_id:
                raise NetworkError("Instagram publish: no media id in the answer", outcome_unknown=True)
            return Remote(id=media_id, url=self._permalink(http, media_id), published_at=timezone.now())

    @staticmethod
    def _permalink(http: httpx.Client, media_id: str) -> str:
        """The post's address; the post is out already, so a failure here only loses the link."""
        try:
            body = api.call(http, "GET", media_id, "Instagram permalink", params={"fields": "permalink"})
        except NetworkError:
            return ""
        link = str(body.get("permalink") or "")
        return link if link.startswith("https://") else ""

    # --- find_published -------------------------------------------------------------------------

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        record = OutboundPost.objects.filter(channel=channel, idempotency_key=idempotency_key).first()
        if record is None:
            return None  # we record before sending: nothing recorded, nothing sent
        with self._client(channel) as http:
            if record.in_reply_to:
                return self._find_comment(http, channel, record)
            container = str(((channel.network_data or {}).get(CONTAINERS) or {}).get(idempotency_key) or "")
            if not container:
                return None  # the container was never ready, so media_publish was never called
            label = "Instagram container status"
            response = api.send(http, "GET", container, label, params={"fields": "status_code"})
            known = not api.is_not_found(response)
            if known:
                status = str(api.json_of(api.check(response, label), label).get("status_code") or "")
                if status != "PUBLISHED":
                    return None  # FINISHED, ERROR, EXPIRED: the container was not published
            return self._find_media(http, channel, record, self._window_start(record, since), published=known)

    def _find_media(
        self, http: httpx.Client, channel: Channel, record: OutboundPost, start: dt.datetime, *, published: bool
    ) -> Remote:
        """The published post among the account's newest media (newest first), by caption hash.
        `published`: the container said PUBLISHED (else it is gone and we only have the caption)."""
        params = {"fields": "id,caption,timestamp,permalink", "limit": 50}
        empty = record.text_sha256 == text_fingerprint("")
        matches: list[dict[str, Any]] = []
        for page in api.pages(
            http, f"{channel.remote_account_id}/media", "Instagram find published", params, FIND_PAGES
        ):
            done = False
            for item in page:
                created = api.parse_time(item.get("timestamp"))
                if created is not None and created < start:
                    done = True
                    break
                if text_fingerprint(str(item.get("caption") or "")) == record.text_sha256:
                    matches.append(item)
                    if not empty:
                        break
            if done or (matches and not empty):
                break
        if len(matches) == 1 or (matches and not empty):
            item = matches[0]
            return Remote(
                id=str(item["id"]),
                url=str(item.get("permalink") or ""),
                published_at=api.parse_time(item.get("timestamp")),
            )
        if not matches and published:  # published, but not yet listed: look again later, never publish again
            raise NetworkError("Instagram: the post was published but is not listed yet", retry_after=600)
        if not matches:
            raise NetworkError(
                "Instagram: the media container is gone and no post with this caption was found; Stammtisch "
                "cannot tell whether the post went out. Please check the account and publish again if needed.",
                permanent=True,
            )
        raise NetworkError(
            "Instagram: several posts without a caption went out in that time; Stammtisch cannot tell which one "
            "is this post. Please check the account.",
            permanent=True,
        )

    def _find_comment(self, http: httpx.Client, channel: Channel, record: OutboundPost) -> Remote | None:
        params = {"fields": COMMENT_FIELDS, "limit": 50}
        for edge in ("comments", "replies"):
            response = api.send(http, "GET", f"{record.in_reply_to}/{edge}", "Instagram find comment", params=params)
            if edge == "comments" and api.error_code(response) == 100:
                continue  # in_reply_to is a comment: its answers are `replies`
            body = api.json_of(api.check(response, "Instagram find comment"), "Instagram find comment")
            for item in body.get("data") or []:
                author = item.get("from") or {}
                ours = (
                    str(author.get("id") or "") == channel.remote_account_id or item.get("username") == channel.handle
                )
                if ours and text_fingerprint(str(item.get("text") or "")) == record.text_sha256:
                    return Remote(id=str(item["id"]), published_at=api.parse_time(item.get("timestamp")))
            return None
        return None

    # --- reply, delete --------------------------------------------------------------------------

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        if not text.strip():
            raise NetworkError("Instagram: a comment needs text", permanent=True)
        with self._client(channel) as http:
            self._record(channel, idempotency_key, text, to.id, 0)
            response = api.send(http, "POST", f"{to.id}/comments", "Instagram comment", data={"message": text})
            if api.error_code(response) == 100:
                # `to` is a comment, not a post: answers to comments are its replies.
                response = api.send(http, "POST", f"{to.id}/replies", "Instagram reply", data={"message": text})
            body = api.json_of(api.check(response, "Instagram comment"), "Instagram comment")
        if not body.get("id"):
            raise NetworkError("Instagram comment: no id in the answer", outcome_unknown=True)
        return Remote(id=str(body["id"]), published_at=timezone.now())

    def delete(self, channel: Channel, remote: Remote) -> None:
        with self._client(channel) as http:
            response = api.send(http, "DELETE", remote.id, "Instagram delete")
            if api.is_not_found(response):
                return  # already gone
            api.check(response, "Instagram delete")

    # --- moderation of comments on the account's media -------------------------------------------
    # IG Comment node: POST /{ig-comment-id} with hide=true|false hides a comment from everyone but
    # its author; DELETE /{ig-comment-id} deletes it (both for comments on the account's own media,
    # permission instagram_manage_comments; answer {"success": true}). The Instagram API has no call
    # to like a comment, so "like" is not offered.
    # https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment

    supports_moderation: ClassVar[frozenset[str]] = frozenset({"hide", "unhide", "delete"})

    def hide(self, channel: Channel, remote: Remote, hidden: bool = True) -> None:
        with self._client(channel) as http:
            body = api.call(http, "POST", remote.id, "Instagram hide", data={"hide": "true" if hidden else "false"})
        if body.get("success") is False:
            raise NetworkError("Instagram hide: Instagram did not change the comment", permanent=True)

    def delete_comment(self, channel: Channel, remote: Remote) -> None:
        self.delete(channel, remote)

    # --- mentions (the inbox's webhook carries only ids) ------------------------------------------

    def fetch_mention(
        self, channel: Channel, *, media_id: str, comment_id: str = "", occurred_at: dt.datetime | None = None
    ) -> Event | None:
        """The mention of the account that a `mentions` webhook announced by ids only: the comment
        (GET /{ig-user}?fields=mentioned_comment.comment_id({id}){...}) or, without a comment id, the
        caption of the media (mentioned_media.media_id({id}){...}). None when Instagram no longer
        has it (deleted, or comments turned off). The Event matches what the webhook mapping stored
        before: kind "mention", the comment's (or media's) id, data["thread"] = the media id."""
        if comment_id:
            fields = f"mentioned_comment.comment_id({comment_id}){{{MENTIONED_COMMENT_FIELDS}}}"
            key, text_field = "mentioned_comment", "text"
        else:
            fields = f"mentioned_media.media_id({media_id}){{{MENTIONED_MEDIA_FIELDS}}}"
            key, text_field = "mentioned_media", "caption"
        with self._client(channel) as http:
            label = "Instagram mention"
            response = api.send(http, "GET", channel.remote_account_id, label, params={"fields": fields})
            if api.is_not_found(response):
                return None
            body = api.json_of(api.check(response, label), label)
        found = body.get(key)
        if not isinstance(found, dict) or not found.get("id"):
            return None
        occurred = api.parse_time(found.get("timestamp")) or occurred_at
        if occurred is None:
            return None
        thread = str((found.get("media") or {}).get("id") or media_id) if comment_id else str(found["id"])
        username = str(found.get("username") or "")
        return Event(
            kind="mention",
            remote_id=str(found["id"]),
            occurred_at=occurred,
            author_handle=username,
            author_name=username,
            text=str(found.get(text_field) or ""),
            data={"thread": thread or str(found["id"])},
        )

    # --- activity and metrics -------------------------------------------------------------------

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        newest = api.parse_time(cursor.get("since"))
        with self._client(channel) as http:
            body = api.call(
                http,
                "GET",
                f"{channel.remote_account_id}/media",
                "Instagram comments",
                params={"fields": MEDIA_ACTIVITY_FIELDS, "limit": ACTIVITY_POSTS},
            )
        events: list[Event] = []
        for media in body.get("data") or []:
            if not isinstance(media, dict) or not media.get("id"):
                continue
            for comment in (media.get("comments") or {}).get("data") or []:
                events += self._events(channel, comment, str(media["id"]), "")
                for answer in (comment.get("replies") or {}).get("data") or []:
                    events += self._events(channel, answer, str(media["id"]), str(comment.get("id") or ""))
        events = [e for e in events if newest is None or e.occurred_at > newest]
        events.sort(key=lambda e: e.occurred_at)
        latest = max((e.occurred_at for e in events), default=newest)
        return events, {**cursor, "since": latest.isoformat()} if latest else dict(cursor)

    @staticmethod
    def _events(channel: Channel, comment: Any, media_id: str, parent: str) -> list[Event]:
        if not isinstance(comment, dict) or not comment.get("id"):
            return []
        occurred = api.parse_time(comment.get("timestamp"))
        author = comment.get("from") or {}
        username = str(comment.get("username") or author.get("username") or "")
        if occurred is None or str(author.get("id") or "") == channel.remote_account_id or username == channel.handle:
            return []  # our own comments and answers are not activity
        return [
            Event(
                kind="reply" if parent else "comment",
                remote_id=str(comment["id"]),
                occurred_at=occurred,
                author_id=str(author.get("id") or ""),
                author_handle=username,
                author_name=username,
                text=str(comment.get("text") or ""),
                in_reply_to=parent or media_id,
                post_remote_id=media_id,
            )
        ]

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        now = timezone.now()
        metrics: list[Metric] = []
        with self._client(channel) as http:
            for remote in remotes:
                response = api.send(
                    http, "GET", remote.id, "Instagram metrics", params={"fields": "like_count,comments_count"}
                )
                if api.is_not_found(response):
                    continue  # deleted on Instagram
                body = api.json_of(api.check(response, "Instagram metrics"), "Instagram metrics")
                values = {"likes": int(body.get("like_count") or 0), "comments": int(body.get("comments_count") or 0)}
                values.update(self._insights(http, remote.id))
                metrics.append(Metric(remote_id=remote.id, observed_at=now, values=values))
            account = api.call(
                http,
                "GET",
                channel.remote_account_id,
                "Instagram account",
                params={"fields": "followers_count,follows_count,media_count"},
            )
        metrics.append(
            Metric(
                remote_id=channel.remote_account_id,
                observed_at=now,
                values={
                    "followers": int(account.get("followers_count") or 0),
                    "following": int(account.get("follows_count") or 0),
                    "posts": int(account.get("media_count") or 0),
                },
            )
        )
        return metrics

    @staticmethod
    def _insights(http: httpx.Client, media_id: str) -> dict[str, int]:
        """reach, views, saves and shares. Insights are missing for some media (posts from before
        the account became a professional one, or too new): code 100 then means "none", not a failure."""
        response = api.send(
            http, "GET", f"{media_id}/insights", "Instagram insights", params={"metric": INSIGHT_METRICS}
        )
        if api.error_code(response) == 100:
            return {}
        body = api.json_of(api.check(response, "Instagram insights"), "Instagram insights")
        names = {"reach": "reach", "views": "views", "saved": "saves", "shares": "shares"}
        values: dict[str, int] = {}
        for entry in body.get("data") or []:
            name = names.get(str(entry.get("name") or ""))
            points = entry.get("values") or []
            if name and points and isinstance(points[0], dict):
                values[name] = int(points[0].get("value") or 0)
        return values
