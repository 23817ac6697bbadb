"""Small builders of raw rows for the rollup, KPI and dashboard tests (Europe/Berlin days)."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

from stammtisch.analytics.models import PostMetricSnapshot
from stammtisch.core.models import Workspace
from stammtisch.inbox.models import Conversation, Message
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Delivery, Post

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
DAY = dt.date(2026, 6, 10)  # a Wednesday
_ids = itertools.count(1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A wall-clock time in Berlin (the workspaces' default zone)."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BERLIN)


def channel(workspace: Workspace, handle: str = "koenigsbau") -> Channel:
    return Channel.objects.create(workspace=workspace, network="sandbox", handle=handle, display_name=handle.title())


def message(
    workspace: Workspace,
    on: Channel,
    when: dt.datetime,
    *,
    sentiment: str = "",
    intent: str = "",
    direction: str = "in",
    conversation: Conversation | None = None,
) -> Message:
    n = next(_ids)
    conversation = conversation or Conversation.objects.create(
        workspace=workspace, channel=on, kind="comments", root_remote_id=f"root-{n}", intent=intent
    )
    return Message.objects.create(
        workspace=workspace,
        conversation=conversation,
        channel=on,
        remote_id=f"m-{n}",
        occurred_at=when,
        direction=direction,
        sentiment=sentiment,
        intent=intent,
        text="Hallo",
    )


def published(
    workspace: Workspace,
    on: Channel,
    when: dt.datetime,
    *,
    pillar: str = "",
    purpose: str = "value",
    impressions: int | None = None,
    likes: int = 0,
) -> Delivery:
    post = Post.objects.create(
        workspace=workspace, text="Guten Morgen", pillar=pillar, purpose=purpose, status="published"
    )
    delivery = Delivery.objects.create(post=post, channel=on, text=post.text, state="published", published_at=when)
    if impressions is not None:
        PostMetricSnapshot.objects.create(
            workspace=workspace,
            delivery=delivery,
            observed_at=when + dt.timedelta(days=1),
            impressions=impressions,
            likes=likes,
            comments=0,
        )
    return delivery


def clicks(workspace: Workspace, delivery: Delivery, when: dt.datetime, count: int = 1, *, bot: bool = False) -> None:
    """`count` clicks on the delivery's short link (one per visitor)."""
    from stammtisch.links.models import Click, ShortLink

    link, _created = ShortLink.objects.get_or_create(
        workspace=workspace,
        delivery=delivery,
        defaults={"target": "https://example.org/", "post": delivery.post, "channel": delivery.channel},
    )
    for _n in range(count):
        Click.objects.create(
            link=link,
            workspace=workspace,
            post=delivery.post,
            channel=delivery.channel,
            occurred_at=when,
            visitor_hash=f"v{next(_ids)}",
            is_bot=bot,
        )


def conversion(workspace: Workspace, delivery: Delivery, when: dt.datetime, kind: str = "signup") -> None:
    from stammtisch.links.models import Conversion

    Conversion.objects.create(
        workspace=workspace, kind=kind, source="snippet", post=delivery.post, channel=delivery.channel, occurred_at=when
    )


def followers(workspace: Workspace, on: Channel, day: dt.date, count: int) -> None:
    from stammtisch.analytics.models import ChannelMetricSnapshot

    ChannelMetricSnapshot.objects.create(
        workspace=workspace, channel=on, day=day, observed_at=at(day, 23), followers=count
    )


def answered(workspace: Workspace, on: Channel, received: dt.datetime, minutes: float) -> None:
    """A conversation whose first message came in at `received` and was answered `minutes` later."""
    first = message(workspace, on, received, intent="question")
    first.conversation.first_response_at = received + dt.timedelta(minutes=minutes)
    first.conversation.save()
