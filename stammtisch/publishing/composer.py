"""What the composer shows and checks besides the form: each channel's text checked against its
network's rules, a preview that looks like the network's post, and the purpose-mix warning.

The rules come from `stammtisch.networks.rules` (one place for every network's numbers); this
module only decides which network's rules apply to a channel and formats the results.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from stammtisch.core.models import Workspace
from stammtisch.networks import rules, twitter_text
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Post

PURPOSE_WINDOW = dt.timedelta(days=30)
PROMOTION_SHARE = 0.3  # more promotion than this (with the post being written) gets a warning

# The composer cannot attach media yet, so a network that needs an image (Instagram) is told as a
# note, not as a problem that blocks scheduling: the Sandbox channels that stand in for it work.
MEDIA_NOTES = frozenset({"media_required"})

_HASHTAG = re.compile(r"(?<![\w&#])#(\w+)")
_MENTION = re.compile(r"(?<![\w@/])@\w+(?:@[\w.-]*\w)?")


def rules_key_for(channel: Channel) -> str | None:
    """The key in `rules.RULES` whose rules apply to `channel`: the network a Sandbox channel
    stands in for (a Sandbox "Instagram" is checked as Instagram), else its own network. None
    when Stammtisch has no rules for it (a network only tests register)."""
    for key in (channel.stands_in_for, channel.network):
        if key and key in rules.RULES:
            return key
    return None


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

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[str]:
        """What the network would refuse, in the active language."""
        found = self.validation.problems if self.validation else ()
        return [problem.message for problem in found if problem.code not in MEDIA_NOTES]

    @property
    def notes(self) -> list[str]:
        found = self.validation.problems if self.validation else ()
        return [problem.message for problem in found if problem.code in MEDIA_NOTES]

    @property
    def network_label(self) -> str:
        return rules.label_for(self.network) if self.network else str(self.channel.get_network_display())

    @property
    def initial(self) -> str:
        name = self.channel.display_name.strip()
        return name[:1].upper() if name else "?"

    @property
    def preview_html(self) -> SafeString:
        return preview_html(self.text)

    @property
    def too_many_hashtags(self) -> bool:
        return self.max_hashtags is not None and len(self.hashtags) > self.max_hashtags


def check_channel(channel: Channel, text: str, variant: str = "") -> ChannelCheck:
    """`variant` is the channel's own text; empty (or only spaces) means the post's text."""
    own = bool(variant.strip())
    body = variant if own else text
    key = rules_key_for(channel)
    validation = rules.validate(key, body) if key else None
    limit = rules.RULES[key].max_hashtags if key else None
    return ChannelCheck(
        channel=channel,
        text=body,
        is_variant=own,
        network=key,
        validation=validation,
        hashtags=tuple(rules.hashtags(body)),
        max_hashtags=limit,
    )


def check_channels(channels: Iterable[Channel], text: str, variants: Mapping[int, str]) -> list[ChannelCheck]:
    return [check_channel(channel, text, variants.get(channel.pk, "")) for channel in channels]


def failing(checks: Iterable[ChannelCheck]) -> list[ChannelCheck]:
    return [check for check in checks if not check.ok]


def problem_summary(check: ChannelCheck) -> str:
    """One line naming the channel and its problems, for error messages."""
    return _("%(channel)s: %(problems)s") % {
        "channel": check.channel.display_name,
        "problems": "; ".join(check.problems),
    }


def preview_html(text: str) -> SafeString:
    """`text` escaped, with links, hashtags and mentions marked up. Every piece of the user's
    text is escaped before any markup is added; line breaks stay (CSS `white-space: pre-wrap`)."""
    marks: list[tuple[int, int, str]] = []
    for start, end in twitter_text.url_spans(text, without_protocol=False):
        marks.append((start, end, "link"))

    def free(start: int, end: int) -> bool:
        return not any(start < m_end and m_start < end for m_start, m_end, _kind in marks)

    for pattern, kind in ((_HASHTAG, "hashtag"), (_MENTION, "mention")):
        for match in pattern.finditer(text):
            if free(match.start(), match.end()):
                marks.append((match.start(), match.end(), kind))
    marks.sort()
    parts: list[str] = []
    position = 0
    for start, end, kind in marks:
        parts.append(escape(text[position:start]))
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


def purpose_mix(workspace: Workspace, purpose: str, *, now: dt.datetime | None = None) -> PurposeMix:
    """The workspace's posts of the last 30 days (by their time, or when written for a draft
    without one; cancelled posts left out) plus the post being written, in one query."""
    now = now or timezone.now()
    since = now - PURPOSE_WINDOW
    recent = Q(scheduled_at__gte=since, scheduled_at__lte=now) | Q(
        scheduled_at__isnull=True, created_at__gte=since, created_at__lte=now
    )
    counts = (
        Post.objects.filter(recent, workspace=workspace)
        .exclude(status=Post.Status.CANCELLED)
        .aggregate(total=Count("pk"), promotion=Count("pk", filter=Q(purpose=Post.Purpose.PROMOTION)))
    )
    this = 1 if purpose == Post.Purpose.PROMOTION else 0
    return PurposeMix(promotion=counts["promotion"] + this, total=counts["total"] + 1)
