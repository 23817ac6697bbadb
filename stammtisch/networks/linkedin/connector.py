"""The LinkedIn connector: REST API, LinkedIn-Version pinned in api.py (docs/networks/linkedin.md).

A channel is a member's profile or a company page: `remote_account_id` = the author URN
(`urn:li:person:<id>` or `urn:li:organization:<id>`), `network_data` = {"kind", "scopes",
"connected_by", "role" (pages)}, `credentials` = {"access_token", "refresh_token", "expires_at",
"refresh_expires_at"}. Every call first refreshes an access token that runs out within a day.
`Channel.token_expires_at` is when the user must reconnect: the refresh token's end (LinkedIn
never extends it), or the access token's when the app gets no refresh tokens.

* publish: POST /rest/posts. Images through the Images API (initializeUpload, PUT the file, the
  image URN in `content.media`, several as `content.multiImage`), one video through the Videos API
  (initializeUpload, PUT each part, finalizeUpload), a link without media as `content.article`
  (with the page's title), a link beside media appended to the text. The post's URN comes in the
  `x-restli-id` header. The text is sent in LinkedIn's "little" format (reserved characters
  escaped) and checked against the same rules as the composer's (`rules.validate`).
* find_published: LinkedIn has no idempotency key. Before sending we record a SHA-256 of the text
  (`OutboundPost`); to reconcile we read the author's posts (GET /rest/posts?q=author, newest
  first) back to the send and compare. Reading a member's posts needs `r_member_social`, which
  LinkedIn grants to few partners: without it we raise instead of guessing.
* reply: a comment through /rest/socialActions/{urn}/comments (`parentComment` for an answer to a
  comment). delete: DELETE /rest/posts/{urn}, or the comment.
* fetch_activity: comments and answers to comments on the author's 10 newest posts (paged), and
  for pages the daily follower gains. Needs read access as above.
* fetch_metrics: per post reactions and comments (socialMetadata), for pages also impressions,
  clicks and shares (organizationalEntityShareStatistics), for a member with
  `r_member_postAnalytics` the member post analytics; per channel the followers (networkSizes
  for pages, memberFollowersCount for a member with `r_member_profileAnalytics`).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from stammtisch.core.http import guarded_client
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
from stammtisch.networks.linkedin import api, oauth
from stammtisch.networks.linkedin.actions import store_refreshed_token
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.rules import RULES, validate

REFRESH_MARGIN = dt.timedelta(days=1)  # refresh an access token this long before it runs out
FIND_MARGIN = dt.timedelta(minutes=5)  # clock difference between us and LinkedIn
FIND_SETTLE = dt.timedelta(minutes=1)  # a post this fresh may not be listed yet
FIND_PAGE = 50
FIND_PAGES = 4  # at most 200 of the author's posts newer than the send are searched
ACTIVITY_POSTS = 10  # the author's newest posts whose comments fetch_activity reads
COMMENT_PAGE = 100
COMMENT_PAGES = 10  # per post (or comment) and call
FOLLOWER_DAYS = 7  # follower gains are read back this many days at most
STATS_BATCH = 20  # posts per organizationalEntityShareStatistics request
TITLE_BYTES = 256_000  # of a linked page read for its title
TITLE_TIMEOUT = 5.0
# memberCreatorPostAnalytics queryType -> our metric
MEMBER_ANALYTICS = {
    "IMPRESSION": "views",
    "MEMBERS_REACHED": "reach",
    "RESHARE": "shares",
    "REACTION": "likes",
    "COMMENT": "comments",
}
READ_MEMBER_POSTS = "r_member_social"  # restricted: LinkedIn grants it to select partners only
MEMBER_POST_ANALYTICS = "r_member_postAnalytics"
MEMBER_FOLLOWERS = "r_member_profileAnalytics"

_OG_TITLE = re.compile(r"<meta\s[^>]*property\s*=\s*[\"']og:title[\"'][^>]*>", re.IGNORECASE)
_CONTENT = re.compile(r"content\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def article_title(url: str) -> str:
    """The title LinkedIn's link card shows (the Posts API does not read it from the page): the
    page's og:title or <title>, read through the SSRF guard within a few seconds; else its host."""
    fallback = urlsplit(url).hostname or url
    try:
        with guarded_client(timeout=TITLE_TIMEOUT) as http, http.stream("GET", url) as response:
            if not response.is_success or "html" not in response.headers.get("content-type", ""):
                return fallback[:200]
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) >= TITLE_BYTES:
                    break
            page = data.decode(response.encoding or "utf-8", errors="replace")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError):
        return fallback[:200]
    meta = _OG_TITLE.search(page)
    content = _CONTENT.search(meta.group(0)) if meta else None
    title = next((group for group in content.groups() if group), "") if content else ""
    if not title and (found := _TITLE.search(page)):
        title = found.group(1)
    title = " ".join(html.unescape(title).split())
    return (title or fallback)[:200]


def _media_count(post: dict[str, Any]) -> int:
    content = api.mapping(post.get("content"))
    if isinstance(content.get("multiImage"), dict):
        return len(api.mapping(content["multiImage"]).get("images") or [])
    return 1 if isinstance(content.get("media"), dict) else 0


class LinkedInNetwork(Network):
    key: ClassVar[str] = "linkedin"
    label: ClassVar[str] = "LinkedIn"
    rules: ClassVar[TextRules] = RULES["linkedin"]
    supports_first_comment: ClassVar[bool] = True
    # LinkedIn's limits are per day (application and member, reset at midnight UTC) and are not
    # published; the Developer Portal shows an app's. 150 posts a day per member is the figure
    # commonly met for posting; a 429 beyond it blocks the channel (api.rate_limit_wait).
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit("channel", 150, 86400.0),)

    # --- the channel ------------------------------------------------------------------------------

    @staticmethod
    def _check_channel(channel: Channel) -> None:
        if channel.network != "linkedin":
            raise NetworkError(f"Not a LinkedIn channel: {channel.network}", permanent=True)

    @staticmethod
    def _author(channel: Channel) -> str:
        urn = channel.remote_account_id
        if not urn.startswith(("urn:li:person:", "urn:li:organization:")):
            raise NetworkError("LinkedIn: the channel has no author; please reconnect it", auth=True)
        return urn

    @staticmethod
    def _scopes(channel: Channel) -> set[str]:
        return set((channel.network_data or {}).get("scopes") or [])

    def _is_page(self, channel: Channel) -> bool:
        return api.is_organization(self._author(channel))

    def _is_page_admin(self, channel: Channel) -> bool:
        """Page statistics are for the page's super admins (role ADMINISTRATOR) only."""
        return self._is_page(channel) and (channel.network_data or {}).get("role") == "ADMINISTRATOR"

    def _can_read(self, channel: Channel) -> bool:
        """Whether we may read the author's posts and their comments: a page's with
        r_organization_social, a member's only with the restricted r_member_social."""
        return self._is_page(channel) or READ_MEMBER_POSTS in self._scopes(channel)

    @staticmethod
    def _expiring(credentials: dict[str, Any]) -> bool:
        expires = parse_datetime(str((credentials or {}).get("expires_at") or ""))
        return expires is not None and expires - timezone.now() < REFRESH_MARGIN

    def _token(self, channel: Channel) -> str:
        self._check_channel(channel)
        credentials = channel.credentials or {}
        if self._expiring(credentials) and credentials.get("refresh_token"):
            self.refresh_credentials(channel)
            credentials = channel.credentials or {}
        token = credentials.get("access_token")
        if not isinstance(token, str) or not token:
            raise NetworkError("LinkedIn: the channel has no access token; please reconnect it", auth=True)
        expires = parse_datetime(str(credentials.get("expires_at") or ""))
        if expires is not None and expires <= timezone.now():
            raise NetworkError("LinkedIn: the channel's access has expired; please reconnect it", auth=True)
        return token

    @contextmanager
    def _client(self, channel: Channel) -> Iterator[httpx.Client]:
        with api.client(self._token(channel)) as http:
            yield http

    def _enforce_rules(self, text: str, media: tuple[MediaItem, ...], *, has_link: bool = False) -> None:
        """The composer's rules (`rules.RULES["linkedin"]`), checked again before anything is sent."""
        result = validate(self.key, text, media)
        problems = [problem for problem in result.problems if not (has_link and problem.code == "empty")]
        if problems:
            raise NetworkError("LinkedIn: " + "; ".join(problem.message for problem in problems), permanent=True)

    @staticmethod
    def _record(channel: Channel, key: str, text: str, in_reply_to: str, media_count: int) -> None:
        """Remember what we are about to send (before sending), for `find_published`. A retry keeps
        the first send time, so the search window covers every attempt."""
        values = {"text_sha256": api.text_fingerprint(text), "in_reply_to": in_reply_to, "media_count": media_count}
        record, created = OutboundPost.objects.get_or_create(channel=channel, idempotency_key=key, defaults=values)
        if not created:
            for name, value in values.items():
                setattr(record, name, value)
            record.save(update_fields=list(values))

    # --- media ------------------------------------------------------------------------------------

    @staticmethod
    def _read(item: MediaItem, start: int = 0, length: int | None = None) -> bytes:
        try:
            with default_storage.open(item.path, "rb") as handle:
                handle.seek(start)
                return bytes(handle.read() if length is None else handle.read(length))
        except OSError as exc:
            raise NetworkError(f"LinkedIn media: cannot read {item.path}: {exc}", permanent=True) from None

    def _upload_image(self, http: httpx.Client, owner: str, item: MediaItem) -> str:
        """Images API: initializeUpload, then PUT the file to the address LinkedIn gave."""
        request = {"initializeUploadRequest": {"owner": owner}}
        body = api.json_of(api.call(http, "POST", api.IMAGES_INIT, "image upload", json=request), "image upload")
        value = api.mapping(body.get("value"))
        image = str(value.get("image") or "")
        if not image:
            raise NetworkError("LinkedIn image upload: no image URN in the answer", permanent=True)
        url = api.check_upload_url(value.get("uploadUrl"))
        api.call(
            http, "PUT", url, "image upload", content=self._read(item), headers={"Content-Type": item.content_type}
        )
        return image

    def _upload_video(self, http: httpx.Client, owner: str, item: MediaItem) -> str:
        """Videos API: initializeUpload with the size, PUT each part LinkedIn asks for (collecting
        the ETags), finalizeUpload."""
        try:
            size = item.size or default_storage.size(item.path)
        except OSError as exc:
            raise NetworkError(f"LinkedIn media: cannot read {item.path}: {exc}", permanent=True) from None
        request = {
            "initializeUploadRequest": {
                "owner": owner,
                "fileSizeBytes": size,
                "uploadCaptions": False,
                "uploadThumbnail": False,
            }
        }
        body = api.json_of(api.call(http, "POST", api.VIDEOS_INIT, "video upload", json=request), "video upload")
        value = api.mapping(body.get("value"))
        video = str(value.get("video") or "")
        parts = [part for part in value.get("uploadInstructions") or [] if isinstance(part, dict)]
        if not video or not parts:
            raise NetworkError("LinkedIn video upload: no video URN or upload address in the answer", permanent=True)
        etags = []
        for part in parts:
            first, last = int(part.get("firstByte") or 0), int(part.get("lastByte") or 0)
            response = api.call(
                http,
                "PUT",
                api.check_upload_url(part.get("uploadUrl")),
                "video upload",
                content=self._read(item, first, last - first + 1),
                headers={"Content-Type": "application/octet-stream"},
            )
            etag = response.headers.get("etag", "")
            if not etag:
                raise NetworkError("LinkedIn video upload: no ETag for an uploaded part", permanent=True)
            etags.append(etag)
        finalize = {
            "finalizeUploadRequest": {
                "video": video,
                "uploadToken": value.get("uploadToken") or "",
                "uploadedPartIds": etags,
            }
        }
        api.call(http, "POST", api.VIDEOS_FINALIZE, "video upload", json=finalize)
        return video

    def _content(self, http: httpx.Client, owner: str, outgoing: Outgoing) -> dict[str, Any]:
        videos = [item for item in outgoing.media if item.content_type.startswith("video/")]
        images = [item for item in outgoing.media if not item.content_type.startswith("video/")]
        if videos:
            return {"media": {"id": self._upload_video(http, owner, videos[0])}}
        uploaded = [(self._upload_image(http, owner, item), item.alt_text) for item in images]
        described = [{"id": urn, **({"altText": alt[:4086]} if alt else {})} for urn, alt in uploaded]
        if len(described) == 1:
            return {"media": described[0]}
        if described:
            return {"multiImage": {"images": described}}
        if outgoing.link:
            return {"article": {"source": outgoing.link, "title": article_title(outgoing.link)}}
        return {}

    # --- publish ----------------------------------------------------------------------------------

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        text = outgoing.text.strip()
        if outgoing.media and outgoing.link and outgoing.link not in text:
            # A post carries one kind of content: with media, the link goes into the text.
            text = f"{text}\n\n{outgoing.link}" if text else outgoing.link
        self._enforce_rules(text, outgoing.media, has_link=bool(outgoing.link))
        author = self._author(channel)
        with self._client(channel) as http:
            content = self._content(http, author, outgoing)
            payload: dict[str, Any] = {
                "author": author,
                "commentary": api.escape_commentary(text),
                "visibility": "PUBLIC",
                "distribution": {
                    "feedDistribution": "MAIN_FEED",
                    "targetEntities": [],
                    "thirdPartyDistributionChannels": [],
                },
                "lifecycleState": "PUBLISHED",
                "isReshareDisabledByAuthor": False,
            }
            if content:
                payload["content"] = content
            self._record(channel, idempotency_key, text, "", len(outgoing.media))
            response = api.call(http, "POST", api.POSTS, "publish", json=payload)
        urn = response.headers.get("x-restli-id", "")
        if not urn.startswith("urn:li:"):
            raise NetworkError("LinkedIn publish: no post URN in the answer", outcome_unknown=True)
        return Remote(id=urn, url=api.post_url(urn), published_at=timezone.now())

    # --- find_published ---------------------------------------------------------------------------

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        record = OutboundPost.objects.filter(channel=channel, idempotency_key=idempotency_key).first()
        if record is None:
            return None  # we record before sending: nothing recorded, nothing sent
        if not self._can_read(channel):
            raise NetworkError(
                _(
                    "LinkedIn does not let Stammtisch read the posts and comments of a personal profile, so it "
                    "cannot tell whether this went out. Please look on LinkedIn and publish again only if it is "
                    "missing."
                ),
                permanent=True,
            )
        if timezone.now() - record.sent_at < FIND_SETTLE:
            raise NetworkError("LinkedIn: the post may still be on its way; looking again in a minute", retry_after=60)
        window_start = min(record.sent_at, since) - FIND_MARGIN
        with self._client(channel) as http:
            if record.in_reply_to:
                return self._find_comment(http, self._author(channel), record, window_start)
            return self._find_post(http, self._author(channel), record, window_start)

    def _find_post(
        self, http: httpx.Client, author: str, record: OutboundPost, window_start: dt.datetime
    ) -> Remote | None:
        """The author's posts come newest first: read pages until one reaches back past the send."""
        empty = record.text_sha256 == api.text_fingerprint("")
        matches: list[Remote] = []
        start = 0
        for _page in range(FIND_PAGES):
            params = api.query(author=api.enc(author), q="author", count=FIND_PAGE, start=start, sortBy="CREATED")
            response = api.call(
                http, "GET", f"{api.POSTS}?{params}", "find published", headers={"X-RestLi-Method": "FINDER"}
            )
            body = api.json_of(response, "find published")
            found = api.elements(body)
            reached_back = False
            for post in found:
                remote = self._post_remote(post)
                if remote.published_at is not None and remote.published_at < window_start:
                    reached_back = True
                elif self._post_matches(post, record):
                    if not empty:
                        return remote
                    matches.append(remote)
            if reached_back or not api.has_more(body, start, FIND_PAGE, len(found)):
                return self._only(matches)
            start += len(found)
        raise NetworkError(
            "LinkedIn: too many newer posts to search; cannot tell yet whether the post went out", retry_after=600
        )

    def _find_comment(
        self, http: httpx.Client, author: str, record: OutboundPost, window_start: dt.datetime
    ) -> Remote | None:
        """Our comment among the comments of the post (or comment) it answers. LinkedIn documents no
        order for comments, so every page is read."""
        start = 0
        for _page in range(FIND_PAGES):
            body, found = self._comments_page(http, record.in_reply_to, start, "find published")
            for comment in found:
                remote = self._comment_remote(comment)
                recent = remote.published_at is None or remote.published_at >= window_start
                if recent and self._comment_matches(comment, record, author):
                    return remote
            if not api.has_more(body, start, COMMENT_PAGE, len(found)):
                return None
            start += len(found)
        raise NetworkError(
            "LinkedIn: too many comments to search; cannot tell yet whether the comment went out", retry_after=600
        )

    @staticmethod
    def _only(matches: list[Remote]) -> Remote | None:
        if len(matches) <= 1:
            return matches[0] if matches else None
        raise NetworkError(
            _(
                "LinkedIn: several posts without text went out in that time; Stammtisch cannot tell which one is "
                "this one. Please check on LinkedIn and publish again if needed."
            ),
            permanent=True,
        )

    @staticmethod
    def _post_matches(post: dict[str, Any], record: OutboundPost) -> bool:
        text = api.unescape_commentary(str(post.get("commentary") or ""))
        return _media_count(post) == record.media_count and api.text_fingerprint(text) == record.text_sha256

    @staticmethod
    def _post_remote(post: dict[str, Any]) -> Remote:
        urn = str(post.get("id") or "")
        return Remote(
            id=urn, url=api.post_url(urn), published_at=api.from_ms(post.get("createdAt") or post.get("publishedAt"))
        )

    @staticmethod
    def _comment_matches(comment: dict[str, Any], record: OutboundPost, author: str) -> bool:
        text = api.unescape_commentary(str((comment.get("message") or {}).get("text") or ""))
        return str(comment.get("actor") or "") == author and api.text_fingerprint(text) == record.text_sha256

    @staticmethod
    def _comment_urn(comment: dict[str, Any], thread: str = "") -> str:
        urn = str(comment.get("commentUrn") or comment.get("$URN") or "")
        if not urn and comment.get("id") and (comment.get("object") or thread):
            urn = f"urn:li:comment:({comment.get('object') or thread},{comment['id']})"
        return urn

    def _comment_remote(self, comment: dict[str, Any], thread: str = "") -> Remote:
        urn = self._comment_urn(comment, thread)
        parsed = api.parse_comment_urn(urn)
        return Remote(
            id=urn,
            url=api.comment_url(parsed[0] if parsed else thread, urn),
            published_at=api.from_ms((comment.get("created") or {}).get("time")),
        )

    @staticmethod
    def _comments_page(
        http: httpx.Client, urn: str, start: int, what: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        url = f"{api.COMMENTS.format(urn=api.enc(urn))}?{api.query(start=start, count=COMMENT_PAGE)}"
        body = api.json_of(api.call(http, "GET", url, what), what)
        return body, api.elements(body)

    def _comments(self, http: httpx.Client, urn: str) -> Iterator[dict[str, Any]]:
        """Every comment on a post (or every answer to a comment), page by page."""
        start = 0
        for _page in range(COMMENT_PAGES):
            body, found = self._comments_page(http, urn, start, "comments")
            yield from found
            if not api.has_more(body, start, COMMENT_PAGE, len(found)):
                return
            start += len(found)

    # --- reply, delete ----------------------------------------------------------------------------

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        self._enforce_rules(text, ())
        author = self._author(channel)
        parsed = api.parse_comment_urn(to.id)
        thread = parsed[0] if parsed else to.id
        body: dict[str, Any] = {"actor": author, "object": thread, "message": {"text": api.escape_commentary(text)}}
        if parsed:
            body["parentComment"] = to.id
        with self._client(channel) as http:
            self._record(channel, idempotency_key, text, to.id, 0)
            response = api.call(http, "POST", api.COMMENTS.format(urn=api.enc(to.id)), "comment", json=body)
        answer = api.json_of(response, "comment")
        if not answer.get("id") and response.headers.get("x-restli-id"):
            answer = {**answer, "id": response.headers["x-restli-id"]}
        remote = self._comment_remote(answer, thread)
        if not remote.id:
            raise NetworkError("LinkedIn comment: no comment URN in the answer", outcome_unknown=True)
        return Remote(id=remote.id, url=remote.url, published_at=remote.published_at or timezone.now())

    def delete(self, channel: Channel, remote: Remote) -> None:
        parsed = api.parse_comment_urn(remote.id)
        if parsed:
            thread, comment_id = parsed
            url = api.COMMENT.format(urn=api.enc(thread), id=api.enc(comment_id))
            url += "?" + api.query(actor=api.enc(self._author(channel)))
        else:
            url = api.POST.format(urn=api.enc(remote.id))
        with self._client(channel) as http:
            response = api.send(http, "DELETE", url, "delete", headers={"X-RestLi-Method": "DELETE"})
            if response.status_code in (404, 410):
                return  # already gone
            api.check(response, "delete")

    # --- moderation of comments on the author's posts (the inbox's like and delete buttons) ------
    # like: POST /rest/reactions?actor={author} with {"root": <comment URN>, "reactionType": "LIKE"}
    # (Reactions API, "Create a Reaction on a Comment"; w_member_social or w_organization_social).
    # delete: DELETE /rest/socialActions/{thread}/comments/{id}?actor={author} (Comments API); LinkedIn
    # answers 403 when the author may not delete that comment. LinkedIn has no hiding of comments.
    # https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/reactions-api
    # https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/comments-api

    supports_moderation: ClassVar[frozenset[str]] = frozenset({"like", "delete"})

    def like(self, channel: Channel, remote: Remote) -> None:
        author = self._author(channel)
        url = f"{api.REACTIONS}?{api.query(actor=api.enc(author))}"
        with self._client(channel) as http:
            api.call(http, "POST", url, "like", json={"root": remote.id, "reactionType": "LIKE"})

    def delete_comment(self, channel: Channel, remote: Remote) -> None:
        if api.parse_comment_urn(remote.id) is None:
            raise NetworkError(f"LinkedIn: not a comment: {remote.id}", permanent=True)
        self.delete(channel, remote)

    # --- activity ---------------------------------------------------------------------------------

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        """Comments (and answers to comments) on the author's newest posts, newer than the cursor's
        `since` (milliseconds), and for pages the daily follower gains up to yesterday. Nothing for
        a profile without read access (see `_can_read`)."""
        if not self._can_read(channel):
            return [], dict(cursor)
        author = self._author(channel)
        since = int(cursor.get("since") or 0)
        newest = since
        events: list[Event] = []
        new_cursor = dict(cursor)
        with self._client(channel) as http:
            params = api.query(author=api.enc(author), q="author", count=ACTIVITY_POSTS, start=0, sortBy="CREATED")
            response = api.call(http, "GET", f"{api.POSTS}?{params}", "posts", headers={"X-RestLi-Method": "FINDER"})
            for post in api.elements(api.json_of(response, "posts")):
                post_urn = str(post.get("id") or "")
                if not post_urn:
                    continue
                for comment in self._comments(http, post_urn):
                    event = self._comment_event(comment, post_urn, post_urn, author, since)
                    if event is not None:
                        events.append(event)
                    summary = comment.get("commentsSummary") or {}
                    answers = summary.get("totalFirstLevelComments") or summary.get("aggregatedTotalComments")
                    parent = self._comment_urn(comment, post_urn)
                    if answers and parent:
                        for answer in self._comments(http, parent):
                            event = self._comment_event(answer, post_urn, parent, author, since)
                            if event is not None:
                                events.append(event)
            if self._is_page_admin(channel):
                gains, until = self._follower_events(http, author, cursor)
                events += gains
                if until:
                    new_cursor["followers_until"] = until
        for event in events:
            if event.kind in ("comment", "reply"):
                newest = max(newest, api.to_ms(event.occurred_at))
        if newest:
            new_cursor["since"] = newest
        events.sort(key=lambda e: e.occurred_at)
        return events, new_cursor

    def _comment_event(
        self, comment: dict[str, Any], post_urn: str, parent: str, author: str, since: int
    ) -> Event | None:
        created = api.from_ms((comment.get("created") or {}).get("time"))
        urn = self._comment_urn(comment, parent)
        actor = str(comment.get("actor") or "")
        if created is None or not urn or actor == author or api.to_ms(created) <= since:
            return None  # unknown, already seen, or our own comment
        parsed = api.parse_comment_urn(urn)
        return Event(
            kind="comment" if parent == post_urn else "reply",
            remote_id=urn,
            occurred_at=created,
            author_id=actor,
            text=api.unescape_commentary(str((comment.get("message") or {}).get("text") or "")),
            in_reply_to=parent,
            post_remote_id=post_urn,
            data={"url": api.comment_url(parsed[0] if parsed else post_urn, urn)},
        )

    @staticmethod
    def _follower_events(http: httpx.Client, author: str, cursor: Cursor) -> tuple[list[Event], str]:
        """One event per finished UTC day with a follower gain (or loss): `follow` / `unfollow`
        with the number in `data["count"]`. Returns the events and the last day read."""
        today = timezone.now().astimezone(dt.UTC).date()
        yesterday = today - dt.timedelta(days=1)
        first = today - dt.timedelta(days=FOLLOWER_DAYS)
        if cursor.get("followers_until"):
            first = max(first, dt.date.fromisoformat(str(cursor["followers_until"])) + dt.timedelta(days=1))
        if first > yesterday:
            return [], ""
        start = api.to_ms(dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC))
        end = api.to_ms(dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC))
        intervals = f"(timeRange:(start:{start},end:{end}),timeGranularityType:DAY)"
        params = api.query(q="organizationalEntity", organizationalEntity=api.enc(author), timeIntervals=intervals)
        response = api.call(http, "GET", f"{api.FOLLOWER_STATISTICS}?{params}", "follower statistics")
        events = []
        for element in api.elements(api.json_of(response, "follower statistics")):
            day_start = api.from_ms((element.get("timeRange") or {}).get("start"))
            gains = element.get("followerGains") or {}
            organic, paid = int(gains.get("organicFollowerGain") or 0), int(gains.get("paidFollowerGain") or 0)
            if day_start is None or day_start.date() > yesterday or organic + paid == 0:
                continue
            events.append(
                Event(
                    kind="follow" if organic + paid > 0 else "unfollow",
                    remote_id=f"followers:{day_start.date().isoformat()}",
                    occurred_at=day_start,
                    data={"count": abs(organic + paid), "organic": organic, "paid": paid},
                )
            )
        return events, yesterday.isoformat()

    # --- metrics ----------------------------------------------------------------------------------

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        now = timezone.now()
        author = self._author(channel)
        scopes = self._scopes(channel)
        values: dict[str, dict[str, int]] = {remote.id: {} for remote in remotes if remote.id}
        posts = [urn for urn in values if urn.startswith(("urn:li:share:", "urn:li:ugcPost:"))]
        account: dict[str, int] = {}
        with self._client(channel) as http:
            if self._can_read(channel):
                for urn in values:
                    response = api.send(http, "GET", api.SOCIAL_METADATA.format(urn=api.enc(urn)), "metrics")
                    if response.status_code == 404:
                        continue  # deleted on LinkedIn
                    values[urn].update(self._social_values(api.json_of(api.check(response, "metrics"), "metrics")))
            if self._is_page_admin(channel):
                for start in range(0, len(posts), STATS_BATCH):
                    self._share_statistics(http, author, posts[start : start + STATS_BATCH], values)
            elif not self._is_page(channel) and MEMBER_POST_ANALYTICS in scopes:
                for urn in posts:
                    values[urn].update(self._member_analytics(http, urn))
            if self._is_page(channel):
                url = f"{api.NETWORK_SIZE.format(urn=api.enc(author))}?edgeType=COMPANY_FOLLOWED_BY_MEMBER"
                response = api.send(http, "GET", url, "followers")
                if response.status_code != 403:  # a role that may not see it: no count, the rest stays
                    size = api.json_of(api.check(response, "followers"), "followers")
                    account["followers"] = int(size.get("firstDegreeSize") or 0)
            elif MEMBER_FOLLOWERS in scopes:
                response = api.call(http, "GET", f"{api.MEMBER_FOLLOWERS}?q=me", "followers")
                found = api.elements(api.json_of(response, "followers"))
                if found:
                    account["followers"] = int(found[0].get("memberFollowersCount") or 0)
        metrics = [Metric(remote_id=urn, observed_at=now, values=counts) for urn, counts in values.items() if counts]
        if account:
            metrics.append(Metric(remote_id=author, observed_at=now, values=account))
        return metrics

    @staticmethod
    def _social_values(body: dict[str, Any]) -> dict[str, int]:
        reactions = api.mapping(body.get("reactionSummaries"))
        likes = sum(int(summary.get("count") or 0) for summary in reactions.values() if isinstance(summary, dict))
        comments = int((body.get("commentSummary") or {}).get("count") or 0)
        return {"likes": likes, "comments": comments}

    @staticmethod
    def _share_statistics(http: httpx.Client, author: str, posts: list[str], values: dict[str, dict[str, int]]) -> None:
        shares = [urn for urn in posts if urn.startswith("urn:li:share:")]
        ugc_posts = [urn for urn in posts if urn.startswith("urn:li:ugcPost:")]
        params = api.query(q="organizationalEntity", organizationalEntity=api.enc(author))
        if shares:
            params += "&" + api.query(shares=api.restli_list(shares))
        if ugc_posts:
            params += "&" + api.query(ugcPosts=api.restli_list(ugc_posts))
        response = api.call(http, "GET", f"{api.SHARE_STATISTICS}?{params}", "page statistics")
        for element in api.elements(api.json_of(response, "page statistics")):
            urn = str(element.get("share") or element.get("ugcPost") or "")
            stats = element.get("totalShareStatistics") or {}
            if urn not in values or not isinstance(stats, dict):
                continue
            counts = values[urn]
            counts["views"] = int(stats.get("impressionCount") or 0)
            counts["reach"] = int(stats.get("uniqueImpressionsCount") or 0)
            counts["clicks"] = int(stats.get("clickCount") or 0)
            counts["shares"] = int(stats.get("shareCount") or 0)
            counts.setdefault("likes", int(stats.get("likeCount") or 0))
            counts.setdefault("comments", int(stats.get("commentCount") or 0))

    @staticmethod
    def _member_analytics(http: httpx.Client, urn: str) -> dict[str, int]:
        """memberCreatorPostAnalytics, one call per metric (the API takes one queryType at a time)."""
        kind = "ugc" if urn.startswith("urn:li:ugcPost:") else "share"
        counts: dict[str, int] = {}
        for query_type, name in MEMBER_ANALYTICS.items():
            params = api.query(q="entity", entity=f"({kind}:{api.enc(urn)})", queryType=query_type, aggregation="TOTAL")
            response = api.send(http, "GET", f"{api.MEMBER_POST_ANALYTICS}?{params}", "post analytics")
            if response.status_code == 404:
                return {}  # deleted on LinkedIn
            found = api.elements(api.json_of(api.check(response, "post analytics"), "post analytics"))
            counts[name] = sum(int(element.get("count") or 0) for element in found)
        return counts

    # --- tokens -----------------------------------------------------------------------------------

    def refresh_credentials(self, channel: Channel) -> Credentials:
        """A new access token from the refresh token, stored at once with the channel row locked
        (a worker that waited for the lock finds the fresh token and uses it). LinkedIn keeps the
        refresh token and its end date; an answer without one keeps the stored one. A network
        hiccup raises a transient error and leaves the stored tokens alone."""
        self._check_channel(channel)
        with transaction.atomic():
            locked = Channel.objects.select_for_update().get(pk=channel.pk)
            if locked.credentials != channel.credentials and not self._expiring(locked.credentials):
                channel.credentials, channel.token_expires_at = locked.credentials, locked.token_expires_at
                return dict(locked.credentials)
            refresh_token = (locked.credentials or {}).get("refresh_token")
            if not isinstance(refresh_token, str) or not refresh_token:
                raise NetworkError(
                    _(
                        "LinkedIn gives this server's app no refresh tokens, so the access cannot be renewed "
                        "automatically. Please reconnect the channel before it expires."
                    ),
                    permanent=True,
                )
            token = oauth.refresh(refresh_token)
            store_refreshed_token(locked, token)
        channel.credentials, channel.token_expires_at = locked.credentials, locked.token_expires_at
        return dict(locked.credentials)
