"""The real publisher publishing deliveries to a Mastodon channel, HTTP faked at the transport."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import time_machine

from stammtisch.core.actions import Actor
from stammtisch.networks.mastodon.tests.conftest import fixture
from stammtisch.networks.models import Channel
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, DeliveryAttempt

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
State = Delivery.State


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def schedule(cast, channel) -> Delivery:
    post = do_create_post(
        Actor.system("test"), cast.workspace, text="Heute gibt es Maultaschen!", channels=[channel], scheduled_at=NOON
    )
    return Delivery.objects.get(post=post)


def test_the_publisher_posts_once_with_the_deliverys_idempotency_key(cast, mastodon_channel, instance, frozen) -> None:
    instance.on("POST", "/api/v1/statuses", httpx.Response(200, json=fixture("status.json")))
    delivery = schedule(cast, mastodon_channel)

    assert publisher.run_once("w1") == 1
    assert publisher.run_once("w1") == 0  # nothing left to do

    delivery.refresh_from_db()
    assert delivery.state == State.PUBLISHED
    assert delivery.remote_id == "113254962155278888"
    assert delivery.remote_url == "https://social.example/@koenigsbau/113254962155278888"
    [request] = instance.sent("POST", "/api/v1/statuses")
    assert request.headers["Idempotency-Key"] == str(delivery.idempotency_key)


def test_after_a_timeout_the_publisher_finds_the_status_instead_of_posting_twice(
    cast, mastodon_channel, instance, frozen
) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    instance.on("POST", "/api/v1/statuses", timeout)
    instance.on("GET", "/api/v1/accounts/109876/statuses", httpx.Response(200, json=[fixture("status.json")]))
    instance.on("GET", "/api/v1/statuses/113254962155278888/source", httpx.Response(200, json=fixture("source.json")))
    delivery = schedule(cast, mastodon_channel)

    publisher.run_once("w1")
    delivery.refresh_from_db()
    assert delivery.state == State.UNKNOWN

    frozen.shift(dt.timedelta(minutes=1))
    publisher.run_once("w1")

    delivery.refresh_from_db()
    assert delivery.state == State.PUBLISHED
    assert delivery.remote_id == "113254962155278888"
    assert len(instance.sent("POST", "/api/v1/statuses")) == 1  # exactly once
    kinds = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("pk").values_list("kind", "outcome"))
    assert kinds == [("publish", "unknown"), ("check", "found")]


def test_a_revoked_token_fails_the_delivery_and_asks_for_reconnection(cast, mastodon_channel, instance, frozen) -> None:
    instance.on("POST", "/api/v1/statuses", httpx.Response(401, json=fixture("error_401.json")))
    delivery = schedule(cast, mastodon_channel)
    publisher.run_once("w1")
    delivery.refresh_from_db()
    mastodon_channel.refresh_from_db()
    assert delivery.state == State.FAILED
    assert mastodon_channel.health == Channel.Health.NEEDS_RECONNECT
    assert mastodon_channel.credentials  # the token is kept; reconnecting replaces it


def test_a_short_outage_never_disconnects_the_channel(cast, mastodon_channel, instance, frozen) -> None:
    instance.on("POST", "/api/v1/statuses", httpx.Response(502, text="Bad Gateway"))
    delivery = schedule(cast, mastodon_channel)
    publisher.run_once("w1")
    delivery.refresh_from_db()
    mastodon_channel.refresh_from_db()
    assert delivery.state == State.RETRY_WAIT
    assert mastodon_channel.health == Channel.Health.OK
