"""When figures are due: four checkpoints after publishing, a daily channel check, the sweep."""

from __future__ import annotations

import datetime as dt

from stammtisch.analytics import scheduling, sync
from stammtisch.analytics.models import MetricCheck
from stammtisch.analytics.tests.conftest import NOON, publish
from stammtisch.core.actions import Actor
from stammtisch.networks.models import Channel
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def checkpoints(delivery: Delivery) -> dict[str, dt.datetime]:
    return dict(MetricCheck.objects.filter(delivery=delivery).values_list("checkpoint", "due_at"))


def test_a_published_delivery_gets_its_checks_one_after_the_other(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])

    delivery = Delivery.objects.get(post=post)
    assert delivery.state == Delivery.State.PUBLISHED
    assert checkpoints(delivery) == {"1h": NOON + HOUR}
    assert set(MetricCheck.objects.values_list("state", "workspace_id", "channel_id")) == {
        ("pending", cast.workspace.pk, channel.pk)
    }
    # Each reading makes the next checkpoint, timed from publishing.
    for now, expected in [
        (NOON + HOUR, {"1h", "24h"}),
        (NOON + DAY, {"1h", "24h", "7d"}),
        (NOON + 7 * DAY, {"1h", "24h", "7d", "28d"}),
        (NOON + 28 * DAY, {"1h", "24h", "7d", "28d"}),
    ]:
        frozen.move_to(now)
        assert sync.run_due("w1") == 1
        assert set(checkpoints(delivery)) == expected
    assert checkpoints(delivery) == {
        "1h": NOON + HOUR,
        "24h": NOON + DAY,
        "7d": NOON + 7 * DAY,
        "28d": NOON + 28 * DAY,
    }
    assert set(MetricCheck.objects.filter(delivery=delivery).values_list("state", flat=True)) == {"done"}


def test_a_retried_check_keeps_the_next_checkpoint_on_time(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    delivery = Delivery.objects.get(post=post)
    MetricCheck.objects.filter(delivery=delivery).update(due_at=NOON + 3 * HOUR)  # moved by a retry
    frozen.move_to(NOON + 3 * HOUR)

    sync.run_due("w1")

    assert checkpoints(delivery)["24h"] == NOON + DAY


def test_nothing_is_scheduled_before_a_delivery_is_published(cast, channel, frozen):
    do_create_post(Actor.system("test"), cast.workspace, text="Später", channels=[channel], scheduled_at=NOON + DAY)

    assert not MetricCheck.objects.exists()


def test_scheduling_twice_keeps_one_set(cast, channel, frozen):
    post = publish(cast, [channel])
    delivery = Delivery.objects.select_related("channel").get(post=post)

    scheduling.schedule_published([delivery])

    assert MetricCheck.objects.count() == 1


def test_deliveries_on_networks_without_an_api_get_no_checks(cast, frozen):
    xing = Channel.objects.create(workspace=cast.workspace, network="xing", handle="pages/koenigsbau", display_name="X")
    post = do_create_post(Actor.system("test"), cast.workspace, text="Hallo XING", channels=[xing])
    delivery = Delivery.objects.select_related("channel").get(post=post)
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.PUBLISHED, published_at=NOON)

    assert scheduling.schedule_published([delivery]) == 0
    assert scheduling.sweep(NOON) == 0
    assert not MetricCheck.objects.exists()


def test_the_sweep_schedules_what_the_signal_missed_and_starts_daily_checks(cast, channel, fake_network, frozen):
    post = do_create_post(Actor.system("test"), cast.workspace, text="Alt", channels=[channel], scheduled_at=NOON)
    # Published before metrics existed: no checks.
    Delivery.objects.filter(post=post).update(
        state=Delivery.State.PUBLISHED, published_at=NOON - 2 * DAY, due_at=NOON - 2 * DAY, remote_id="fake-9"
    )
    old = do_create_post(Actor.system("test"), cast.workspace, text="Uralt", channels=[channel], scheduled_at=NOON)
    Delivery.objects.filter(post=old).update(
        state=Delivery.State.PUBLISHED, published_at=NOON - 40 * DAY, due_at=NOON - 40 * DAY, remote_id="fake-8"
    )

    assert scheduling.sweep(NOON) == 2

    delivery = Delivery.objects.get(post=post)
    assert checkpoints(delivery) == {"1h": NOON - 2 * DAY + HOUR}  # read at once; the rest follow
    assert not MetricCheck.objects.filter(delivery__post=old).exists()  # older than 28 days
    [daily] = MetricCheck.objects.filter(checkpoint="daily")
    assert (daily.channel, daily.delivery, daily.due_at) == (channel, None, NOON)
    # A second sweep finds nothing new.
    assert scheduling.sweep(NOON) == 0
    assert MetricCheck.objects.count() == 2


def test_the_sweep_leaves_channels_that_need_reconnecting_alone(cast, channel, frozen):
    Channel.objects.filter(pk=channel.pk).update(health=Channel.Health.NEEDS_RECONNECT)

    assert scheduling.sweep(NOON) == 0
