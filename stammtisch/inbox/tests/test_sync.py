"""The inbox sync job: claims, cursors, backoff, rate limits, two workers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from stammtisch.inbox import ingest, sync
from stammtisch.inbox.models import Message, SyncState
from stammtisch.inbox.tests.fake import comment
from stammtisch.networks.base import NetworkError, RateLimit
from stammtisch.networks.models import Channel

pytestmark = pytest.mark.django_db


def test_it_reads_every_page_and_advances_the_cursor(channel, fake_network, now) -> None:
    fake_network.pages = [[comment(1), comment(2)], [comment(3)]]
    stored = sync.run_due("w1", now=now)
    assert stored == 3
    state = SyncState.objects.get(channel=channel)
    assert state.cursor == {"page": 2}
    assert fake_network.cursors_seen == [{}, {"page": 1}, {"page": 2}]  # the last call found nothing new
    assert state.next_sync_at == now + dt.timedelta(seconds=state.interval_seconds)
    assert (state.lease_owner, state.failures) == ("", 0)


def test_the_channel_keeps_the_cursor_for_its_connector(channel, fake_network, now) -> None:
    """A connector reads back what it learned while reading (Telegram's forwards) from
    `Channel.sync_cursor`, so the sync stores the cursor there too."""
    fake_network.pages = [[comment(1)], [comment(2)]]
    sync.run_due("w1", now=now)
    channel.refresh_from_db()
    assert channel.sync_cursor == SyncState.objects.get(channel=channel).cursor == {"page": 2}


def test_it_is_not_due_again_before_its_interval(channel, fake_network, now) -> None:
    sync.run_due("w1", now=now)
    calls = len(fake_network.calls)
    sync.run_due("w1", now=now + dt.timedelta(seconds=10))
    assert len(fake_network.calls) == calls


def test_the_cursor_does_not_move_when_storing_fails(channel, fake_network, now, monkeypatch) -> None:
    fake_network.pages = [[comment(1)]]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest, "store_events", broken)
    with pytest.raises(RuntimeError):
        sync.run_due("w1", now=now)
    state = SyncState.objects.get(channel=channel)
    assert state.cursor == {}
    assert not Message.objects.exists()


def test_events_delivered_again_after_a_lost_cursor_are_stored_once(channel, fake_network, now) -> None:
    fake_network.pages = [[comment(1), comment(2)]]
    sync.run_due("w1", now=now)
    SyncState.objects.update(cursor={}, next_sync_at=now)
    fake_network.pages = [[comment(1), comment(2), comment(3)]]
    sync.run_due("w1", now=now)
    assert Message.objects.count() == 3


def test_it_backs_off_after_errors_and_honours_retry_after(channel, fake_network, now) -> None:
    fake_network.pages = [NetworkError("502 bad gateway")]
    sync.run_due("w1", now=now)
    state = SyncState.objects.get(channel=channel)
    assert state.failures == 1
    assert state.last_error == "502 bad gateway"
    assert state.next_sync_at == now + sync.BACKOFF_BASE
    fake_network.pages = [NetworkError("again")]
    sync.run_due("w1", now=state.next_sync_at)
    state.refresh_from_db()
    assert state.failures == 2
    fake_network.pages = [[comment(1)]]
    sync.run_due("w1", now=state.next_sync_at)
    state.refresh_from_db()
    assert (state.failures, state.last_error) == (0, "")


def test_a_429_waits_as_long_as_the_network_asks_and_blocks_the_bucket(channel, fake_network, now) -> None:
    fake_network.pages = [NetworkError("429", retry_after=7200)]
    sync.run_due("w1", now=now)
    state = SyncState.objects.get(channel=channel)
    assert state.next_sync_at == now + dt.timedelta(seconds=7200)
    # Every worker sees the blocked bucket: even when due, nobody calls before the network allows.
    SyncState.objects.update(next_sync_at=now)
    calls = len(fake_network.calls)
    sync.run_due("w2", now=now)
    assert len(fake_network.calls) == calls


def test_a_connector_bug_is_a_transient_error(channel, fake_network, now) -> None:
    fake_network.pages = [KeyError("data")]
    sync.run_due("w1", now=now)
    assert SyncState.objects.get().failures == 1


def test_an_auth_error_pauses_syncing_and_leaves_channel_health_alone(channel, fake_network, now) -> None:
    fake_network.pages = [NetworkError("401 token revoked", auth=True)]
    sync.run_due("w1", now=now)
    state = SyncState.objects.get(channel=channel)
    assert state.state == SyncState.State.PAUSED
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK
    calls = len(fake_network.calls)
    sync.run_due("w1", now=now + dt.timedelta(days=1))
    assert len(fake_network.calls) == calls
    sync.resume(channel)  # what reconnecting does (receivers.py)
    assert SyncState.objects.get().state == SyncState.State.ACTIVE


def test_a_network_without_activity_is_marked_unsupported(cast, now) -> None:
    Channel.objects.create(workspace=cast.workspace, network="xing", handle="k", display_name="K")
    sync.run_due("w1", now=now)
    assert SyncState.objects.get().state == SyncState.State.UNSUPPORTED


def test_it_waits_for_the_rate_limit(channel, fake_network, now, monkeypatch) -> None:
    from stammtisch.inbox.tests.fake import InboxFakeNetwork

    monkeypatch.setattr(InboxFakeNetwork, "rate_limits", (RateLimit("channel", 1, 3600.0),))
    fake_network.pages = [[comment(1)], [comment(2)]]
    sync.run_due("w1", now=now)
    state = SyncState.objects.get()
    assert Message.objects.count() == 1  # one token: one page; the next waits for the bucket
    assert now + dt.timedelta(minutes=50) < state.next_sync_at <= now + dt.timedelta(hours=1)


def test_two_workers_never_read_the_same_channel(channel, fake_network, now) -> None:
    sync.ensure_states(now)
    assert sync.claim("w1", now=now) == [SyncState.objects.get().pk]
    assert sync.claim("w2", now=now) == []


def test_a_worker_whose_lease_expired_stores_nothing(channel, fake_network, now) -> None:
    sync.ensure_states(now)
    [pk] = sync.claim("w1", now=now)
    fake_network.pages = [[comment(1)]]
    # w1 stalls; its lease expires and w2 takes the channel over and reads it.
    SyncState.objects.update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert sync.claim("w2", now=now) == [pk]
    sync.sync_one(pk, "w2", now=now)
    fake_network.pages = [[comment(1), comment(2)]]
    assert sync.sync_one(pk, "w1", now=now) == 0  # w1 wakes up: its lease is gone
    assert list(Message.objects.values_list("remote_id", flat=True)) == ["c-1"]
    assert SyncState.objects.get().cursor == {"page": 1}


def test_the_worker_runs_the_inbox_jobs_in_steps_of_their_own(cast, fake_network, channel) -> None:
    from stammtisch.core.worker import Worker, default_jobs, inbox_replies, inbox_sync

    jobs = [job for job in default_jobs() if job.run in (inbox_sync, inbox_replies)]
    assert [job.atomic for job in jobs] == [False, False]
    fake_network.pages = [[comment(1)]]
    Worker(worker_id="w1", jobs=jobs).tick()
    assert Message.objects.count() == 1


def test_reconnecting_a_channel_resumes_its_sync(cast, now) -> None:
    from stammtisch.core.actions import Actor
    from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel

    channel = do_connect_sandbox_channel(Actor.system("test"), cast.workspace, "koenigsbau", "Café")
    sync.ensure_states(now)
    SyncState.objects.update(state=SyncState.State.PAUSED)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        do_connect_sandbox_channel(Actor.system("test"), cast.workspace, "koenigsbau", "Café")
    assert SyncState.objects.get(channel=channel).state == SyncState.State.ACTIVE


def test_a_delivery_published_later_is_linked_to_its_conversation(cast, channel, now) -> None:
    from stammtisch.inbox.models import Conversation
    from stammtisch.publishing import signals
    from stammtisch.publishing.models import Delivery, Post

    ingest.store_events(channel, [comment(1, post="post-7")], now=now)
    post = Post.objects.create(workspace=cast.workspace, text="Hallo")
    delivery = Delivery.objects.create(post=post, channel=channel, text="Hallo", remote_id="post-7")
    signals.deliveries_published.send(Delivery, deliveries=[delivery])
    assert Conversation.objects.get().delivery == delivery
