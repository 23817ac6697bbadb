"""Helpers for the audience stories: a Sandbox channel of alice's café and inbox rows on it, as
the inbox's sync would store them."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from stammtisch.inbox.models import Conversation, Interaction, Message
from stammtisch.networks.models import Channel

NOW = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


@pytest.fixture
def channel(cast: Any) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle="koenigsbau",
        display_name="Café Königsbau",
        remote_account_id="acct-us",
        credentials={"token": "t"},
    )


def conversation(channel: Channel, root: str = "post-1", kind: str = "comments") -> Conversation:
    found, _created = Conversation.objects.get_or_create(
        workspace=channel.workspace, channel=channel, kind=kind, root_remote_id=root
    )
    return found


def message(
    channel: Channel,
    *,
    author_id: str = "u-max",
    handle: str = "maxi",
    name: str = "Max Mustermann",
    text: str = "Lecker!",
    at: dt.datetime = NOW,
    kind: str = "comment",
    sentiment: str = "",
    intent: str = "",
    language: str = "de",
    root: str = "post-1",
    direction: str = "in",
    parent: str = "",
    avatar: str = "",
) -> Message:
    thread = conversation(channel, root, "message" if kind == "message" else "comments")
    return Message.objects.create(
        workspace=channel.workspace,
        conversation=thread,
        channel=channel,
        remote_id=f"m-{next(_ids)}",
        parent_remote_id=parent,
        kind=kind,
        author_id=author_id,
        author_handle=handle,
        author_name=name,
        author_avatar_url=avatar,
        text=text,
        occurred_at=at,
        direction=direction,
        sentiment=sentiment,
        intent=intent,
        language=language,
    )


def interaction(
    channel: Channel, kind: str = "like", *, author_id: str = "u-max", handle: str = "maxi", at: dt.datetime = NOW
) -> Interaction:
    return Interaction.objects.create(
        workspace=channel.workspace,
        channel=channel,
        kind=kind,
        remote_id=f"i-{next(_ids)}",
        author_id=author_id,
        author_handle=handle,
        author_name="Max Mustermann",
        occurred_at=at,
    )


def answer(channel: Channel, to: Message, at: dt.datetime = NOW) -> Message:
    return message(
        channel,
        author_id="acct-us",
        handle="koenigsbau",
        name="Café Königsbau",
        text="Danke!",
        at=at,
        kind="reply",
        direction="out",
        parent=to.remote_id,
        root=to.conversation.root_remote_id,
    )
