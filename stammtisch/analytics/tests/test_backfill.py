"""Connecting (or reconnecting) a channel backfills the figures of its recent posts and resumes
its paused checks."""

from __future__ import annotations

import datetime as dt

from stammtisch.analytics import sync
from stammtisch.analytics.models import ChannelMetricSnapshot, MetricCheck, PostMetricSnapshot
from stammtisch.analytics.tests.conftest import NOON, publish
from stammtisch.core.actions import Actor
from stammtisch.networks.actions import do_connect_channel
from stammtisch.networks.base import NetworkError
from stammtisch.networks.models import Channel
from stammtisch.networks.sandbox import clock
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery

DAY = dt.timedelta(days=1)
State = MetricCheck.State


def reconnect(cast, channel: Channel) -> Channel:
    return do_connect_channel(
        Actor(user=cast.alice),
        cast.workspace,
        network=channel.network,
        handle=channel.handle,
        display_name=channel.display_name,
        remote_account_id=channel.remote_account_id,
        credentials={"token": "new"},
    )


def test_reconnecting_backfills_posts_of_the_last_28_days(
    cast, channel, fake_network, frozen, django_capture_on_commit_callbacks
):
    recent = publish(cast, [channel], text="Vor drei Tagen")
    frozen.move_to(NOON + 25 * DAY)
    old = do_create_post(Actor.system("t"), cast.workspace, text="Uralt", channels=[channel])
    Delivery.objects.filter(post=old).update(
        state=Delivery.State.PUBLISHED, published_at=NOON - 20 * DAY, remote_id="fake-old"
    )
    now = NOON + 25 * DAY

    with django_capture_on_commit_callbacks(execute=True):
        reconnect(cast, channel)

    [backfill] = MetricCheck.objects.filter(checkpoint="backfill")
    assert (backfill.delivery.post, backfill.due_at, backfill.state) == (recent, now, State.PENDING)
    assert MetricCheck.objects.filter(checkpoint="daily", channel=channel, due_at=now).count() == 1
    sync.run_due("w1")
    assert PostMetricSnapshot.objects.filter(delivery__post=recent).count() == 1
    assert ChannelMetricSnapshot.objects.filter(channel=channel).count() == 1


def test_a_backfill_is_not_doubled_while_one_is_open(
    cast, channel, fake_network, frozen, django_capture_on_commit_callbacks
):
    publish(cast, [channel])

    with django_capture_on_commit_callbacks(execute=True):
        reconnect(cast, channel)
        reconnect(cast, channel)

    assert MetricCheck.objects.filter(checkpoint="backfill").count() == 1
    assert MetricCheck.objects.filter(checkpoint="daily").count() == 1


def test_reconnecting_resumes_paused_checks(cast, channel, fake_network, frozen, django_capture_on_commit_callbacks):
    post = publish(cast, [channel])
    frozen.move_to(NOON + dt.timedelta(hours=1))
    fake_network.script.append(NetworkError("Token revoked", auth=True))
    sync.run_due("w1")
    assert set(MetricCheck.objects.values_list("state", flat=True)) == {State.PAUSED}
    frozen.move_to(NOON + 3 * DAY)

    with django_capture_on_commit_callbacks(execute=True):
        reconnect(cast, channel)

    states = dict(MetricCheck.objects.filter(delivery__post=post).values_list("checkpoint", "state"))
    # Checkpoints that passed meanwhile are not read late under their name: the backfill reads
    # now. The next checkpoint still ahead is pending (and makes the one after when it is read).
    assert states == {
        "1h": State.SKIPPED,
        "24h": State.SKIPPED,
        "7d": State.PENDING,
        "backfill": State.PENDING,
    }
    sync.run_due("w1")
    assert MetricCheck.objects.get(delivery__post=post, checkpoint="backfill").state == State.DONE


def test_a_failing_backfill_never_undoes_the_connect(
    cast, channel, fake_network, frozen, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    from stammtisch.analytics import scheduling

    def broken(channel: Channel) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(scheduling, "schedule_backfill", broken)
    Channel.objects.filter(pk=channel.pk).update(health=Channel.Health.NEEDS_RECONNECT)

    with django_capture_on_commit_callbacks(execute=True):
        reconnect(cast, channel)

    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK
    assert "channel_connected failed: boom" in caplog.text


def test_the_sandbox_end_to_end(cast, frozen, django_capture_on_commit_callbacks, settings):
    """Connect a Sandbox channel, publish through the publisher, read the figures an hour later."""
    settings.SANDBOX_FAULT_RATE = 0.0
    with django_capture_on_commit_callbacks(execute=True):
        channel = do_connect_sandbox_channel(Actor(user=cast.alice), cast.workspace, "cafe-koenigsbau", "Café")
    [daily] = MetricCheck.objects.filter(channel=channel)
    assert (daily.checkpoint, daily.due_at) == ("daily", NOON)
    post = do_create_post(
        Actor(user=cast.alice), cast.workspace, text="Zimtschnecken!", channels=[channel], scheduled_at=NOON
    )
    publisher.run_once("publisher")
    frozen.move_to(NOON + dt.timedelta(hours=1))
    with clock.at(NOON + dt.timedelta(hours=1)):
        sync.run_due("w1")

    [snapshot] = PostMetricSnapshot.objects.filter(delivery__post=post)
    assert snapshot.observed_at == NOON + dt.timedelta(hours=1)
    assert snapshot.likes is not None and snapshot.impressions is not None and snapshot.clicks is not None
    assert {"follows", "questions"} <= set(snapshot.extra)
    figures = ChannelMetricSnapshot.objects.get(channel=channel)
    assert figures.followers is not None and figures.extra["posts"] == 1
