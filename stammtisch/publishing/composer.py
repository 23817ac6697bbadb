"""What the composer shows and checks besides the form: each channel's text checked against its
network's rules, a preview that looks like the network's post, and the purpose-mix warning.

The rules come from `stammtisch.networks.rules` (one place for every network's numbers); this
module only decides which network's rules apply to a channel and formats the results.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from stammtisch.core.models import Workspace
from stammtisch.networks import rules, twitter_text
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.publishing.media import for_rules
from stammtisch.publishing.models import MediaAsset, Post

PURPOSE_WINDOW = dt.timedelta(days=30)
PROMOTION_SHARE = 0.3  # more promotion than this (with the post being written) gets a warning

# A first comment carries no media, so what a network asks of a post's media (Instagram: an image
# or a video) is not asked of the comment. A post's own checks include every media problem.
MEDIA_NOTES = frozenset({"media_required"})
# Problems (rules.PROBLEM_CODES) with the post's images and videos rather than its text.
MEDIA_PROBLEMS = frozenset(
    {"media_required", "too_many_media", "too_many_videos", "mixed_media", "media_type"}
    | {"media_too_large", "aspect_ratio"}
)

_HASHTAG = re.compile(r"(?<![\w&#])#(\w+)")
_MENTION = re.compile(r"(?<![\w@/])@\w+(?:@[\w.-]*\w)?")
# Mentions that networks link, and where the link goes (the preview shows them as links). Bluesky
# handles are domain names ("@anna.bsky.social"); a Mastodon mention names the instance.
_BLUESKY_MENTION = re.compile(
    r"(?<![\w@/])@([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)", re.I
)
_MASTODON_MENTION = re.compile(r"(?<![\w@/])@(\w+)@([a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.I)
_X_MENTION = re.compile(r"(?<![\w@/])@(\w{1,15})(?![\w@])")
MENTION_LINKS: dict[str, tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = {
    "x": (_X_MENTION, lambda m: f"https://x.com/{m[1]}"),
    "bluesky": (_BLUESKY_MENTION, lambda m: f"https://bsky.app/profile/{m[1].lower()}"),
    "mastodon": (_MASTODON_MENTION, lambda m: f"https://{m[2].lower()}/@{m[1]}"),
}


def rules_key_for(channel: Channel) -> str | None:
    """The key in `rules.RULES` whose rules apply to `channel`: the network a Sandbox channel
    stands in for (a Sandbox "Instagram" is checked as Instagram), else its own network. None
    when Stammtisch has no rules for it (a network only tests register)."""
    for key in (channel.stands_in_for, channel.network):
        if key and key in rules.RULES:
            return key
    return None


def first_comment_supported(channel: Channel) -> bool:
    """Whether a first comment can be posted under this channel's posts: the network it is (or
    stands in for) allows one (`rules.FIRST_COMMENT`) and its connector posts it."""
    key = rules_key_for(channel)
    if key is None or key not in rules.FIRST_COMMENT:
        return False
    try:
        return channel.connector.supports_first_comment
    except UnknownNetwork:
        return False


@dataclass(frozen=True)
class FirstCommentCheck:
    """The first comment checked against the rules of the network it goes to (the same limits as
    a post there: a comment or reply on these networks allows at least as much)."""

    text: str
    network: str
    validation: rules.Validation

    @property
    def problems(self) -> list[str]:
        return [problem.message for problem in self.validation.problems if problem.code not in MEDIA_NOTES]

    @property
    def preview_html(self) -> SafeString:
        return preview_html(self.text, self.network)


def check_first_comment(channel: Channel, first_comment: str) -> FirstCommentCheck | None:
    """None when there is no first comment or the channel cannot post one."""
    key = rules_key_for(channel)
    if not first_comment.strip() or key is None or not first_comment_supported(channel):
        return None
    return FirstCommentCheck(text=first_comment, network=key, validation=rules.validate(key, first_comment))


def without_first_comment(channels: Iterable[Channel]) -> list[Channel]:
    """The channels that will not get a first comment (their networks cannot post one)."""
    return [channel for channel in channels if not first_comment_supported(channel)]


@dataclass(frozen=True)
class ChannelCheck:
    """One channel's text checked against the rules that apply to it."""

    channel: Channel
    text: str
    is_variant: bool  # the channel's own text rather than the post's
    network: str | None  # the rules key; None: no rules known, nothing checked
    validation: rules.Validation | None
    hashtags: tuple[str, ...]
    max_hashtags: int | None
    # The post's first comment as this channel would post it; None: no first comment, or the
    # channel's network cannot post one (see `first_comment_supported`).
    first_comment: FirstCommentCheck | None = None
    media: tuple[MediaAsset, ...] = ()  # the post's images and videos, checked with the text

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[str]:
        """What the network would refuse, in the active language (the first comment's included)."""
        found = self.validation.problems if self.validation else ()
        problems = [problem.message for problem in found]
        if self.first_comment is not None:
            problems += [_("First comment: %(problem)s") % {"problem": p} for p in self.first_comment.problems]
        return problems

    @property
    def media_problems(self) -> list[str]:
        """The problems with the post's images and videos on this network."""
        found = self.validation.problems if self.validation else ()
        return [problem.message for problem in found if problem.code in MEDIA_PROBLEMS]

    @property
    def mention_note(self) -> str:
        """Said under the preview when the text has an @name the network will not turn into a tag."""
        if self.network not in rules.UNTAGGED_MENTIONS or not _MENTION.search(self.text):
            return ""
        return _(
            "%(network)s does not tag anyone from an @name in text posted through its API: it stays "
            "plain text and nobody is notified."
        ) % {"network": self.network_label}

    @property
    def network_label(self) -> str:
        return rules.label_for(self.network) if self.network else str(self.channel.get_network_display())

    @property
    def initial(self) -> str:
        name = self.channel.display_name.strip()
        return name[:1].upper() if name else "?"

    @property
    def preview_html(self) -> SafeString:
        return preview_html(self.text, self.network)

    @property
    def too_many_hashtags(self) -> bool:
        return self.max_hashtags is not None and len(self.hashtags) > self.max_hashtags


def as_sent(text: str, link: str) -> str:
    """`text` as the publisher sends it: the post's `link` replaced by its delivery's short link
    when short links are made for it (links/auto.py). Every short link of this instance has the
    same length, so a stand-in of that length is counted (Bluesky counts a link's characters)."""
    if not link or link not in text:
        return text
    from stammtisch.links import auto  # links imports publishing: imported when needed

    return auto.outgoing_text(text, link, auto.short_url_stand_in(link))


def check_channel(
    channel: Channel, text: str, variant: str = "", media: Sequence[MediaAsset] = (), link: str = ""
) -> ChannelCheck:
    """`variant` is the channel's own text; empty (or only spaces) means the post's text.
    `media` are the post's files, in order (every channel gets the same). `link`: the post's
    link, counted as the short link that replaces it (`as_sent`)."""
    own = bool(variant.strip())
    body = variant if own else text
    key = rules_key_for(channel)
    validation = rules.validate(key, as_sent(body, link), for_rules(media)) if key else None
    limit = rules.RULES[key].max_hashtags if key else None
    return ChannelCheck(
        channel=channel,
        text=body,
        is_variant=own,
        network=key,
        validation=validation,
        hashtags=tuple(rules.hashtags(body)),
        max_hashtags=limit,
        media=tuple(media),
    )


def check_channels(
    channels: Iterable[Channel],
    text: str,
    variants: Mapping[int, str],
    *,
    first_comment: str = "",
    media: Sequence[MediaAsset] = (),
    link: str = "",
) -> list[ChannelCheck]:
    checks = [check_channel(channel, text, variants.get(channel.pk, ""), media, link) for channel in channels]
    if first_comment.strip():
        checks = [replace(check, first_comment=check_first_comment(check.channel, first_comment)) for check in checks]
    return checks


def failing(checks: Iterable[ChannelCheck]) -> list[ChannelCheck]:
    return [check for check in checks if not check.ok]


def problem_summary(check: ChannelCheck) -> str:
    """One line naming the channel and its problems, for error messages."""
    return _("%(channel)s: %(problems)s") % {
        "channel": check.channel.display_name,
        "problems": "; ".join(check.problems),
    }


def preview_html(text: str, network: str | None = None) -> SafeString:
    """`text` escaped, with links, hashtags and mentions marked up. Every piece of the user's
    text is escaped before any markup is added; line breaks stay (CSS `white-space: pre-wrap`).

    Mentions as `network` sees them: links to the profile where the network links them (X,
    Bluesky, Mastodon: `MENTION_LINKS`), plain text where an @name posted through the API tags
    nobody (`rules.UNTAGGED_MENTIONS`), otherwise highlighted."""
    marks: list[tuple[int, int, str, str]] = []  # start, end, kind, link
    for start, end in twitter_text.url_spans(text, without_protocol=False):
        marks.append((start, end, "link", ""))

    def free(start: int, end: int) -> bool:
        return not any(start < m_end and m_start < end for m_start, m_end, _kind, _url in marks)

    for match in _HASHTAG.finditer(text):
        if free(match.start(), match.end()):
            marks.append((match.start(), match.end(), "hashtag", ""))
    if network in MENTION_LINKS:
        pattern, profile = MENTION_LINKS[network]
        for match in pattern.finditer(text):
            if free(match.start(), match.end()):
                marks.append((match.start(), match.end(), "mention", profile(match)))
    elif network not in rules.UNTAGGED_MENTIONS:
        for match in _MENTION.finditer(text):
            if free(match.start(), match.end()):
                marks.append((match.start(), match.end(), "mention", ""))
    marks.sort()
    parts: list[str] = []
    position = 0
    for start, end, kind, url in marks:
        parts.append(escape(text[position:start]))
        if url:
            parts.append(
                f'<a class="pv-{kind}" href="{escape(url)}" rel="noopener noreferrer" target="_blank">'
                f"{escape(text[start:end])}</a>"
            )
        else:
            parts.append(f'<span class="pv-{kind}">{escape(text[start:end])}</span>')
        position = end
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))  # every piece of the user's text above is escaped


@dataclass(frozen=True)
class PurposeMix:
    promotion: int  # with the post being written
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.promotion / self.total) if self.total else 0

    @property
    def drifting(self) -> bool:
        return self.total > 0 and self.promotion / self.total > PROMOTION_SHARE


def purpose_mix(
    workspace: Workspace, purpose: str, *, now: dt.datetime | None = None, editing: int | None = None
) -> PurposeMix:
    """The workspace's posts of the last 30 days (by their time, or when written for a draft
    without one; cancelled posts left out) plus the post being written, in one query. `editing`:
    the id of the post being edited, counted once, with the purpose chosen now."""
    now = now or timezone.now()
    since = now - PURPOSE_WINDOW
    recent = Q(scheduled_at__gte=since, scheduled_at__lte=now) | Q(
        scheduled_at__isnull=True, created_at__gte=since, created_at__lte=now
    )
    counts = (
        Post.objects.filter(recent, workspace=workspace)
        .exclude(status=Post.Status.CANCELLED)
        .exclude(pk=editing or 0)
        .aggregate(total=Count("pk"), promotion=Count("pk", filter=Q(purpose=Post.Purpose.PROMOTION)))
    )
    this = 1 if purpose == Post.Purpose.PROMOTION else 0
    return PurposeMix(promotion=counts["promotion"] + this, total=counts["total"] + 1)


# --- Mention help ------------------------------------------------------------------------------

MENTION_LIMIT = 8


@dataclass(frozen=True)
class MentionSuggestion:
    """A handle the workspace knows, written the way its network writes a mention."""

    mention: str  # what goes into the text, "@" included
    name: str
    network: str  # the network the handle lives on (a channel's `network`, "sandbox" for personas)
    source: str  # "channel" (one of the workspace's own channels) or "audience" (someone who interacted)

    @property
    def network_label(self) -> str:
        return rules.LABELS.get(self.network, self.network.title())


def mention_text(network: str, handle: str) -> str:
    """A handle as a mention on `network`. Handles are stored in the network's full form
    (Mastodon "user@instance", Bluesky "name.bsky.social", X "name"), so this adds the "@"."""
    return "@" + handle.strip().lstrip("@")


def _own_channels(workspace: Workspace, prefix: str, networks: frozenset[str]) -> list[MentionSuggestion]:
    rows = Channel.objects.filter(workspace=workspace).filter(
        Q(handle__istartswith=prefix) | Q(display_name__icontains=prefix)
    )
    if networks:
        rows = rows.filter(network__in=networks)
    return [
        MentionSuggestion(mention_text(c.network, c.handle), c.display_name, c.network, "channel")
        for c in rows.order_by("display_name")[:MENTION_LIMIT]
    ]


def _sandbox_audience(workspace: Workspace, prefix: str, networks: frozenset[str]) -> list[MentionSuggestion]:
    """People of the simulated audience who commented, replied, asked, liked, shared or followed
    on one of this workspace's Sandbox channels (up to the Sandbox clock's now), the most active
    first. Read from the Sandbox's own tables until the people issue stores interactions."""
    if networks and "sandbox" not in networks:
        return []
    handles = list(Channel.objects.filter(workspace=workspace, network="sandbox").values_list("handle", flat=True))
    if not handles:
        return []
    from stammtisch.networks.sandbox import clock
    from stammtisch.networks.sandbox.models import SandboxEvent, SandboxPersona

    kinds = [SandboxEvent.Kind.COMMENT, SandboxEvent.Kind.QUESTION, SandboxEvent.Kind.REPLY]
    kinds += [SandboxEvent.Kind.LIKE, SandboxEvent.Kind.SHARE, SandboxEvent.Kind.FOLLOW]
    people = (
        SandboxPersona.objects.filter(
            events__account__handle__in=handles, events__kind__in=kinds, events__occurs_at__lte=clock.now()
        )
        .filter(Q(handle__istartswith=prefix) | Q(name__icontains=prefix))
        .annotate(interactions=Count("events"))
        .order_by("-interactions", "handle")
        .values_list("handle", "name")[:MENTION_LIMIT]
    )
    return [MentionSuggestion(mention_text("sandbox", handle), name, "sandbox", "audience") for handle, name in people]


# Where suggestions come from, in order; each takes (workspace, prefix, networks) and must only
# return handles of that workspace. The people and inbox issues add their sources here.
MENTION_SOURCES: list[Callable[[Workspace, str, frozenset[str]], list[MentionSuggestion]]] = [
    _own_channels,
    _sandbox_audience,
]


def mention_suggestions(
    workspace: Workspace, prefix: str, networks: Iterable[str] = (), *, limit: int = MENTION_LIMIT
) -> list[MentionSuggestion]:
    """Handles this workspace knows whose handle starts with, or whose name contains, `prefix`
    (without the "@"), on `networks` (channel network keys; empty: every network). Never another
    workspace's people: every source filters by `workspace`."""
    prefix = prefix.strip().lstrip("@")[:60]
    wanted = frozenset(networks)
    found: list[MentionSuggestion] = []
    seen: set[tuple[str, str]] = set()
    for source in MENTION_SOURCES:
        for suggestion in source(workspace, prefix, wanted):
            key = (suggestion.network, suggestion.mention.lower())
            if key not in seen:
                seen.add(key)
                found.append(suggestion)
    return found[:limit]
