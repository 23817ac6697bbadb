"""Every network's text and media rules in one table, and the one check that the composer, the API
and the publisher all use: `validate(network, text, media) -> Validation`.

Lengths are counted as each network counts them (`COUNTERS`): X by the twitter-text v3 weighted
length (`twitter_text.py`), Bluesky in graphemes (a family emoji, a flag or an accented letter
is 1), Mastodon in characters with every URL as 23, the rest in characters (code points).
Nothing here branches on a network's key: a network is a row in `RULES`.

`docs/networks.md` ("Text and media rules") explains the numbers for people.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import regex
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from stammtisch.networks import twitter_text
from stammtisch.networks.base import COMMON_IMAGE_TYPES, MB, MediaTypes, TextRules
from stammtisch.networks.registry import UnknownNetwork


def _media(max_bytes: int | None, *content_types: str) -> MediaTypes:
    return tuple((content_type, max_bytes) for content_type in content_types)


VIDEO_TYPES = ("video/mp4", "video/quicktime")
MIB = 1024 * 1024  # where a network counts in binary megabytes (Mastodon: Rails' `16.megabytes`)

# The numbers, with where each comes from. "issue 3" is the publishing issue, which took the text
# limits from the networks' documentation; media limits are from each network's public API docs.
RULES: dict[str, TextRules] = {
    # Our own network (the Sandbox connector reads its limits from here). It keeps the public
    # addresses of media, not the files; a channel standing in for a network gets that network's
    # rules as well (connector._check_rules).
    "sandbox": TextRules(
        max_length=5000,
        max_media=4,
        media_types=_media(None, *COMMON_IMAGE_TYPES, *VIDEO_TYPES),
    ),
    # Facebook Pages (Graph API): 63,206 characters (issue 3); photos JPEG/PNG/GIF/WebP up to 4 MB
    # (Graph API "Photos", developers.facebook.com/docs/graph-api/reference/page/photos), one video
    # up to 10 GB (Video API, resumable upload); a post holds either photos or a video. The Graph
    # API documents no cap for photos in one post: 10 is our choice.
    "facebook": TextRules(
        max_length=63206,
        max_media=10,
        media_types=(*_media(4 * MB, *COMMON_IMAGE_TYPES), *_media(10_000 * MB, *VIDEO_TYPES)),
        max_videos=1,
        mix_images_and_videos=False,
    ),
    # Instagram Content Publishing API: caption 2,200 characters and at most 30 hashtags (issue 3);
    # a post needs an image or a video; carousels of up to 10; images JPEG only, up to 8 MB, aspect
    # ratio 4:5 to 1.91:1; videos (published as reels) MP4/MOV up to 300 MB. Source: IG User Media
    # reference, developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/
    # ig-user/media ("Image specifications", "Reel specifications"). Instagram fetches each file
    # from its public URL (docs/media.md).
    "instagram": TextRules(
        max_length=2200,
        max_hashtags=30,
        max_media=10,
        media_required=True,
        media_types=(*_media(8 * MB, "image/jpeg"), *_media(300 * MB, *VIDEO_TYPES)),
        image_aspect_min=(4, 5),
        image_aspect_max=(1.91, 1),
    ),
    # Threads API: 500 characters (issue 3); carousels of up to 20 images and videos (raised from
    # 10 in 2024); images JPEG/PNG up to 8 MB with an aspect ratio of at most 10:1; videos MP4/MOV
    # up to 1 GB. Source: developers.facebook.com/docs/threads/overview ("Image specifications",
    # "Video specifications") and /docs/threads/posts ("Carousel posts"). "Emojis are counted as
    # the number of UTF-8 bytes" (developers.facebook.com/documentation/threads/posts, Limitations).
    "threads": TextRules(
        max_length=500,
        counting="threads",
        max_media=20,
        media_types=(*_media(8 * MB, "image/jpeg", "image/png"), *_media(1000 * MB, *VIDEO_TYPES)),
        image_aspect_min=(1, 10),
        image_aspect_max=(10, 1),
    ),
    # LinkedIn Posts API: commentary 3,000 characters (issue 3); up to 20 images (MultiImage) or
    # one video; Images API: JPEG/PNG/GIF, limited in pixels (36,152,320), not in bytes; Videos
    # API: MP4 from 75 KB to 500 MB. Source: learn.microsoft.com/linkedin/marketing/community-
    # management/shares/{multiimage-post-api, images-api, videos-api}.
    "linkedin": TextRules(
        max_length=3000,
        max_media=20,
        media_types=(*_media(None, "image/jpeg", "image/png", "image/gif"), *_media(500 * MB, "video/mp4")),
        max_videos=1,
        mix_images_and_videos=False,
    ),
    # X: twitter-text v3 weighted length 280, URLs 23, emoji discounted (issue 3, twitter-text's
    # config/v3.json); X API media upload: 4 images (JPEG/PNG/WebP up to 5 MB, GIF up to 15 MB) or
    # one video (MP4/MOV up to 512 MB), not both. Source: docs.x.com/x-api/media/quickstart/
    # best-practices ("Media constraints").
    "x": TextRules(
        max_length=280,
        counting="twitter",
        url_length=twitter_text.V3.transformed_url_length,
        max_media=4,
        media_types=(
            *_media(5 * MB, "image/jpeg", "image/png", "image/webp"),
            *_media(15 * MB, "image/gif"),
            *_media(512 * MB, *VIDEO_TYPES),
        ),
        max_videos=1,
        mix_images_and_videos=False,
    ),
    # Mastodon: 500 characters, every URL as 23, a remote mention as its local part (issue 3;
    # Mastodon's StatusLengthValidator); 4 attachments, images up to 16 MB, videos up to 99 MB, no
    # images beside a video (Mastodon 4 defaults; an instance may set other limits: its
    # /api/v2/instance `configuration.media_attachments` says which). Source: docs.joinmastodon.org/
    # user/posting/#media and app/models/media_attachment.rb (IMAGE_LIMIT = 16.megabytes,
    # VIDEO_LIMIT = 99.megabytes: Rails megabytes, 1,048,576 bytes each).
    "mastodon": TextRules(
        max_length=500,
        counting="mastodon",
        url_length=23,
        max_media=4,
        media_types=(
            *_media(16 * MIB, *COMMON_IMAGE_TYPES, "image/heic", "image/avif"),
            *_media(99 * MIB, *VIDEO_TYPES, "video/webm"),
        ),
        max_videos=1,
        mix_images_and_videos=False,
    ),
    # Bluesky (app.bsky.feed.post lexicon): 300 graphemes and 3,000 bytes (issue 3); up to 4 images
    # of at most 1,000,000 bytes (app.bsky.embed.images). Source: the lexicons in
    # github.com/bluesky-social/atproto, lexicons/app/bsky/embed/images.json (maxSize).
    # No video: Bluesky allows one MP4 of up to 100,000,000 bytes (app.bsky.embed.video), but its
    # recommended upload goes through a separate video service (service-auth token for the
    # account's own PDS, job polling) that our connector does not implement yet, so the composer
    # must not offer it (docs/networks/bluesky.md, "Known limitations").
    "bluesky": TextRules(
        max_length=300,
        counting="graphemes",
        max_bytes=3000,
        max_media=4,
        media_types=_media(1 * MB, *COMMON_IMAGE_TYPES),
    ),
    # Telegram Bot API: messages 4,096 characters, captions 1,024 (issue 3); media groups of up to
    # 10 photos and videos; photos up to 10 MB with a width-to-height ratio of at most 20; files
    # (videos) up to 50 MB through the Bot API. Source: core.telegram.org/bots/api (sendPhoto,
    # sendMediaGroup, "Sending files").
    "telegram": TextRules(
        max_length=4096,
        caption_max_length=1024,
        max_media=10,
        media_types=(*_media(10 * MB, "image/jpeg", "image/png", "image/webp"), *_media(50 * MB, *VIDEO_TYPES)),
        image_aspect_min=(1, 20),
        image_aspect_max=(20, 1),
    ),
    # Xing: assisted, no posting API since 2019 and so no limits to look up. These are our own
    # (docs/networks.md): 3,000 characters and one image up to 10 MB, which the user posts by hand.
    "xing": TextRules(
        max_length=3000,
        max_media=1,
        media_types=_media(10 * MB, "image/jpeg", "image/png", "image/gif"),
    ),
}

# Names of brands, the same in every language.
LABELS: dict[str, str] = {
    "sandbox": "Sandbox",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "threads": "Threads",
    "linkedin": "LinkedIn",
    "x": "X",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "telegram": "Telegram",
    "xing": "Xing",
}

# Networks where a first comment (or a first reply in the thread) can be posted under a post
# through the API. Telegram only with a linked discussion group, which we cannot know: left out.
# The composer also asks the channel's connector whether it implements it
# (`Network.supports_first_comment`); docs/publishing.md ("First comment").
FIRST_COMMENT: frozenset[str] = frozenset(
    {"sandbox", "facebook", "instagram", "linkedin", "x", "bluesky", "mastodon", "threads"}
)

# How a mention is written, per network. Networks missing here do not turn "@name" in text posted
# through their API into a tag (Facebook, Instagram and LinkedIn need ids in their own markup), so
# the composer says so instead of pretending.
MENTION_FORMS: dict[str, str] = {
    "sandbox": "@handle",
    "x": "@handle",
    "mastodon": "@user@instance",
    "bluesky": "@handle.bsky.social",
    "threads": "@handle",
    "telegram": "@username",
}
UNTAGGED_MENTIONS: frozenset[str] = frozenset({"facebook", "instagram", "linkedin"})


# --- counting ---------------------------------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")
# "@name@instance.example": Mastodon counts only "@name".
_REMOTE_MENTION = regex.compile(r"(?<![\w/])(@\w+)@[a-z0-9.\-]*[a-z0-9]", regex.IGNORECASE)
_HASHTAG = regex.compile(r"(?<![\w&])[#\uFF03](\w+)")


def count_characters(text: str, rules: TextRules) -> int:
    """Code points; with `rules.url_length`, every http(s) URL counts that many."""
    if rules.url_length is None:
        return len(text)
    spans = twitter_text.url_spans(text, without_protocol=False)
    return len(text) - sum(end - start for start, end in spans) + rules.url_length * len(spans)


def count_mastodon(text: str, rules: TextRules) -> int:
    return count_characters(_REMOTE_MENTION.sub(r"\1", text), rules)


def count_graphemes(text: str, rules: TextRules) -> int:
    return len(_GRAPHEME.findall(text))


# What Threads counts as emoji: pictographs and the parts that build emoji sequences (skin tones,
# flags, joiners, the emoji presentation selector, keycaps, tag sequences). Counting a borderline
# character such as (c) by its bytes too errs on the side of a shorter text.
_EMOJI_PART = regex.compile(
    r"[\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}\u200d\ufe0f\u20e3\U000E0020-\U000E007F]"
)


def count_threads(text: str, rules: TextRules) -> int:
    """Characters, except that every emoji code point counts as its UTF-8 bytes (a thumbs-up 4,
    with a skin tone 8)."""
    return len(text) + sum(len(part.encode()) - 1 for part in _EMOJI_PART.findall(text))


def count_twitter(text: str, rules: TextRules) -> int:
    return twitter_text.weighted_length(text)


# TextRules.counting -> how that network counts
COUNTERS: dict[str, Callable[[str, TextRules], int]] = {
    "characters": count_characters,
    "mastodon": count_mastodon,
    "graphemes": count_graphemes,
    "twitter": count_twitter,
    "threads": count_threads,
}


def hashtags(text: str) -> list[str]:
    """Every hashtag as written (repeats included), not counting `#` inside a URL (`/#top`)."""
    text = unicodedata.normalize("NFC", text)
    inside_urls = [range(start, end) for start, end in twitter_text.url_spans(text)]
    return [
        match.group(1) for match in _HASHTAG.finditer(text) if not any(match.start() in span for span in inside_urls)
    ]


# --- validating -------------------------------------------------------------------------------


class MediaLike(Protocol):
    """Anything with a content type: `Media` below, `base.MediaItem`, a publishing media row.
    `size` (bytes), `width` and `height` are checked when the object has them."""

    @property
    def content_type(self) -> str: ...


@dataclass(frozen=True)
class Media:
    content_type: str
    size: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Problem:
    code: str  # stable, for programs: see PROBLEM_CODES
    message: str  # for people, in the active language


PROBLEM_CODES = (
    "empty",
    "too_long",
    "too_long_caption",
    "too_many_bytes",
    "invalid_characters",
    "too_many_hashtags",
    "media_required",
    "too_many_media",
    "too_many_videos",
    "mixed_media",
    "media_type",
    "media_too_large",
    "aspect_ratio",
)


@dataclass(frozen=True)
class Validation:
    network: str
    length: int  # as the network counts it
    max: int  # the limit that applies (Telegram: the caption limit when media is attached)
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "length": self.length,
            "max": self.max,
            "ok": self.ok,
            "problems": [{"code": problem.code, "message": problem.message} for problem in self.problems],
        }


def rules_for(network: str) -> TextRules:
    """The rules of `network`; UnknownNetwork for a key that is not in RULES."""
    try:
        return RULES[network]
    except KeyError:
        raise UnknownNetwork(network) from None


def label_for(network: str) -> str:
    rules_for(network)
    return LABELS[network]


def count(network: str, text: str) -> int:
    """The length of `text` as `network` counts it."""
    rules = rules_for(network)
    return COUNTERS[rules.counting](text, rules)


def validate(network: str, text: str, media: Sequence[MediaLike] = ()) -> Validation:
    """Check a post's text and media against `network`'s rules. Raises UnknownNetwork."""
    rules = rules_for(network)
    label = LABELS[network]
    length = COUNTERS[rules.counting](text, rules)
    caption_limit = rules.caption_max_length if media else None
    limit = caption_limit if caption_limit is not None else rules.max_length
    as_caption = caption_limit is not None
    problems = [
        *_text_problems(label, rules, text, length, limit, as_caption=as_caption),
        *_media_problems(label, rules, media),
    ]
    if not text.strip() and not media and not rules.media_required:
        problems.insert(0, Problem("empty", _("A post for %(network)s needs text or media") % {"network": label}))
    return Validation(network=network, length=length, max=limit, problems=tuple(problems))


def _text_problems(
    label: str, rules: TextRules, text: str, length: int, limit: int, *, as_caption: bool
) -> list[Problem]:
    problems = []
    if length > limit:  # the numbers are formatted for the message only (number_format is slow)
        values = {"network": label, "length": _number(length), "max": _number(limit)}
    if length > limit and as_caption:
        message = _("Too long for a %(network)s caption: %(length)s of %(max)s characters") % values
        problems.append(Problem("too_long_caption", message))
    elif length > limit:
        problems.append(Problem("too_long", _("Too long for %(network)s: %(length)s of %(max)s characters") % values))
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if rules.max_bytes is not None and size > rules.max_bytes:
        values = {"network": label, "size": _number(size), "max": _number(rules.max_bytes)}
        message = _("Too long for %(network)s: %(size)s of %(max)s bytes") % values
        problems.append(Problem("too_many_bytes", message))
    if not twitter_text.INVALID_CHARACTERS.isdisjoint(text):
        message = _("The text contains characters that cannot be posted (U+FFFE, U+FEFF or U+FFFF)")
        problems.append(Problem("invalid_characters", message))
    tags = len(hashtags(text)) if rules.max_hashtags is not None else 0
    if rules.max_hashtags is not None and tags > rules.max_hashtags:
        values = {"network": label, "max": _number(rules.max_hashtags), "count": _number(tags)}
        message = ngettext(
            "%(network)s allows at most %(max)s hashtag (this has %(count)s)",
            "%(network)s allows at most %(max)s hashtags (this has %(count)s)",
            rules.max_hashtags,
        )
        problems.append(Problem("too_many_hashtags", message % values))
    return problems


def _media_problems(label: str, rules: TextRules, media: Sequence[MediaLike]) -> list[Problem]:
    problems = []
    if rules.media_required and not media:
        message = _("%(network)s needs at least one image or video") % {"network": label}
        problems.append(Problem("media_required", message))
    if len(media) > rules.max_media:
        values = {"network": label, "max": _number(rules.max_media), "count": _number(len(media))}
        message = ngettext(
            "%(network)s allows at most %(max)s image or video (this has %(count)s)",
            "%(network)s allows at most %(max)s images or videos (this has %(count)s)",
            rules.max_media,
        )
        problems.append(Problem("too_many_media", message % values))
    videos = sum(1 for item in media if _is_video(item))
    if rules.max_videos is not None and videos > rules.max_videos:
        values = {"network": label, "max": _number(rules.max_videos), "count": _number(videos)}
        message = ngettext(
            "%(network)s allows at most %(max)s video in a post (this has %(count)s)",
            "%(network)s allows at most %(max)s videos in a post (this has %(count)s)",
            rules.max_videos,
        )
        problems.append(Problem("too_many_videos", message % values))
    if not rules.mix_images_and_videos and videos and videos < len(media):
        message = _("%(network)s does not allow images and videos in the same post") % {"network": label}
        problems.append(Problem("mixed_media", message))
    for number, item in enumerate(media, start=1):
        problems.extend(_item_problems(label, rules, number, item))
    return problems


def _item_problems(label: str, rules: TextRules, number: int, item: MediaLike) -> list[Problem]:
    content_type = item.content_type.lower()
    values: dict[str, Any] = {"network": label, "number": number, "type": content_type or "?"}
    if not rules.accepts(content_type):
        message = _("File %(number)s: %(network)s does not accept %(type)s files") % values
        return [Problem("media_type", message)]
    problems = []
    size: int | None = getattr(item, "size", None)
    limit = rules.max_file_bytes(content_type)
    if size is not None and limit is not None and size > limit:
        values |= {"size": _megabytes(size), "max": _megabytes(limit)}
        message = _("File %(number)s is too large for %(network)s: %(size)s MB, at most %(max)s MB") % values
        problems.append(Problem("media_too_large", message))
    width: int | None = getattr(item, "width", None)
    height: int | None = getattr(item, "height", None)
    tallest, widest = rules.image_aspect_min, rules.image_aspect_max
    if content_type.startswith("image/") and width and height and tallest and widest:
        ratio = width / height
        if not tallest[0] / tallest[1] <= ratio <= widest[0] / widest[1]:
            values |= {"min": _ratio(tallest), "max": _ratio(widest), "width": width, "height": height}
            message = _(
                "Image %(number)s: %(network)s needs an aspect ratio between %(min)s and %(max)s "
                "(this one is %(width)s by %(height)s pixels)"
            )
            problems.append(Problem("aspect_ratio", message % values))
    return problems


def _is_video(item: MediaLike) -> bool:
    return item.content_type.lower().startswith("video/")


def _number(value: int) -> str:
    return number_format(value, force_grouping=True)


def _megabytes(size: int) -> str:
    return number_format(size / MB, decimal_pos=1, force_grouping=True)


def _ratio(ratio: tuple[float, float]) -> str:
    return ":".join(number_format(part) for part in ratio)
