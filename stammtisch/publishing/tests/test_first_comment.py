"""The first comment under a published post: posted once, never failing the post (docs/publishing.md)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from stammtisch.core.actions import Actor
from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.networks.sandbox.models import SandboxPost
from stammtisch.publishing import publisher, ratelimit
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, DeliveryAttempt, Post
from stammtisch.publishing.tests import fake
from stammtisch.publishing.tests.fake import Crash, FakeNetwork

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
State = Delivery.State
COMMENT = "Mehr dazu im Link in unserer Bio!"


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def limiter(monkeypatch) -> None:
    monkeypatch.setattr(publisher, "LIMITER", ratelimit.Limiter())


@pytest.fixture
def replies(fake_network, monkeypatch) -> list[object]:
    """Let the fake network take first comments; returns the script of its reply calls ("ok",
    an exception, "accept_then_timeout" or "accept_then_crash")."""
    script: list[object] = []

    def reply(self, channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        state = fake.STATE
        state.calls.append(("reply", idempotency_key))
        step = script.pop(0) if script else "ok"
        if isinstance(step, BaseException):
            raise step
        remote = Remote(id=f"comment-{len(state.posts) + 1}", url="https://fake.example/c")
        state.posts[idempotency_key] = remote  # find_published finds it by its key
        if step == "accept_then_timeout":
            raise NetworkError("timed out waiting for the response", outcome_unknown=True)
        if step == "accept_then_crash":
            raise Crash
        return remote

    monkeypatch.setattr(FakeNetwork, "supports_first_comment", True)
    monkeypatch.setattr(FakeNetwork, "reply", reply)
    return script


def schedule(cast, channel, first_comment=COMMENT):
    return do_create_post(
        Actor.system("test"),
        cast.workspace,
        text="Unser neues Sauerteigbrot ist da!",
        channels=[channel],
        scheduled_at=NOON,
        first_comment=first_comment,
    )


def replies_made(state) -> int:
    return sum(1 for op, _key in state.calls if op == "reply")


def comment_attempts(delivery) -> list[tuple[str, str]]:
    rows = DeliveryAttempt.objects.filter(delivery=delivery, kind=DeliveryAttempt.Kind.COMMENT)
    return list(rows.order_by("started_at", "pk").values_list("outcome", "error"))


def test_it_posts_the_first_comment_under_the_sandbox_post(cast, frozen, settings):
    settings.SANDBOX_REACTIONS = False
    channel = do_connect_sandbox_channel(Actor.system("test"), cast.workspace, "cafe-koenigsbau", "Café")
    post = schedule(cast, channel)

    assert publisher.run_once("w1") == 1

    delivery = Delivery.objects.get(post=post)
    assert delivery.state == State.PUBLISHED
    comment = SandboxPost.objects.get(parent__isnull=False)
    assert comment.text == COMMENT and comment.author_persona is None
    assert f"post-{comment.parent_id}" == delivery.remote_id
    assert comment.idempotency_key == f"{delivery.idempotency_key}:first-comment"
    assert delivery.first_comment_id == f"post-{comment.pk}"
    assert delivery.first_comment_error == "" and delivery.lease_owner == "" and delivery.lease_until is None
    assert comment_attempts(delivery) == [("published", "")]
    # Nothing is left to do: another pass posts nothing more.
    assert publisher.run_once("w1") == 0
    assert SandboxPost.objects.filter(parent__isnull=False).count() == 1


def test_the_sandbox_reply_is_idempotent_by_key(cast, frozen):
    channel = do_connect_sandbox_channel(Actor.system("test"), cast.workspace, "cafe-koenigsbau", "Café")
    network = channel.connector
    from stammtisch.networks.base import Outgoing

    remote = network.publish(channel, Outgoing(text="Hallo"), "key-1")
    first = network.reply(channel, remote, COMMENT, "key-1:first-comment")
    again = network.reply(channel, remote, COMMENT, "key-1:first-comment")
    assert first == again
    assert SandboxPost.objects.filter(parent__isnull=False, author_persona__isnull=True).count() == 1
    assert network.find_published(channel, "key-1:first-comment", NOON - dt.timedelta(hours=1)) == first


def test_a_failing_first_comment_leaves_the_post_published_and_is_retried(cast, channel, replies, frozen):
    replies.append(NetworkError("503 Service Unavailable"))
    post = schedule(cast, channel)

    publisher.run_once("w1")

    delivery = Delivery.objects.get(post=post)
    assert delivery.state == State.PUBLISHED
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED
    assert delivery.first_comment_id == "" and delivery.first_comment_error == ""
    assert delivery.lease_owner == "" and delivery.lease_until > NOON  # the next try, with backoff
    assert comment_attempts(delivery) == [("retry", "503 Service Unavailable")]

    publisher.run_once("w1")  # not yet due
    assert replies_made(fake.STATE) == 1

    frozen.move_to(delivery.lease_until)
    publisher.run_once("w2")
    delivery.refresh_from_db()
    assert delivery.first_comment_id == "comment-2"
    assert comment_attempts(delivery) == [("retry", "503 Service Unavailable"), ("published", "")]
    assert replies_made(fake.STATE) == 2


def test_it_gives_up_after_a_few_tries_and_shows_the_error(cast, channel, replies, frozen):
    replies.extend(NetworkError("503 Service Unavailable") for _ in range(publisher.MAX_COMMENT_CALLS))
    post = schedule(cast, channel)
    publisher.run_once("w1")
    for _try in range(publisher.MAX_COMMENT_CALLS - 1):
        frozen.shift(publisher.BACKOFF_MAX)
        publisher.run_once("w1")

    delivery = Delivery.objects.get(post=post)
    assert replies_made(fake.STATE) == publisher.MAX_COMMENT_CALLS
    assert delivery.first_comment_error == "503 Service Unavailable"
    assert delivery.state == State.PUBLISHED and delivery.lease_until is None
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED
    frozen.shift(publisher.BACKOFF_MAX)
    publisher.run_once("w1")
    assert replies_made(fake.STATE) == publisher.MAX_COMMENT_CALLS  # given up for good


def test_a_permanent_error_is_shown_at_once(cast, channel, replies, frozen):
    replies.append(NetworkError("400 text too long", permanent=True))
    post = schedule(cast, channel)
    publisher.run_once("w1")
    delivery = Delivery.objects.get(post=post)
    assert delivery.first_comment_error == "400 text too long"
    assert delivery.state == State.PUBLISHED


def test_an_unknown_outcome_is_checked_before_replying_again(cast, channel, replies, frozen):
    replies.append("accept_then_timeout")
    post = schedule(cast, channel)
    publisher.run_once("w1")
    delivery = Delivery.objects.get(post=post)
    assert delivery.first_comment_id == ""
    assert comment_attempts(delivery)[-1][0] == "unknown"

    frozen.shift(publisher.CHECK_DELAY)
    publisher.run_once("w1")

    delivery.refresh_from_db()
    assert replies_made(fake.STATE) == 1  # found, not posted again
    assert delivery.first_comment_id == "comment-2"
    assert [outcome for outcome, _error in comment_attempts(delivery)] == ["unknown", "found"]


def test_a_worker_that_dies_mid_comment_is_taken_over_without_a_second_comment(cast, channel, replies, frozen):
    replies.append("accept_then_crash")
    post = schedule(cast, channel)
    with pytest.raises(Crash):
        publisher.run_once("w1")
    delivery = Delivery.objects.get(post=post)
    assert delivery.state == State.PUBLISHED
    assert delivery.lease_owner == "w1"  # held by the dead worker until its lease ends

    publisher.run_once("w2")
    assert replies_made(fake.STATE) == 1  # the lease still stands

    frozen.shift(publisher.LEASE + dt.timedelta(seconds=1))
    publisher.run_once("w2")
    delivery.refresh_from_db()
    assert replies_made(fake.STATE) == 1
    assert delivery.first_comment_id == "comment-2" and delivery.lease_owner == ""
    assert [outcome for outcome, _error in comment_attempts(delivery)] == ["", "found"]


def test_a_check_that_finds_nothing_lets_the_next_try_reply(cast, channel, replies, frozen):
    replies.append(NetworkError("connection reset", outcome_unknown=True))  # raised before storing
    post = schedule(cast, channel)
    publisher.run_once("w1")
    frozen.shift(publisher.CHECK_DELAY)
    publisher.run_once("w1")  # checks: not found
    publisher.run_once("w1")  # replies
    delivery = Delivery.objects.get(post=post)
    assert [outcome for outcome, _error in comment_attempts(delivery)] == ["unknown", "not_found", "published"]
    assert replies_made(fake.STATE) == 2 and delivery.first_comment_id


def test_no_comment_where_the_network_has_none(cast, channel, fake_network, frozen):
    post = schedule(cast, channel)
    publisher.run_once("w1")
    delivery = Delivery.objects.get(post=post)
    assert delivery.state == State.PUBLISHED
    assert delivery.first_comment_id == "" and delivery.lease_until is None and delivery.lease_owner == ""
    assert comment_attempts(delivery) == []


def test_a_post_without_a_first_comment_gets_none(cast, channel, replies, frozen):
    post = schedule(cast, channel, first_comment="")
    publisher.run_once("w1")
    assert replies_made(fake.STATE) == 0
    assert comment_attempts(Delivery.objects.get(post=post)) == []
