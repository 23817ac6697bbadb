"""The metrics job: claims due checks, asks each channel once, stores figures once, and handles
rate limits and errors (analytics/sync.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, connections
from django.utils import timezone

from stammtisch.analytics import sync
from stammtisch.analytics.models import ChannelMetricSnapshot, MetricCheck, PostMetricSnapshot
from stammtisch.analytics.tests.conftest import NOON, publish
from stammtisch.networks.base import NetworkError
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Delivery, RateBucket

HOUR = dt.timedelta(hours=1)
State = MetricCheck.State


def check_of(post, checkpoint: str = "1h") -> MetricCheck:
    return MetricCheck.objects.get(delivery__post=post, checkpoint=checkpoint)


def test_a_due_check_stores_the_post_and_channel_figures(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    delivery = Delivery.objects.get(post=post)
    frozen.move_to(NOON + HOUR)

    assert sync.run_due("w1") == 1

    assert fake_network.calls == [(channel.pk, [delivery.remote_id])]
    [snapshot] = PostMetricSnapshot.objects.all()
    assert (snapshot.workspace, snapshot.delivery, snapshot.source) == (cast.workspace, delivery, "api")
    assert snapshot.observed_at == NOON + HOUR
    assert (snapshot.likes, snapshot.comments, snapshot.shares) == (7, 2, 1)
    assert snapshot.impressions == 300  # reported as "views"
    assert snapshot.reach is None and snapshot.clicks is None  # not reported: unknown, not 0
    assert snapshot.extra == {"quotes": 1}
    [followers] = ChannelMetricSnapshot.objects.all()
    assert (followers.channel, followers.followers, followers.extra) == (channel, 120, {"posts": 1})
    assert followers.day == dt.date(2026, 6, 1)  # in Europe/Berlin
    check = check_of(post)
    assert (check.state, check.lease_owner, check.finished_at) == (State.DONE, "", NOON + HOUR)
    assert check_of(post, "24h").state == State.PENDING


def test_checks_not_yet_due_are_left_alone(cast, channel, fake_network, frozen):
    publish(cast, [channel])
    frozen.move_to(NOON + HOUR - dt.timedelta(seconds=1))

    assert sync.run_due("w1") == 0
    assert fake_network.calls == []


def test_each_channel_is_asked_once_for_all_its_due_posts(cast, channel, second_channel, fake_network, frozen):
    for text in ("Eins", "Zwei", "Drei"):
        publish(cast, [channel, second_channel], text=text)
    frozen.move_to(NOON + HOUR)

    assert sync.run_due("w1") == 6

    assert sorted((channel_id, len(ids)) for channel_id, ids in fake_network.calls) == [
        (channel.pk, 3),
        (second_channel.pk, 3),
    ]
    assert PostMetricSnapshot.objects.count() == 6
    assert ChannelMetricSnapshot.objects.count() == 2


def test_overdue_checkpoints_of_one_post_share_one_reading(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    frozen.move_to(NOON + dt.timedelta(days=2))  # the worker was down: 1h and 24h are both due

    assert sync.run_due("w1") == 1

    assert len(fake_network.calls) == 1 and len(fake_network.calls[0][1]) == 1
    assert PostMetricSnapshot.objects.count() == 1
    # The 24 h checkpoint had passed too: closed with the same reading, the 7 d one is next.
    assert {check_of(post, "1h").state, check_of(post, "24h").state} == {State.DONE}
    assert check_of(post, "24h").finished_at == NOON + dt.timedelta(days=2)
    assert (check_of(post, "7d").state, check_of(post, "7d").due_at) == (State.PENDING, NOON + dt.timedelta(days=7))
    assert not MetricCheck.objects.filter(checkpoint="28d").exists()


def test_two_workers_never_read_the_same_check(cast, channel, fake_network, frozen):
    publish(cast, [channel])
    publish(cast, [channel], text="Zweiter Beitrag")
    frozen.move_to(NOON + HOUR)

    first = sync.claim("w1")
    second = sync.claim("w2")

    assert len(first) == 2 and second == []
    assert sync.process_batch(second, "w2") == 0
    assert sync.process_batch(first, "w1") == 2
    assert sync.run_due("w2") == 0
    assert len(fake_network.calls) == 1
    assert PostMetricSnapshot.objects.count() == 2


def test_a_run_again_stores_nothing_twice(cast, channel, fake_network, frozen):
    publish(cast, [channel])
    frozen.move_to(NOON + HOUR)

    sync.run_due("w1")
    sync.run_due("w1")
    sync.run_due("w2")

    assert len(fake_network.calls) == 1
    assert PostMetricSnapshot.objects.count() == 1


def test_a_worker_whose_lease_ran_out_during_the_call_stores_nothing(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    frozen.move_to(NOON + HOUR)
    claimed = sync.claim("w1")

    def take_over() -> None:
        # w1's call hangs past its lease; w2 takes the check over and reads it.
        frozen.move_to(NOON + HOUR + sync.LEASE + dt.timedelta(seconds=1))
        assert sync.run_due("w2") == 1

    fake_network.during_call.append(take_over)
    sync.process_batch(claimed, "w1")

    assert len(fake_network.calls) == 2
    assert PostMetricSnapshot.objects.count() == 1
    check = check_of(post)
    assert check.state == State.DONE


def test_a_stopping_worker_gives_its_claims_back(cast, channel, second_channel, fake_network, frozen):
    publish(cast, [channel, second_channel])
    frozen.move_to(NOON + HOUR)
    claimed = sync.claim("w1")
    stops = iter([False, True])

    assert sync.process_batch(claimed, "w1", should_stop=lambda: next(stops)) == 1

    assert len(fake_network.calls) == 1
    assert MetricCheck.objects.filter(checkpoint="1h", state=State.PENDING, lease_owner="").count() == 1


def test_a_429_defers_the_checks_and_blocks_the_channel_for_every_worker(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    frozen.move_to(NOON + HOUR)
    fake_network.script.append(NetworkError("Too many requests", retry_after=600))

    sync.run_due("w1")

    check = check_of(post)
    assert (check.state, check.due_at, check.attempts) == (State.PENDING, NOON + HOUR + dt.timedelta(seconds=600), 0)
    bucket = RateBucket.objects.get(key=f"channel:{channel.pk}:60s")
    assert bucket.tokens < 1  # in debt until the network's time has passed
    assert PostMetricSnapshot.objects.count() == 0


def test_without_a_rate_limit_token_nothing_is_called(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    frozen.move_to(NOON + HOUR)
    RateBucket.objects.update_or_create(
        key=f"channel:{channel.pk}:60s", defaults={"tokens": 0.0, "refilled_at": NOON + HOUR}
    )

    sync.run_due("w1")

    assert fake_network.calls == []
    check = check_of(post)
    assert check.state == State.PENDING and check.attempts == 0
    assert NOON + HOUR < check.due_at <= NOON + HOUR + dt.timedelta(seconds=1)  # 600 a minute: one in 0.1 s


def test_a_transient_error_retries_with_backoff_then_fails(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    now = NOON + HOUR
    for attempt in range(1, sync.MAX_ATTEMPTS + 1):
        frozen.move_to(now)
        fake_network.script.append(NetworkError("Bad gateway"))
        sync.run_due("w1")
        check = check_of(post)
        assert check.attempts == attempt and check.last_error == "Bad gateway"
        if attempt < sync.MAX_ATTEMPTS:
            assert check.state == State.PENDING and check.due_at > now
            now = check.due_at
    assert check.state == State.FAILED
    assert len(fake_network.calls) == sync.MAX_ATTEMPTS


def test_a_permanent_error_fails_the_checks_with_the_error(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    frozen.move_to(NOON + HOUR)
    fake_network.script.append(NetworkError("Unsupported post type", permanent=True))

    sync.run_due("w1")

    check = check_of(post)
    assert (check.state, check.last_error) == (State.FAILED, "Unsupported post type")
    assert check_of(post, "24h").state == State.PENDING  # later checkpoints still try


def test_an_auth_error_pauses_the_channel_and_leaves_its_health_alone(
    cast, channel, second_channel, fake_network, frozen
):
    post = publish(cast, [channel, second_channel])
    frozen.move_to(NOON + HOUR)
    fake_network.script.append(NetworkError("Token revoked", auth=True))

    sync.run_due("w1")

    paused = MetricCheck.objects.filter(channel=channel)
    assert set(paused.values_list("state", flat=True)) == {State.PAUSED}
    assert set(paused.values_list("last_error", flat=True)) == {"Token revoked"}
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK  # the publisher and the health page decide that
    # The other channel was read as usual (it was called first or second, it does not matter).
    assert MetricCheck.objects.get(delivery__post=post, channel=second_channel, checkpoint="1h").state == State.DONE
    # Paused checks are not claimed again.
    frozen.move_to(NOON + dt.timedelta(days=30))
    calls = len(fake_network.calls)
    sync.run_due("w1")
    assert all(channel_id != channel.pk for channel_id, _ids in fake_network.calls[calls:])


def test_a_channel_that_needs_reconnecting_is_not_called(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    Channel.objects.filter(pk=channel.pk).update(health=Channel.Health.NEEDS_RECONNECT)
    frozen.move_to(NOON + HOUR)

    sync.run_due("w1")

    assert fake_network.calls == []
    assert check_of(post).state == State.PAUSED


def test_a_post_deleted_on_the_network_closes_its_check_without_figures(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    fake_network.gone.add(Delivery.objects.get(post=post).remote_id)
    frozen.move_to(NOON + HOUR)

    sync.run_due("w1")

    check = check_of(post)
    assert check.state == State.DONE and "did not return" in check.last_error
    assert not PostMetricSnapshot.objects.exists()
    assert ChannelMetricSnapshot.objects.count() == 1


def test_a_daily_check_reads_the_channel_and_makes_the_next_one(cast, channel, fake_network, frozen):
    MetricCheck.objects.create(workspace=cast.workspace, channel=channel, checkpoint="daily", due_at=NOON)

    sync.run_due("w1")

    assert fake_network.calls == [(channel.pk, [])]
    assert ChannelMetricSnapshot.objects.get().followers == 120
    assert list(MetricCheck.objects.order_by("pk").values_list("state", "due_at")) == [
        (State.DONE, NOON),
        (State.PENDING, NOON + dt.timedelta(days=1)),
    ]
    # Later the same day the day's figures are updated, not added.
    fake_network.followers = 125
    frozen.move_to(NOON + HOUR)
    MetricCheck.objects.filter(state=State.PENDING).update(due_at=NOON + HOUR)
    sync.run_due("w1")
    assert list(ChannelMetricSnapshot.objects.values_list("followers", "observed_at")) == [(125, NOON + HOUR)]


def test_checks_on_networks_without_an_api_are_skipped(cast, frozen):
    xing = Channel.objects.create(workspace=cast.workspace, network="xing", handle="pages/koenigsbau", display_name="X")
    check = MetricCheck.objects.create(workspace=cast.workspace, channel=xing, checkpoint="daily", due_at=NOON)

    sync.run_due("w1")

    check.refresh_from_db()
    assert check.state == State.SKIPPED and "entered by hand" in check.last_error
    assert MetricCheck.objects.count() == 1  # no next daily check for XING


def test_on_postgresql_a_locked_check_is_skipped_not_waited_for(transactional_db, cast, channel, fake_network):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is the PostgreSQL claim; SQLite runs one writer at a time")
    check = MetricCheck.objects.create(
        workspace=cast.workspace, channel=channel, checkpoint="daily", due_at=timezone.now()
    )
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        other.set_autocommit(False)
        with other.cursor() as cursor:  # another worker's claim transaction, still open
            cursor.execute("SELECT id FROM analytics_metriccheck WHERE id = %s FOR UPDATE", [check.pk])
        assert sync.claim("w2") == []
        other.rollback()
        assert sync.claim("w2") == [check.pk]
    finally:
        other.close()
