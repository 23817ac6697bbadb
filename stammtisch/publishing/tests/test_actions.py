"""Posts and deliveries: creating, publishing now, cancelling, retrying."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.base import NetworkError
from stammtisch.networks.models import Channel
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import (
    do_cancel_post,
    do_create_post,
    do_publish_now,
    do_retry_delivery,
)
from stammtisch.publishing.models import Delivery, Post

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
State = Delivery.State


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def as_user(user) -> Actor:
    return Actor(user=user, label=user.username)


def test_bob_schedules_a_post_on_two_channels(cast, channel, second_channel, frozen):
    at = NOON + dt.timedelta(days=1)
    post = do_create_post(
        as_user(cast.bob),
        cast.workspace,
        text="Sonntagsbrunch ab 10 Uhr!",
        channels=[channel, second_channel],
        scheduled_at=at,
        link="https://example.org/brunch",
        pillar="Brunch",
        purpose=Post.Purpose.PROMOTION,
    )

    assert post.status == Post.Status.SCHEDULED
    assert post.author == cast.bob
    deliveries = list(post.deliveries.order_by("channel_id"))
    assert [(d.channel, d.text, d.due_at, d.state) for d in deliveries] == [
        (channel, "Sonntagsbrunch ab 10 Uhr!", at, State.SCHEDULED),
        (second_channel, "Sonntagsbrunch ab 10 Uhr!", at, State.SCHEDULED),
    ]
    event = AuditEvent.objects.get(action="post.schedule")
    assert event.actor == cast.bob and event.data["channels"] == [channel.pk, second_channel.pk]


def test_carol_the_reviewer_cannot_create_posts(cast, channel):
    with pytest.raises(PermissionDenied):
        do_create_post(as_user(cast.carol), cast.workspace, text="Hallo", channels=[channel])


def test_charlie_cannot_post_to_alices_channel(cast, channel):
    with pytest.raises(PermissionDenied):
        do_create_post(as_user(cast.charlie), cast.workspace, text="Hallo", channels=[channel])
    with pytest.raises(ActionError):
        do_create_post(
            Actor.system(),
            cast.other_workspace,
            text="Hallo",
            channels=[channel],
            scheduled_at=NOON,
        )


def test_a_draft_is_published_now(cast, channel, fake_network, frozen):
    post = do_create_post(as_user(cast.alice), cast.workspace, text="Kässpätzle!", channels=[channel])
    assert post.status == Post.Status.DRAFT

    assert do_publish_now(as_user(cast.alice), post) == 1
    post.refresh_from_db()
    assert post.status == Post.Status.SCHEDULED
    assert post.scheduled_at == NOON
    publisher.run_once("w1")

    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED
    assert fake_network.publishes() == 1


def test_cancel_before_the_claim_means_nothing_is_published(cast, channel, fake_network, frozen):
    post = do_create_post(Actor.system(), cast.workspace, text="Weindorf", channels=[channel], scheduled_at=NOON)

    assert do_cancel_post(as_user(cast.bob), post) == (1, 0)

    assert publisher.run_once("w1") == 0
    assert fake_network.calls == []
    post.refresh_from_db()
    assert post.status == Post.Status.CANCELLED
    assert AuditEvent.objects.filter(action="post.cancel").exists()


def test_a_claimed_delivery_cannot_be_cancelled_under_the_worker(cast, channel, second_channel, fake_network, frozen):
    post = do_create_post(
        Actor.system(),
        cast.workspace,
        text="Stäffele",
        channels=[channel, second_channel],
        scheduled_at=NOON,
    )
    [claimed, *_rest] = publisher.claim("w1", limit=1)

    cancelled, in_flight = do_cancel_post(as_user(cast.bob), post)

    assert (cancelled, in_flight) == (1, 1)
    assert publisher.process(claimed, "w1") == State.PUBLISHED
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED  # on the one channel it was not cancelled on
    assert sorted(post.deliveries.values_list("state", flat=True)) == [
        State.CANCELLED,
        State.PUBLISHED,
    ]


def test_a_failed_delivery_is_retried_after_a_check(cast, channel, fake_network, frozen):
    post = do_create_post(Actor.system(), cast.workspace, text="Maultaschen", channels=[channel], scheduled_at=NOON)
    fake_network.script.append(NetworkError("401", auth=True))
    publisher.run_once("w1")
    delivery = post.deliveries.get()
    assert delivery.state == State.FAILED
    Channel.objects.filter(pk=channel.pk).update(health=Channel.Health.OK)  # reconnected

    delivery = do_retry_delivery(as_user(cast.bob), delivery)
    assert delivery.state == State.UNKNOWN  # a call was made before: ask the network first
    publisher.run_once("w1")

    delivery.refresh_from_db()
    assert delivery.state == State.PUBLISHED
    assert [op for op, _key in fake_network.calls] == ["publish", "find_published", "publish"]


def test_only_failed_deliveries_can_be_retried(cast, channel, frozen):
    post = do_create_post(Actor.system(), cast.workspace, text="Hallo", channels=[channel], scheduled_at=NOON)
    with pytest.raises(ActionError):
        do_retry_delivery(as_user(cast.bob), post.deliveries.get())


def test_derive_status():
    derive = publisher.derive_status
    assert derive([]) == Post.Status.DRAFT
    assert derive([(State.SCHEDULED, None)]) == Post.Status.DRAFT
    assert derive([(State.SCHEDULED, NOON)]) == Post.Status.SCHEDULED
    assert derive([(State.SCHEDULED, NOON), (State.PUBLISHED, NOON)]) == Post.Status.PUBLISHING
    assert derive([(State.UNKNOWN, NOON)]) == Post.Status.PUBLISHING
    assert derive([(State.PUBLISHED, NOON), (State.FAILED, NOON)]) == Post.Status.PARTIAL
    assert derive([(State.FAILED, NOON)]) == Post.Status.FAILED
    assert derive([(State.CANCELLED, NOON)]) == Post.Status.CANCELLED
    assert derive([(State.CANCELLED, NOON), (State.PUBLISHED, NOON)]) == Post.Status.PUBLISHED
