"""What the public pages show: the link-in-bio page, the "follow us" block and the promo block."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from stammtisch.core.models import Workspace
from stammtisch.links.actions import short_url
from stammtisch.links.models import ShortLink, with_params
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Delivery

# Where a channel's profile lives, by network (networks without public profile pages: none).
# TODO(contract): this belongs on the connector contract as `profile_url(channel)`.
PROFILE_URLS = {
    "bluesky": "https://bsky.app/profile/{handle}",
    "x": "https://x.com/{handle}",
    "threads": "https://www.threads.net/@{handle}",
    "instagram": "https://www.instagram.com/{handle}/",
    "telegram": "https://t.me/{handle}",
}


def profile_url(channel: Channel) -> str:
    handle = channel.handle.lstrip("@")
    if channel.network == "sandbox":
        return f"{settings.BASE_URL}{reverse('sandbox:feed', args=[handle])}"
    if channel.network == "mastodon" and "@" in handle:
        user, server = handle.split("@", 1)
        return f"https://{server}/@{user}"
    pattern = PROFILE_URLS.get(channel.network)
    return pattern.format(handle=handle) if pattern else ""


@dataclass(frozen=True)
class FollowItem:
    channel: Channel
    url: str
    followers: int | None


def follow_items(workspace: Workspace, campaign: str = "follow") -> list[FollowItem]:
    """The workspace's connected channels with their latest follower count (analytics)."""
    from stammtisch.analytics.models import ChannelMetricSnapshot

    channels = list(
        Channel.objects.filter(workspace=workspace)
        .exclude(health=Channel.Health.DISCONNECTED)
        .order_by("network", "pk")
    )
    since = timezone.now().date() - dt.timedelta(days=90)
    latest: dict[int, int] = {}
    snapshots = (
        ChannelMetricSnapshot.objects.filter(channel__in=channels, followers__isnull=False, day__gte=since)
        .order_by("channel_id", "-day", "-observed_at")
        .values_list("channel_id", "followers")
    )
    for channel_id, followers in snapshots:
        if followers is not None:
            latest.setdefault(channel_id, followers)
    utm = {"utm_source": "website", "utm_medium": "embed", "utm_campaign": campaign}
    items = []
    for channel in channels:
        url = profile_url(channel)
        items.append(
            FollowItem(channel=channel, url=with_params(url, utm) if url else "", followers=latest.get(channel.pk))
        )
    return items


@dataclass(frozen=True)
class LinkItem:
    title: str
    url: str
    text: str


def _live(queryset: object) -> object:
    now = timezone.now()
    from django.db.models import Q

    return queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))  # type: ignore[attr-defined]


def bio_links(workspace: Workspace) -> list[LinkItem]:
    links = _live(ShortLink.objects.filter(workspace=workspace, in_bio=True).select_related("post"))
    return [LinkItem(title=link.title or link.target, url=short_url(link.code), text="") for link in links]  # type: ignore[attr-defined]


def promo_items(workspace: Workspace) -> list[LinkItem]:
    links = _live(ShortLink.objects.filter(workspace=workspace, in_promo=True).select_related("post"))
    return [
        LinkItem(
            title=link.title or (link.post.text[:80] if link.post else link.target),
            url=short_url(link.code),
            text=link.post.text[:240] if link.post else "",
        )
        for link in links[:6]  # type: ignore[index]
    ]


def latest_posts(workspace: Workspace, count: int = 6) -> list[LinkItem]:
    """The latest published posts, one per post, with their short link where there is one."""
    deliveries = (
        Delivery.objects.filter(post__workspace=workspace, state=Delivery.State.PUBLISHED)
        .exclude(remote_url="")
        .select_related("post", "channel")
        .order_by("-published_at", "-pk")[: count * 5]
    )
    shorts = dict(ShortLink.objects.filter(delivery__in=deliveries).values_list("delivery_id", "code"))
    seen: set[int] = set()
    items = []
    for delivery in deliveries:
        if delivery.post_id in seen:
            continue
        seen.add(delivery.post_id)
        code = shorts.get(delivery.pk)
        url = short_url(code) if code else delivery.remote_url
        items.append(LinkItem(title=delivery.channel.display_name, url=url, text=delivery.post.text[:240]))
        if len(items) == count:
            break
    return items
