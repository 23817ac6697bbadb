"""The connector contract every network implements (DESIGN.md "Connector contract").

A connector never decides policy: it performs one call and reports what happened. The publisher
decides what to do with a `NetworkError` from its flags.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from stammtisch.networks.models import Channel


class NetworkError(Exception):
    """A failed call. `permanent`: retrying cannot help. `auth`: the channel must be reconnected.
    `retry_after`: seconds the network asked us to wait. `outcome_unknown`: the request may have
    reached the network (timeout after sending, reset); never retry blindly, ask `find_published`."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        auth: bool = False,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent or auth
        self.auth = auth
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True)
class Remote:
    """Something that exists on the network: a post, a reply, a comment."""

    id: str
    url: str = ""
    published_at: dt.datetime | None = None


@dataclass(frozen=True)
class MediaItem:
    """An image or video to publish. `path` is the file's name in Django's default storage (for
    networks that take an upload); `url` is its public address (for networks that fetch it, such
    as Instagram); size in bytes, width and height as read from the file on upload."""

    path: str
    content_type: str
    alt_text: str = ""
    url: str = ""
    size: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Outgoing:
    """What to publish on one channel: the channel's variant text, media and link."""

    text: str
    media: tuple[MediaItem, ...] = ()
    link: str = ""
    first_comment: str = ""


@dataclass(frozen=True)
class Event:
    """One piece of activity on a channel, as the network reports it.

    kind: view, like, share, comment, mention, message, follow, unfollow, click, reply.
    `remote_id` is unique per channel and kind, so an event seen twice is stored once.
    """

    kind: str
    remote_id: str
    occurred_at: dt.datetime
    author_id: str = ""
    author_handle: str = ""
    author_name: str = ""
    author_language: str = ""
    text: str = ""
    in_reply_to: str = ""  # remote id of the post or comment this answers
    post_remote_id: str = ""  # the channel's own post this belongs to
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    remote_id: str
    observed_at: dt.datetime
    values: dict[str, int]


Cursor = dict[str, Any]
Credentials = dict[str, Any]


MB = 1_000_000  # networks give sizes in MB; decimal megabytes are the safe reading

# (content type, largest file in bytes or None for no limit we know of)
MediaTypes = tuple[tuple[str, int | None], ...]
COMMON_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


@dataclass(frozen=True)
class TextRules:
    """Length and media limits of a network. Every network's are in `networks/rules.py`, which also
    checks a text and its media against them (`rules.validate`)."""

    max_length: int
    counting: str = "characters"  # how `length` is counted: a key of rules.COUNTERS
    url_length: int | None = None  # every URL counts this many characters (Mastodon)
    max_hashtags: int | None = None
    max_media: int = 4
    media_required: bool = False
    caption_max_length: int | None = None  # limit when media is attached (Telegram)
    max_bytes: int | None = None  # limit of the UTF-8 encoded text (Bluesky)
    media_types: MediaTypes = tuple((kind, None) for kind in (*COMMON_IMAGE_TYPES, "video/mp4"))
    max_videos: int | None = None  # at most this many of the media may be videos
    mix_images_and_videos: bool = True
    # Images only: the tallest (min) and the widest (max) aspect ratio allowed, as (width, height).
    image_aspect_min: tuple[float, float] | None = None
    image_aspect_max: tuple[float, float] | None = None

    def accepts(self, content_type: str) -> bool:
        return any(kind == content_type for kind, _limit in self.media_types)

    def max_file_bytes(self, content_type: str) -> int | None:
        return next((limit for kind, limit in self.media_types if kind == content_type), None)


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` calls per `seconds`, per channel (one account's limit) or per network
    (our app's limit across all accounts). The publisher shares one token bucket per limit
    between all workers (publishing/ratelimit.py): it holds `requests` tokens and refills
    evenly over `seconds`.

    Documented limits, for the networks' own declarations:
    * Mastodon: 300 requests per 5 minutes per account; 30 media uploads per 30 minutes.
    * Bluesky: createRecord costs 3 of 5,000 points per hour and 35,000 per day per account
      (about 1,666 posts an hour, 11,666 a day).
    * X API v2: POST /2/tweets 100 per 15 minutes per user (and a monthly cap of the app's plan).
    * Telegram: about 20 messages per minute in one group or channel; 30 per second per bot.
    """

    per: str  # "channel" or "network"
    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if self.per not in ("channel", "network") or self.requests < 1 or self.seconds <= 0:
            raise ValueError(f"Invalid rate limit: {self}")

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.requests / self.seconds


# Every channel gets a bucket of its own, so a 429 can hold back that channel's other posts even
# on a network that declares no limit of its own.
DEFAULT_RATE_LIMITS = (RateLimit("channel", 600, 60.0),)


class Network:
    """Base class. Subclasses set the class attributes and implement every method."""

    key: ClassVar[str]
    label: ClassVar[str]
    rules: ClassVar[TextRules]
    supports_first_comment: ClassVar[bool] = False
    assisted: ClassVar[bool] = False  # Xing: we prepare, the user posts and pastes the URL back
    # Limits of the network's API, shared by every worker (see RateLimit).
    rate_limits: ClassVar[tuple[RateLimit, ...]] = DEFAULT_RATE_LIMITS

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        raise NotImplementedError

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        raise NotImplementedError

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        raise NotImplementedError

    def delete(self, channel: Channel, remote: Remote) -> None:
        raise NotImplementedError

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        raise NotImplementedError

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        raise NotImplementedError

    def refresh_credentials(self, channel: Channel) -> Credentials:
        raise NotImplementedError

    # --- optional: moderating what others wrote (the inbox's like, hide and delete buttons) -----
    # The actions a connector implements, out of MODERATION_ACTIONS; the inbox offers only these.
    supports_moderation: ClassVar[frozenset[str]] = frozenset()

    def like(self, channel: Channel, remote: Remote) -> None:
        """Like (favourite) someone's comment or message as the channel."""
        raise NotImplementedError

    def unlike(self, channel: Channel, remote: Remote) -> None:
        """Take back the channel's like of `remote` (not offered by the inbox yet; X, Bluesky)."""
        raise NotImplementedError

    def hide(self, channel: Channel, remote: Remote, hidden: bool = True) -> None:
        """Hide someone's comment from the public (or show it again with `hidden=False`)."""
        raise NotImplementedError

    def delete_comment(self, channel: Channel, remote: Remote) -> None:
        """Delete someone's comment under one of the channel's posts."""
        raise NotImplementedError


MODERATION_ACTIONS = frozenset({"like", "hide", "unhide", "delete"})
