"""Fixtures of the notification stories: a channel of alice's café, failed deliveries, the clock."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from stammtisch.core.actions import Actor
from stammtisch.networks.models import Channel
from stammtisch.publishing import signals
from stammtisch.publishing.models import Delivery, Post

# Monday 1 June 2026, 12:00 in Stuttgart (Europe/Berlin, summer time).
NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def channel(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="cafe-fb", display_name="Café Facebook"
    )


def failed_delivery(cast, channel, author, text="Heute gibt es Maultaschen!") -> Delivery:
    post = Post.objects.create(workspace=cast.workspace, author=author, text=text, status=Post.Status.FAILED)
    return Delivery.objects.create(post=post, channel=channel, text=text, state=Delivery.State.FAILED)


def send_failed(delivery: Delivery, error: str = "Sandbox: 503 Service Unavailable") -> None:
    signals.delivery_failed.send(Delivery, delivery=delivery, error=error)


def send_approval_requested(post: Post, user) -> None:
    signals.approval_requested.send(Post, post=post, actor=Actor(user=user, label=user.username))


def send_approval_decided(post: Post, user, kind: str, comment: str = "") -> None:
    signals.approval_decided.send(
        Post, post=post, actor=Actor(user=user, label=user.username), kind=kind, comment=comment
    )
