"""A short network hiccup never disconnects a channel: only an auth error does (issue 8)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from stammtisch.core.actions import Actor
from stammtisch.networks.base import NetworkError
from stammtisch.networks.models import Channel
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
State = Delivery.State


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (NetworkError("503 Service Unavailable"), State.RETRY_WAIT),
        (NetworkError("502 Bad Gateway", retry_after=30), State.RETRY_WAIT),
        (NetworkError("429 Too Many Requests", retry_after=900), State.RETRY_WAIT),
        (NetworkError("timed out after sending", outcome_unknown=True), State.UNKNOWN),
        (NetworkError("422 text too long", permanent=True), State.FAILED),
    ],
    ids=["5xx", "5xx-retry-after", "429", "timeout", "permanent-not-auth"],
)
def test_a_network_hiccup_never_changes_the_channels_health(cast, channel, fake_network, frozen, error, state):
    post = do_create_post(Actor.system("test"), cast.workspace, text="Hallo", channels=[channel], scheduled_at=NOON)
    fake_network.script.append(error)

    publisher.run_once("w1")

    assert Delivery.objects.get(post=post).state == state
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK
    assert channel.health_message == ""
    assert channel.health_checked_at is None


def test_only_an_auth_error_asks_for_reconnection(cast, channel, fake_network, frozen):
    do_create_post(Actor.system("test"), cast.workspace, text="Hallo", channels=[channel], scheduled_at=NOON)
    fake_network.script.append(NetworkError("401 invalid token", auth=True))

    publisher.run_once("w1")

    channel.refresh_from_db()
    assert channel.health == Channel.Health.NEEDS_RECONNECT
    assert channel.health_checked_at == NOON
