"""The Facebook Pages connector (docs/networks/facebook.md).

A channel is one Page: `remote_account_id` = the Page id, `handle` = its @username (or the id when
it has none), `credentials = {"access_token": <Page token>}` (no expiry, see meta/oauth.py).

* publish: text and link via POST /{page}/feed (message, link); one image via POST /{page}/photos
  (url, message, published); several images as unpublished photos attached to one feed post
  (attached_media); one video via POST /{page}/videos (file_url, description). Facebook fetches
  each file from its public URL (MediaItem.url, docs/media.md).
* find_published: the Graph API has no idempotency key. Before the final call we record a SHA-256
  of the message (`OutboundPost`); to reconcile we read the Page's posts since the send
  (GET /{page}/posts?since=) and match the message hash. When the message is empty or we cannot
  look far enough we raise instead of answering "not found".
* reply: POST /{object}/comments, for a post or a comment (a reply in its thread).
* delete: DELETE /{post}; an object that no longer exists counts as deleted.
* fetch_activity: comments (and replies) on the Page's 25 newest posts, newer than the cursor.
  Real-time comments, mentions and messages arrive by webhook (the inbox's work, not this module).
* fetch_metrics: reactions, comments and shares per post; the Page's followers.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar

from django.utils import timezone

from stammtisch.networks.base import (
    Cursor,
    Event,
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

POST_URL = "https://www.facebook.com/{id}"
ACTIVITY_POSTS = 25
COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id}"
FEED_FIELDS = f"id,created_time,comments.filter(stream).order(reverse_chronological).limit(50){{{COMMENT_FIELDS}}}"
METRIC_FIELDS = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),shares"


class FacebookNetwork(MetaNetwork):
    key: ClassVar[str] = "facebook"
    label: ClassVar[str] = "Facebook"
    network_label: ClassVar[str] = "Facebook"
    rules: ClassVar[TextRules] = RULES["facebook"]
    supports_first_comment: ClassVar[bool] = True
    # Page calls count against the Page's Business Use Case limit (4,800 x engaged users per 24 h)
    # that Stammtisch cannot know in advance; 200 calls an hour per Page stays well below it for
    # any Page with an audience. A throttled answer (codes 4, 17, 32, 613, 80001) comes back as
    # retry_after from X-Business-Use-Case-Usage.
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit("channel", 200, 3600.0),)

    # --- publish --------------------------------------------------------------------------------

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        page = channel.remote_account_id
        videos = [m for m in outgoing.media if m.content_type.startswith("video/")]
        images = [m for m in outgoing.media if not m.content_type.startswith("video/")]
        message = outgoing.text.strip()
        if outgoing.media and outgoing.link and outgoing.link not in message:
            message = f"{message}\n\n{outgoing.link}" if message else outgoing.link  # no link preview with photos
        if not message and not outgoing.media and not outgoing.link:
            raise NetworkError("Facebook: a post needs text, a link or media", permanent=True)
        if videos and (images or len(videos) > 1):
            raise NetworkError("Facebook: a post holds either photos or one video", permanent=True)
        with self._client(channel) as http:
            if videos:
                data = {"file_url": self._public_url(videos[0]), "description": message}
                self._record(channel, idempotency_key, message, "", 1)
                body = api.call(http, "POST", f"{page}/videos", "Facebook publish", data=data)
                return self._remote(body, "Facebook publish", url=f"https://www.facebook.com/{page}/videos/{{id}}")
            if len(images) == 1:
                data = {"url": self._public_url(images[0]), "message": message, "published": "true"}
                if images[0].alt_text:
                    data["alt_text_custom"] = images[0].alt_text
                self._record(channel, idempotency_key, message, "", 1)
                body = api.call(http, "POST", f"{page}/photos", "Facebook publish", data=data)
                return self._remote({"id": body.get("post_id") or body.get("id")}, "Facebook publish")
            form: dict[str, str] = {"message": message}
            for index, item in enumerate(images):
                photo = {"url": self._public_url(item), "published": "false"}
                if item.alt_text:
                    photo["alt_text_custom"] = item.alt_text
                uploaded = api.call(http, "POST", f"{page}/photos", "Facebook photo upload", data=photo)
                if not uploaded.get("id"):
                    raise NetworkError("Facebook photo upload: no photo id in the answer", permanent=True)
                form[f"attached_media[{index}]"] = json.dumps({"media_fbid": str(uploaded["id"])})
            if outgoing.link and not images:
                form["link"] = outgoing.link
            self._record(channel, idempotency_key, message, "", len(images))
            body = api.call(http, "POST", f"{page}/feed", "Facebook publish", data=form)
            return self._remote(body, "Facebook publish")

    @staticmethod
    def _remote(body: dict[str, Any], label: str, url: str = POST_URL) -> Remote:
        remote_id = str(body.get("id") or "")
        if not remote_id:
            raise NetworkError(f"{label}: no id in the answer", outcome_unknown=True)
        return Remote(id=remote_id, url=url.format(id=remote_id), published_at=timezone.now())

    # --- find_published -------------------------------------------------------------------------

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        record = OutboundPost.objects.filter(channel=channel, idempotency_key=idempotency_key).first()
        if record is None:
            return None  # we record before sending: nothing recorded, nothing sent
        window_start = self._window_start(record, since)
        if record.in_reply_to:
            path, text_field = f"{record.in_reply_to}/comments", "message"
            params: dict[str, Any] = {
                "fields": "id,message,created_time,from{id}",
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": 100,
            }
        else:
            path, text_field = f"{channel.remote_account_id}/posts", "message"
            params = {"fields": "id,message,created_time", "since": api.unix(window_start), "limit": 100}
        empty = record.text_sha256 == text_fingerprint("")
        matches: list[dict[str, Any]] = []
        with self._client(channel) as http:
            for page in api.pages(http, path, "Facebook find published", params, FIND_PAGES):
                for item in page:
                    created = api.parse_time(item.get("created_time"))
                    if created is not None and created < window_start:
                        continue
                    if (
                        record.in_reply_to
                        and str((item.get("from") or {}).get("id") or "") != channel.remote_account_id
                    ):
                        continue
                    if text_fingerprint(str(item.get(text_field) or "")) == record.text_sha256:
                        matches.append(item)
                        if not empty:
                            return self._found(item)
        if not matches:
            return None
        if len(matches) == 1:
            return self._found(matches[0])
        raise NetworkError(
            "Facebook: several posts without text went out in that time; Stammtisch cannot tell which one is "
            "this post. Please check the Page and publish again if needed.",
            permanent=True,
        )

    @staticmethod
    def _found(item: dict[str, Any]) -> Remote:
        return Remote(
            id=str(item["id"]),
            url=str(item.get("permalink_url") or POST_URL.format(id=item["id"])),
            published_at=api.parse_time(item.get("created_time")),
        )

    # --- reply, delete --------------------------------------------------------------------------

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        if not text.strip():
            raise NetworkError("Facebook: a comment needs text", permanent=True)
        with self._client(channel) as http:
            self._record(channel, idempotency_key, text, to.id, 0)
            body = api.call(http, "POST", f"{to.id}/comments", "Facebook comment", data={"message": text})
        return self._remote(body, "Facebook comment", url="")

    def delete(self, channel: Channel, remote: Remote) -> None:
        with self._client(channel) as http:
            response = api.send(http, "DELETE", remote.id, "Facebook delete")
            if api.is_not_found(response):
                return  # already gone
            api.check(response, "Facebook delete")

    # --- moderation of comments on the Page's posts ---------------------------------------------
    # Graph API, Comment node: POST {comment-id}/likes likes it; POST {comment-id} with
    # is_hidden=true|false hides it from everyone but its author and their friends;
    # DELETE {comment-id} deletes it (https://developers.facebook.com/docs/graph-api/reference/comment/).

    supports_moderation: ClassVar[frozenset[str]] = frozenset({"like", "hide", "unhide", "delete"})

    def like(self, channel: Channel, remote: Remote) -> None:
        with self._client(channel) as http:
            api.call(http, "POST", f"{remote.id}/likes", "Facebook like")

    def hide(self, channel: Channel, remote: Remote, hidden: bool = True) -> None:
        with self._client(channel) as http:
            api.call(http, "POST", remote.id, "Facebook hide", data={"is_hidden": "true" if hidden else "false"})

    def delete_comment(self, channel: Channel, remote: Remote) -> None:
        self.delete(channel, remote)

    # --- activity and metrics -------------------------------------------------------------------

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        newest = api.parse_time(cursor.get("since"))
        page_id = channel.remote_account_id
        params = {"fields": FEED_FIELDS, "limit": ACTIVITY_POSTS}
        events: list[Event] = []
        latest = newest
        with self._client(channel) as http:
            body = api.call(http, "GET", f"{page_id}/feed", "Facebook comments", params=params)
        for post in body.get("data") or []:
            if not isinstance(post, dict) or not post.get("id"):
                continue
            for comment in (post.get("comments") or {}).get("data") or []:
                event = self._comment_event(comment, str(post["id"]), page_id)
                if event is None or (newest is not None and event.occurred_at <= newest):
                    continue
                events.append(event)
                latest = event.occurred_at if latest is None else max(latest, event.occurred_at)
        events.sort(key=lambda e: e.occurred_at)
        return events, {**cursor, "since": latest.isoformat()} if latest else dict(cursor)

    @staticmethod
    def _comment_event(comment: Any, post_id: str, page_id: str) -> Event | None:
        if not isinstance(comment, dict) or not comment.get("id"):
            return None
        occurred = api.parse_time(comment.get("created_time"))
        author = comment.get("from") or {}
        if occurred is None or str(author.get("id") or "") == page_id:
            return None  # our own comments and answers are not activity
        parent = str((comment.get("parent") or {}).get("id") or "")
        return Event(
            kind="reply" if parent else "comment",
            remote_id=str(comment["id"]),
            occurred_at=occurred,
            author_id=str(author.get("id") or ""),
            author_name=str(author.get("name") or ""),
            text=str(comment.get("message") or ""),
            in_reply_to=parent or post_id,
            post_remote_id=post_id,
            data={"url": POST_URL.format(id=comment["id"])},
        )

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        now = timezone.now()
        metrics: list[Metric] = []
        with self._client(channel) as http:
            for remote in remotes:
                response = api.send(http, "GET", remote.id, "Facebook metrics", params={"fields": METRIC_FIELDS})
                if api.is_not_found(response):
                    continue  # deleted on Facebook
                body = api.json_of(api.check(response, "Facebook metrics"), "Facebook metrics")
                metrics.append(Metric(remote_id=remote.id, observed_at=now, values=self._post_values(body)))
            page = api.call(
                http, "GET", channel.remote_account_id, "Facebook Page", params={"fields": "followers_count,fan_count"}
            )
        metrics.append(
            Metric(
                remote_id=channel.remote_account_id,
                observed_at=now,
                values={"followers": int(page.get("followers_count") or 0), "likes": int(page.get("fan_count") or 0)},
            )
        )
        return metrics

    @staticmethod
    def _post_values(body: dict[str, Any]) -> dict[str, int]:
        def total(edge: str) -> int:
            return int(((body.get(edge) or {}).get("summary") or {}).get("total_count") or 0)

        return {
            "likes": total("reactions"),
            "comments": total("comments"),
            "shares": int((body.get("shares") or {}).get("count") or 0),
        }
