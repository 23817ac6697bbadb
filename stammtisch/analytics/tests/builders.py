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
