"""Rate limits shared by every worker (publishing/ratelimit.py, docs/publishing.md)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from stammtisch.core.actions import Actor
from stammtisch.networks.base import NetworkError, RateLimit
from stammtisch.publishing import publisher, ratelimit
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, RateBucket
from stammtisch.publishing.tests.fake import FakeNetwork

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
State = Delivery.State


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def limiter(monkeypatch) -> ratelimit.Limiter:
    """This test's worker starts without reservations left over from other tests."""
    fresh = ratelimit.Limiter()
    monkeypatch.setattr(publisher, "LIMITER", fresh)
    return fresh


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def limit_fake(monkeypatch, *limits: RateLimit) -> None:
    monkeypatch.setattr(FakeNetwork, "rate_limits", limits)


def schedule(cast, channel, at=NOON, text="Heute gibt es Maultaschen!"):
    return do_create_post(Actor.system("test"), cast.workspace, text=text, channels=[channel], scheduled_at=at)


def test_two_workers_share_one_bucket(channel, monkeypatch):
    limit_fake(monkeypatch, RateLimit("channel", 100, 60.0))
    buckets = ratelimit.buckets(channel.pk, FakeNetwork())
    first, second = ratelimit.Limiter(), ratelimit.Limiter()
    first.plan(buckets * 30)  # each has a batch of 30 calls: reserves a tenth of the bucket
    second.plan(buckets * 30)

    assert first.take(buckets, NOON) is None  # reserves 10 tokens, uses one
    assert second.take(buckets, NOON) is None  # reserves 10 more from the same row
    assert RateBucket.objects.get(key=f"channel:{channel.pk}:60s").tokens == 80

    taken = 2
    while first.take(buckets, NOON) is None:
        taken += 1
    while second.take(buckets, NOON) is None:
        taken += 1
    assert taken == 100  # together never more than the bucket holds
    # Both are told when the next token comes: 60 s / 100 tokens later.
    assert first.take(buckets, NOON) == NOON + dt.timedelta(seconds=0.6)
    # The bucket refills over time, for either of them.
    assert second.take(buckets, NOON + dt.timedelta(seconds=6)) is None


def test_a_call_takes_a_token_from_every_bucket_of_its_channel_and_network(channel, second_channel, monkeypatch):
    limit_fake(monkeypatch, RateLimit("channel", 10, 60.0), RateLimit("network", 1, 60.0))
    worker = ratelimit.Limiter()
    network = FakeNetwork()

    assert worker.take(ratelimit.buckets(channel.pk, network), NOON) is None
    # The network's single token is gone: the other channel waits too, and takes nothing.
    assert worker.take(ratelimit.buckets(second_channel.pk, network), NOON) == NOON + dt.timedelta(seconds=60)
    keys = dict(RateBucket.objects.values_list("key", "tokens"))
    assert keys[f"channel:{channel.pk}:60s"] == 9
    assert f"channel:{second_channel.pk}:60s" not in keys or keys[f"channel:{second_channel.pk}:60s"] == 9


def test_a_reservation_takes_no_more_than_the_batch_needs(channel, monkeypatch):
    limit_fake(monkeypatch, RateLimit("channel", 100, 60.0))
    buckets = ratelimit.buckets(channel.pk, FakeNetwork())
    worker = ratelimit.Limiter()
    worker.plan(buckets * 3)
    for _call in range(3):
        assert worker.take(buckets, NOON) is None
    assert RateBucket.objects.get().tokens == 97  # three reserved at once, none left over


def test_a_batch_reserves_every_bucket_it_needs_in_one_go(
    channel, second_channel, monkeypatch, django_assert_max_num_queries
):
    limit_fake(monkeypatch, RateLimit("channel", 100, 60.0), RateLimit("network", 1000, 60.0))
    network = FakeNetwork()
    first, second = ratelimit.buckets(channel.pk, network), ratelimit.buckets(second_channel.pk, network)
    worker = ratelimit.Limiter()
    worker.reserve(first * 3 + second * 2, NOON)
    keys = dict(RateBucket.objects.values_list("key", "tokens"))
    assert keys == {
        f"channel:{channel.pk}:60s": 97,
        f"channel:{second_channel.pk}:60s": 98,
        f"network:{network.key}:60s": 995,
    }
    # The batch's calls then take their tokens without touching the database.
    with django_assert_max_num_queries(0):
        for _call in range(3):
            assert worker.take(first, NOON) is None
        for _call in range(2):
            assert worker.take(second, NOON) is None
    assert RateBucket.objects.get(key=f"network:{network.key}:60s").tokens == 995


def test_with_a_backlog_a_batch_reserves_ahead_for_the_next_batches(
    channel, second_channel, monkeypatch, django_assert_max_num_queries
):
    limit_fake(monkeypatch, RateLimit("channel", 100, 60.0), RateLimit("network", 1000, 60.0))
    network = FakeNetwork()
    first, second = ratelimit.buckets(channel.pk, network), ratelimit.buckets(second_channel.pk, network)
    worker = ratelimit.Limiter()
    worker.reserve(first + second, NOON, ahead=True)
    keys = dict(RateBucket.objects.values_list("key", "tokens"))
    # A tenth of each bucket, not the one token per bucket this batch needs.
    assert keys == {
        f"channel:{channel.pk}:60s": 90,
        f"channel:{second_channel.pk}:60s": 90,
        f"network:{network.key}:60s": 900,
    }
    # The next batches of the backlog take their tokens without touching the database, ...
    with django_assert_max_num_queries(0):
        for _batch in range(10):
            worker.reserve(first + second, NOON, ahead=True)
            assert worker.take(first, NOON) is None
            assert worker.take(second, NOON) is None
    # ... until a reservation runs dry; what is left goes back when it expires.
    worker.reserve(first + second, NOON, ahead=True)
    assert RateBucket.objects.get(key=f"channel:{channel.pk}:60s").tokens == 80
    worker.give_back(NOON, everything=True)
    assert RateBucket.objects.get(key=f"channel:{channel.pk}:60s").tokens == 90  # ten calls were made


def test_a_batch_reservation_takes_only_what_is_there(channel, monkeypatch):
    limit_fake(monkeypatch, RateLimit("channel", 20, 60.0))
    buckets = ratelimit.buckets(channel.pk, FakeNetwork())
    other = ratelimit.Limiter()
    other.plan(buckets * 2)
    assert other.take(buckets, NOON) is None  # holds two of the 20
    worker = ratelimit.Limiter()
    worker.reserve(buckets * 30, NOON)  # wants 30 (a reservation is at most a tenth: 2)
    assert RateBucket.objects.get().tokens == 16
    while worker.take(buckets, NOON) is None:
        pass
    assert RateBucket.objects.get().tokens == 0  # the rest came one reservation at a time
    assert worker.take(buckets, NOON) == NOON + dt.timedelta(seconds=3)


def test_reserved_tokens_expire_and_go_back(channel, monkeypatch):
    limit_fake(monkeypatch, RateLimit("channel", 100, 60.0))
    buckets = ratelimit.buckets(channel.pk, FakeNetwork())
    clock = Clock()
    worker = ratelimit.Limiter(clock=clock)
    worker.plan(buckets * 10)
    assert worker.take(buckets, NOON) is None
    bucket = RateBucket.objects.get()
    assert bucket.tokens == 90  # one used, nine held by the worker

    clock.seconds += ratelimit.RESERVE_SECONDS - 1
    worker.give_back(NOON)
    bucket.refresh_from_db()
    assert bucket.tokens == 90  # not yet expired: still held

    clock.seconds += 2
    worker.give_back(NOON)
    bucket.refresh_from_db()
    assert bucket.tokens == 99  # the nine unused went back
    assert worker.reserved == {}


def test_tokens_of_a_worker_that_died_are_lost_until_the_bucket_refills(channel, monkeypatch):
    limit_fake(monkeypatch, RateLimit("channel", 20, 60.0))
    buckets = ratelimit.buckets(channel.pk, FakeNetwork())
    dead = ratelimit.Limiter()
    dead.plan(buckets * 5)
    assert dead.take(buckets, NOON) is None  # holds one more token (a tenth of 20), then is killed
    survivor = ratelimit.Limiter()
    taken = 0
    while survivor.take(buckets, NOON) is None:
        taken += 1
    assert taken == 18  # 20 minus the two the dead worker took
    assert survivor.take(buckets, NOON + dt.timedelta(seconds=3)) is None  # 3 s refill one token


def test_a_delivery_without_a_token_waits_unsent_and_uncounted(
    cast, channel, fake_network, frozen, limiter, monkeypatch
):
    limit_fake(monkeypatch, RateLimit("channel", 1, 60.0))
    first, second = schedule(cast, channel, text="Eins"), schedule(cast, channel, text="Zwei")

    assert publisher.run_once("w1") == 2
    assert fake_network.publishes() == 1
    published, waiting = sorted(Delivery.objects.all(), key=lambda d: d.state != State.PUBLISHED)
    assert published.state == State.PUBLISHED
    assert waiting.state == State.SCHEDULED
    assert waiting.attempts == 0 and waiting.last_error == "" and not waiting.attempt_log.exists()
    assert waiting.due_at == NOON + dt.timedelta(seconds=60)
    assert waiting.lease_owner == ""
    assert {first.pk, second.pk} == {published.post_id, waiting.post_id}

    frozen.shift(dt.timedelta(seconds=60))
    assert publisher.run_once("w1") == 1
    waiting.refresh_from_db()
    assert waiting.state == State.PUBLISHED
    assert fake_network.publishes() == 2


def test_a_429_blocks_the_other_deliveries_of_the_channel_for_every_worker(
    cast, channel, second_channel, fake_network, frozen, limiter, monkeypatch
):
    fake_network.script.append(NetworkError("429 Too Many Requests", retry_after=120))
    hit, same_channel = schedule(cast, channel, text="Eins"), schedule(cast, channel, text="Zwei")
    other_channel = schedule(cast, second_channel, text="Drei")

    publisher.run_once("w1")

    assert fake_network.publishes() == 2  # the 429, and the other channel's post
    hit_delivery = Delivery.objects.get(post=hit)
    assert hit_delivery.state == State.RETRY_WAIT and hit_delivery.attempts == 1
    assert hit_delivery.due_at >= NOON + dt.timedelta(seconds=120)
    waiting = Delivery.objects.get(post=same_channel)
    assert waiting.state == State.RETRY_WAIT and waiting.attempts == 0 and not waiting.attempt_log.exists()
    assert waiting.due_at == NOON + dt.timedelta(seconds=120)
    assert Delivery.objects.get(post=other_channel).state == State.PUBLISHED

    # Another worker (its own process: no reservations) gets no token for that channel either.
    monkeypatch.setattr(publisher, "LIMITER", ratelimit.Limiter())
    frozen.shift(dt.timedelta(seconds=30))
    late = schedule(cast, channel, at=NOON + dt.timedelta(seconds=30), text="Vier")
    assert publisher.run_once("w2") == 1
    assert fake_network.publishes() == 2
    deferred = Delivery.objects.get(post=late)
    assert deferred.state == State.SCHEDULED and deferred.attempts == 0
    assert NOON + dt.timedelta(seconds=119) <= deferred.due_at <= NOON + dt.timedelta(seconds=121)

    frozen.shift(dt.timedelta(seconds=100))  # past the Retry-After: all three go out
    publisher.run_once("w2")
    assert set(Delivery.objects.values_list("state", flat=True)) == {State.PUBLISHED}
    assert fake_network.publishes() == 5


def test_every_network_declares_valid_limits():
    from stammtisch.networks.registry import CONNECTORS, get_network

    for key in CONNECTORS:
        try:
            network = get_network(key)
        except Exception:  # a network switched off or not installed here
            continue
        assert network.rate_limits, key
        for limit in network.rate_limits:
            assert limit.per in ("channel", "network") and limit.rate > 0


def test_a_limit_must_make_sense():
    with pytest.raises(ValueError):
        RateLimit("account", 10, 60.0)
    with pytest.raises(ValueError):
        RateLimit("channel", 0, 60.0)
