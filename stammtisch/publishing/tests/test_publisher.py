"""The publisher's state machine, told as stories (docs: DESIGN.md "Publishing: exactly once")."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.base import NetworkError
from stammtisch.networks.models import Channel
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, DeliveryAttempt, Post
from stammtisch.publishing.tests.fake import Crash

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
State = Delivery.State


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def schedule(cast, channels, at=NOON, text="Heute gibt es Maultaschen!"):
    return do_create_post(Actor.system("test"), cast.workspace, text=text, channels=channels, scheduled_at=at)


def delivery_of(post) -> Delivery:
    return Delivery.objects.get(post=post)


def test_it_publishes_a_due_delivery(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])

    assert publisher.run_once("w1") == 1

    delivery = delivery_of(post)
    assert delivery.state == State.PUBLISHED
    assert delivery.remote_id == "fake-1"
    assert delivery.remote_url == "https://fake.example/1"
    assert delivery.published_at == NOON
    assert delivery.lease_owner == ""
    assert fake_network.publishes() == 1
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED
    [attempt] = DeliveryAttempt.objects.filter(delivery=delivery)
    assert (attempt.kind, attempt.outcome, attempt.worker) == ("publish", "published", "w1")


def test_it_leaves_future_deliveries_alone(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel], at=NOON + dt.timedelta(hours=1))

    assert publisher.run_once("w1") == 0
    assert delivery_of(post).state == State.SCHEDULED
    assert publisher.next_due() == NOON + dt.timedelta(hours=1)


def test_it_leaves_drafts_alone(cast, channel, fake_network, frozen):
    post = do_create_post(Actor.system("test"), cast.workspace, text="Entwurf", channels=[channel])

    assert publisher.run_once("w1") == 0
    assert post.status == Post.Status.DRAFT
    assert delivery_of(post).due_at is None


def test_it_records_the_attempt_before_the_call(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.append(Crash())
    with pytest.raises(Crash):
        publisher.run_once("w1")
    delivery = delivery_of(post)
    assert delivery.state == State.PUBLISHING
    [attempt] = delivery.attempt_log.all()
    assert attempt.outcome == "" and attempt.finished_at is None
    assert delivery.attempts == 1


def test_it_retries_after_429_honouring_retry_after(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.append(NetworkError("429 Too Many Requests", retry_after=600))

    publisher.run_once("w1")

    delivery = delivery_of(post)
    assert delivery.state == State.RETRY_WAIT
    assert delivery.due_at >= NOON + dt.timedelta(seconds=600)
    assert delivery.last_error == "429 Too Many Requests"
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHING

    frozen.move_to(NOON + dt.timedelta(seconds=599))
    assert publisher.run_once("w1") == 0
    frozen.move_to(delivery.due_at)
    assert publisher.run_once("w1") == 1
    assert delivery_of(post).state == State.PUBLISHED
    assert fake_network.publishes() == 2


def test_backoff_grows_with_jitter_and_a_ceiling():
    for attempts, low, high in [(1, 15, 30), (2, 30, 60), (3, 60, 120), (20, 1800, 3600)]:
        delay = publisher.backoff(attempts).total_seconds()
        assert low <= delay <= high
    assert publisher.backoff(1, retry_after=900).total_seconds() == 900


def test_a_transient_error_retries_until_max_attempts_then_fails(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.extend(NetworkError("503") for _ in range(publisher.MAX_ATTEMPTS))

    for _ in range(publisher.MAX_ATTEMPTS):
        frozen.move_to(delivery_of(post).due_at)
        publisher.run_once("w1")

    delivery = delivery_of(post)
    assert delivery.state == State.FAILED
    assert fake_network.publishes() == publisher.MAX_ATTEMPTS
    post.refresh_from_db()
    assert post.status == Post.Status.FAILED


def test_an_unknown_outcome_is_reconciled_without_a_second_publish(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.append("accept_then_timeout")

    publisher.run_once("w1")
    delivery = delivery_of(post)
    assert delivery.state == State.UNKNOWN
    assert delivery.due_at == NOON + publisher.CHECK_DELAY

    frozen.move_to(delivery.due_at)
    publisher.run_once("w2")

    delivery = delivery_of(post)
    assert delivery.state == State.PUBLISHED
    assert delivery.remote_id == "fake-1"
    assert fake_network.publishes() == 1
    assert [op for op, _key in fake_network.calls] == ["publish", "find_published"]
    assert [(a.kind, a.outcome) for a in delivery.attempt_log.all()] == [
        ("publish", "unknown"),
        ("check", "found"),
    ]


def test_an_unknown_outcome_that_did_not_happen_is_published_after_the_check(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.append(NetworkError("connection reset", outcome_unknown=True))

    publisher.run_once("w1")
    frozen.move_to(delivery_of(post).due_at)
    publisher.run_once("w1")

    delivery = delivery_of(post)
    assert delivery.state == State.PUBLISHED
    assert [op for op, _key in fake_network.calls] == ["publish", "find_published", "publish"]
    assert [(a.kind, a.outcome) for a in delivery.attempt_log.all()] == [
        ("publish", "unknown"),
        ("check", "not_found"),
        ("publish", "published"),
    ]


def test_a_failing_check_stays_unknown_and_never_publishes_blindly(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.append("accept_then_timeout")
    fake_network.find_script.append(NetworkError("503"))

    publisher.run_once("w1")
    frozen.move_to(delivery_of(post).due_at)
    publisher.run_once("w1")

    delivery = delivery_of(post)
    assert delivery.state == State.UNKNOWN
    assert delivery.due_at > NOON + publisher.CHECK_DELAY
    assert fake_network.publishes() == 1


def test_a_worker_that_crashed_mid_call_is_reconciled_after_its_lease(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.append("accept_then_crash")
    with pytest.raises(Crash):
        publisher.run_once("w1")
    assert delivery_of(post).state == State.PUBLISHING

    frozen.move_to(NOON + publisher.LEASE - dt.timedelta(seconds=1))
    assert publisher.run_once("w2") == 0  # the lease still holds

    frozen.move_to(NOON + publisher.LEASE + dt.timedelta(seconds=1))
    assert publisher.run_once("w2") == 1

    delivery = delivery_of(post)
    assert delivery.state == State.PUBLISHED
    assert delivery.remote_id == "fake-1"
    assert fake_network.publishes() == 1
    assert [(a.worker, a.kind, a.outcome) for a in delivery.attempt_log.all()] == [
        ("w1", "publish", ""),
        ("w2", "check", "found"),
    ]


def test_a_worker_whose_lease_expired_cannot_overwrite_the_new_owner(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    [first] = publisher.claim("w1")
    frozen.move_to(NOON + publisher.LEASE + dt.timedelta(seconds=1))
    [taken_over] = publisher.claim("w2")
    assert taken_over.needs_check

    assert publisher.process(first, "w1") == ""  # w1 notices it lost the lease: no call at all
    assert fake_network.calls == []
    assert publisher.process(taken_over, "w2") == State.PUBLISHED
    assert fake_network.publishes() == 1
    assert delivery_of(post).state == State.PUBLISHED


def test_a_permanent_error_fails_without_retrying(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.append(NetworkError("422 text too long", permanent=True))

    publisher.run_once("w1")

    delivery = delivery_of(post)
    assert delivery.state == State.FAILED
    assert delivery.last_error == "422 text too long"
    frozen.move_to(NOON + dt.timedelta(days=1))
    assert publisher.run_once("w1") == 0
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK


def test_an_auth_error_fails_and_marks_the_channel_for_reconnection(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    later = schedule(cast, [channel], text="Später")
    fake_network.script.append(NetworkError("401 token revoked", auth=True))

    publisher.run_once("w1")

    assert delivery_of(post).state == State.FAILED
    channel.refresh_from_db()
    assert channel.health == Channel.Health.NEEDS_RECONNECT
    assert channel.health_message == "401 token revoked"
    assert AuditEvent.objects.filter(action="channel.needs_reconnect", object_id=str(channel.pk)).exists()
    # The next delivery on that channel fails without calling the network again.
    assert delivery_of(later).state == State.FAILED
    assert fake_network.publishes() == 1


def test_a_connector_bug_counts_as_an_unknown_outcome(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.append(KeyError("id"))

    publisher.run_once("w1")

    assert delivery_of(post).state == State.UNKNOWN


def test_post_status_is_partial_when_one_channel_fails(cast, channel, second_channel, fake_network, frozen):
    post = schedule(cast, [channel, second_channel])
    fake_network.script.extend(["ok", NetworkError("403 forbidden", permanent=True)])

    publisher.run_once("w1")

    post.refresh_from_db()
    assert post.status == Post.Status.PARTIAL
    assert sorted(post.deliveries.values_list("state", flat=True)) == [
        State.FAILED,
        State.PUBLISHED,
    ]


def test_a_long_overdue_delivery_is_swept_up_and_logged(cast, channel, fake_network, frozen, caplog):
    post = schedule(cast, [channel], at=NOON - dt.timedelta(hours=3))

    assert publisher.run_once("w1") == 1

    assert delivery_of(post).state == State.PUBLISHED
    assert "published 3:00:00 late" in caplog.text


def test_claims_come_in_batches(cast, channel, fake_network, frozen):
    for n in range(5):
        schedule(cast, [channel], text=f"Post {n}")

    claims = publisher.claim("w1", limit=2)
    assert len(claims) == 2
    assert publisher.run_once("w1", limit=2) == 3  # the two claimed above are w1's until the lease ends


def test_on_sqlite_the_publisher_finds_claimed_rows_by_id(cast, channel, fake_network, frozen):
    """Without table statistics SQLite planned statements on claimed rows (`id IN (...) AND
    state = ...`) through an index on `state`: the claim's UPDATE read every scheduled row for
    every batch (N squared in a burst)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner; PostgreSQL plans with the statistics it keeps")
    for n in range(20):  # (more ids than SQLite guesses rows per `state` without statistics)
        schedule(cast, [channel], text=f"Post {n}")
    statements: list[str] = []
    connection.ensure_connection()
    connection.connection.set_trace_callback(statements.append)
    try:
        assert publisher.run_once("w1") == 20
    finally:
        connection.connection.set_trace_callback(None)

    by_id = [
        s
        for s in statements
        if s.startswith(('SELECT id FROM "publishing_delivery"', 'UPDATE "publishing_delivery"')) and " id IN (" in s
    ]
    assert any(s.startswith('UPDATE "publishing_delivery" SET state') for s in by_id)  # the claim
    assert any(s.startswith("SELECT id") for s in by_id)  # the lease checks before calls and after
    for statement in by_id:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}")
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "USING INTEGER PRIMARY KEY" in plan, (statement, plan)
        assert " INDEX " not in plan.replace("INTEGER PRIMARY KEY", ""), (statement, plan)


def test_two_workers_cannot_claim_the_same_delivery(cast, channel, fake_network, frozen):
    schedule(cast, [channel])

    first = publisher.claim("w1")
    second = publisher.claim("w2")

    assert len(first) == 1
    assert second == []
    assert Delivery.objects.get().lease_owner == "w1"


def test_a_claim_loses_when_the_row_changed_after_it_was_selected(cast, channel, fake_network, frozen):
    """The conditional UPDATE: w2 saw the row as scheduled, but w1 claimed it first."""
    post = schedule(cast, [channel])
    delivery = delivery_of(post)
    publisher.claim("w1")

    due = publisher.claimable(timezone.now(), timezone.now())
    won = Delivery.objects.filter(due, pk=delivery.pk, state=State.SCHEDULED).update(
        state=State.PUBLISHING, lease_owner="w2"
    )
    assert won == 0
    assert delivery_of(post).lease_owner == "w1"


def test_a_stopping_worker_releases_the_rest_of_its_batch(cast, channel, fake_network, frozen):
    for n in range(3):
        schedule(cast, [channel], text=f"Post {n}")
    calls = []

    def stop_after_one():
        calls.append(1)
        return len(calls) > 1

    assert publisher.run_once("w1", should_stop=stop_after_one) == 1

    states = sorted(Delivery.objects.values_list("state", "lease_owner"))
    assert states == [(State.PUBLISHED, ""), (State.SCHEDULED, ""), (State.SCHEDULED, "")]
    assert publisher.run_once("w2") == 2


def test_on_postgresql_a_locked_row_is_skipped_not_waited_for(transactional_db, cast, channel, fake_network):
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is the PostgreSQL claim; SQLite runs one writer at a time")
    post = schedule(cast, [channel], at=timezone.now())
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        other.set_autocommit(False)
        with other.cursor() as cursor:  # another worker's claim transaction, still open
            cursor.execute("SELECT id FROM publishing_delivery WHERE post_id = %s FOR UPDATE", [post.pk])
        assert publisher.claim("w2") == []
        other.rollback()
        assert [c.delivery_id for c in publisher.claim("w2")] == [delivery_of(post).pk]
    finally:
        other.close()


def test_the_lease_is_renewed_when_the_call_starts(cast, channel, fake_network, frozen):
    """The last item of a long batch still has a full lease for its network call."""
    post = schedule(cast, [channel])
    [item] = publisher.claim("w1")
    frozen.move_to(NOON + publisher.LEASE - dt.timedelta(seconds=5))
    fake_network.script.append(Crash())  # look at the row as it is during the call

    with pytest.raises(Crash):
        publisher.process(item, "w1")

    delivery = delivery_of(post)
    assert delivery.lease_until == NOON + publisher.LEASE - dt.timedelta(seconds=5) + publisher.LEASE
    frozen.move_to(NOON + publisher.LEASE + dt.timedelta(seconds=1))
    assert publisher.claim("w2") == []


def test_a_stopping_worker_leaves_no_attempt_for_calls_it_never_made(cast, channel, fake_network, frozen):
    """Attempts of a group are recorded before its first call; the ones never called are removed."""
    for n in range(3):
        schedule(cast, [channel], text=f"Post {n}")
    calls = []

    def stop_after_one():
        calls.append(1)
        return len(calls) > 1

    publisher.run_once("w1", should_stop=stop_after_one)

    assert fake_network.publishes() == 1
    assert DeliveryAttempt.objects.count() == 1
    assert sorted(Delivery.objects.values_list("attempts", flat=True)) == [0, 0, 1]


def test_a_group_gives_back_the_rest_when_its_lease_runs_short(cast, channel, fake_network, frozen, monkeypatch):
    """A call starts only while half the lease is left: a stalled worker gives the rest back
    instead of calling after another worker may have taken the rows over."""
    for n in range(3):
        schedule(cast, [channel], text=f"Post {n}")
    from stammtisch.publishing.tests.fake import FakeNetwork

    original = FakeNetwork.publish

    def slow_publish(self, channel, outgoing, key):
        remote = original(self, channel, outgoing, key)
        frozen.shift(publisher.LEASE / 2 + dt.timedelta(seconds=1))  # the call stalled
        return remote

    monkeypatch.setattr(FakeNetwork, "publish", slow_publish)

    assert publisher.run_once("w1") == 1

    states = sorted(Delivery.objects.values_list("state", "lease_owner", "attempts"))
    assert states == [(State.PUBLISHED, "", 1), (State.SCHEDULED, "", 0), (State.SCHEDULED, "", 0)]
    assert publisher.run_once("w2") == 1  # and so on, one call per stall


def test_a_batch_of_first_publishes_takes_a_few_queries_per_group(cast, channel, fake_network, frozen):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(20):
        schedule(cast, [channel], text=f"Post {n}")

    with CaptureQueriesContext(connection) as queries:
        assert publisher.run_once("w1") == 20

    assert fake_network.publishes() == 20
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # claim (2), load (2: the deliveries, their posts' media), and per group of 10: record (3),
    # store (6; one executemany): none per delivery
    assert len(statements) <= 22
    assert set(Delivery.objects.values_list("state", flat=True)) == {State.PUBLISHED}
    assert set(Post.objects.values_list("status", flat=True)) == {Post.Status.PUBLISHED}


def test_timings_can_be_shortened_for_benchmarks(monkeypatch):
    for name in ("LEASE", "BACKOFF_BASE", "BACKOFF_MAX", "CHECK_DELAY"):
        monkeypatch.setattr(publisher, name, getattr(publisher, name))  # restored afterwards

    publisher.configure(lease=5, retry_base=0.5, retry_max=5, check_delay=0.5)

    assert publisher.LEASE.total_seconds() == 5
    assert publisher.backoff(10) <= dt.timedelta(seconds=5)
    assert publisher.CHECK_DELAY.total_seconds() == 0.5
    with pytest.raises(ValueError, match="lease"):
        publisher.configure(lease=0)


def test_a_claim_whose_worker_died_before_any_call_is_published_without_a_check(cast, channel, fake_network, frozen):
    posts = [schedule(cast, [channel], text=f"Post {n}") for n in range(3)]
    assert len(publisher.claim("w1")) == 3  # then w1 is killed: no attempt was recorded

    frozen.move_to(NOON + publisher.LEASE + dt.timedelta(seconds=1))
    assert publisher.run_once("w2") == 3

    assert [op for op, _key in fake_network.calls] == ["publish"] * 3  # nothing to look for
    assert {delivery_of(post).state for post in posts} == {State.PUBLISHED}


def test_a_taken_over_claim_with_a_recorded_attempt_is_still_checked_first(cast, channel, fake_network, frozen):
    post = schedule(cast, [channel])
    fake_network.script.append("accept_then_crash")
    with pytest.raises(Crash):
        publisher.run_once("w1")

    frozen.move_to(NOON + publisher.LEASE + dt.timedelta(seconds=1))
    publisher.run_once("w2")

    assert [op for op, _key in fake_network.calls] == ["publish", "find_published"]
    assert delivery_of(post).state == State.PUBLISHED and fake_network.publishes() == 1


def test_the_claim_takes_the_oldest_due_first_across_states_and_expired_leases(cast, channel, fake_network, frozen):
    posts = [schedule(cast, [channel], text=f"Post {n}") for n in range(5)]
    deliveries = [delivery_of(post) for post in posts]
    minute = dt.timedelta(minutes=1)
    # Oldest first: a retry (due 4 min ago), a lease that ran out (due 3 min ago), an unknown
    # outcome (2 min ago), a plain scheduled one (1 min ago); the fifth is not due yet.
    setups = [
        (State.SCHEDULED, NOON - minute, "", None),
        (State.UNKNOWN, NOON - 2 * minute, "", None),
        (State.PUBLISHING, NOON - 3 * minute, "gone", NOON - minute),
        (State.RETRY_WAIT, NOON - 4 * minute, "", None),
        (State.SCHEDULED, NOON + minute, "", None),
    ]
    for delivery, (state, due_at, owner, lease_until) in zip(deliveries, setups, strict=True):
        Delivery.objects.filter(pk=delivery.pk).update(
            state=state, due_at=due_at, lease_owner=owner, lease_until=lease_until
        )

    first = publisher.claim("w1", limit=2)
    rest = publisher.claim("w1", limit=10)

    assert [c.delivery_id for c in first] == [deliveries[3].pk, deliveries[2].pk]
    assert [c.previous_state for c in first] == [State.RETRY_WAIT, State.PUBLISHING]
    assert [c.delivery_id for c in rest] == [deliveries[1].pk, deliveries[0].pk]
    assert delivery_of(posts[4]).state == State.SCHEDULED


def test_a_batch_loads_what_the_orm_would_and_sees_a_channel_changed_since_the_last_batch(
    cast, channel, fake_network, frozen
):
    post = schedule(cast, [channel])
    delivery = delivery_of(post)

    [loaded] = publisher._load([delivery.pk]).values()

    fields = [f.attname for f in Delivery._meta.concrete_fields]
    assert [getattr(loaded, name) for name in fields] == [getattr(delivery, name) for name in fields]
    assert loaded.due_at == NOON and loaded.due_at.tzinfo is not None
    assert (loaded.post.link, loaded.post.first_comment, loaded.post.workspace_id) == (
        post.link,
        post.first_comment,
        post.workspace_id,
    )
    assert loaded.post.text == post.text  # not loaded with the batch: read on first use
    assert loaded.channel.credentials == Channel.objects.get(pk=channel.pk).credentials
    assert publisher._load([delivery.pk])[delivery.pk].channel is loaded.channel  # unchanged: the same one

    assert publisher.run_once("w1") == 1
    # Another process marks the channel for reconnection: the next batch knows.
    Channel.objects.filter(pk=channel.pk).update(health=Channel.Health.NEEDS_RECONNECT)
    later = schedule(cast, [channel], text="Noch ein Post")
    assert publisher.run_once("w1") == 1
    assert delivery_of(later).state == State.FAILED
    assert fake_network.publishes() == 1


def test_slow_calls_store_what_is_done_every_few_seconds_and_go_on_with_the_rest(
    cast, channel, fake_network, frozen, monkeypatch
):
    """A real network takes a second or more per call: a group of a hundred would show its
    first posts as published only minutes later. Past GROUP_TIME the group stores what is done
    and the rest goes on, still leased, in the next group (nothing released, nothing sent twice)."""
    posts = [schedule(cast, [channel], text=f"Post {n}") for n in range(5)]
    from stammtisch.publishing.tests.fake import FakeNetwork

    original = FakeNetwork.publish
    stored_at_call = []

    def slow_publish(self, channel, outgoing, key):
        stored_at_call.append(Delivery.objects.filter(state=State.PUBLISHED).count())
        remote = original(self, channel, outgoing, key)
        frozen.shift(publisher.GROUP_TIME * 0.6)
        return remote

    monkeypatch.setattr(FakeNetwork, "publish", slow_publish)

    assert publisher.run_once("w1") == 5

    assert stored_at_call == [0, 0, 2, 2, 4]  # stored after every second call
    assert fake_network.publishes() == 5
    for post in posts:
        delivery = delivery_of(post)
        assert (delivery.state, delivery.attempts, delivery.lease_owner) == (State.PUBLISHED, 1, "")
        assert [a.outcome for a in delivery.attempt_log.all()] == ["published"]
