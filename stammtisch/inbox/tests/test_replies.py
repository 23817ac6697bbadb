"""Replies written in the inbox reach the network exactly once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from stammtisch.core.actions import Actor
from stammtisch.inbox import actions, ingest, replies, sync
from stammtisch.inbox.models import Conversation, Message, Reply, ReplyAttempt
from stammtisch.inbox.tests.fake import comment
from stammtisch.networks.base import NetworkError, Outgoing
from stammtisch.networks.sandbox import clock
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.networks.sandbox.models import SandboxPost

pytestmark = pytest.mark.django_db


def _conversation(channel, now) -> Conversation:  # type: ignore[no-untyped-def]
    ingest.store_events(channel, [comment(1)], now=now)
    return Conversation.objects.get()


def test_a_reply_is_sent_once_and_becomes_a_message(cast, channel, fake_network, now) -> None:
    conversation = _conversation(channel, now)
    reply = actions.do_reply(Actor(user=cast.bob), conversation, "Ja, ab 10 Uhr!")
    assert reply.state == Reply.State.PENDING
    assert reply.in_reply_to == "c-1"
    assert replies.run_due("w1", now=timezone.now()) == 1
    assert replies.run_due("w1", now=timezone.now()) == 0
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT
    assert reply.remote_id == "our-reply-1"
    assert fake_network.reply_calls() == 1
    ours = Message.objects.get(direction=Message.Direction.OUT)
    assert (ours.remote_id, ours.text, ours.parent_remote_id) == ("our-reply-1", "Ja, ab 10 Uhr!", "c-1")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WAITING
    assert conversation.first_response_at is not None
    assert conversation.message_count == 2


def test_an_unknown_outcome_is_checked_before_anything_is_sent_again(cast, channel, fake_network, now) -> None:
    conversation = _conversation(channel, now)
    reply = actions.do_reply(Actor(user=cast.bob), conversation, "Gern!")
    fake_network.reply_script = ["accept_then_timeout"]
    replies.run_due("w1", now=timezone.now())
    reply.refresh_from_db()
    assert reply.state == Reply.State.UNKNOWN
    replies.run_due("w1", now=timezone.now() + replies.CHECK_DELAY)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT
    assert fake_network.reply_calls() == 1
    assert [op for op, _key in fake_network.calls] == ["reply", "find_published"]
    kinds = list(ReplyAttempt.objects.values_list("kind", "outcome"))
    assert kinds == [("reply", "unknown"), ("check", "found")]


def test_a_worker_killed_mid_call_leaves_an_attempt_that_is_checked_first(cast, channel, fake_network, now) -> None:
    conversation = _conversation(channel, now)
    reply = actions.do_reply(Actor(user=cast.bob), conversation, "Gern!")
    [pk] = replies.claim("w1", now=timezone.now())
    # The attempt is committed before the call; then w1 dies (no outcome recorded).
    ReplyAttempt.objects.create(reply=reply, kind=ReplyAttempt.Kind.REPLY, worker="w1")
    Reply.objects.filter(pk=pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    replies.run_due("w2", now=timezone.now())
    reply.refresh_from_db()
    # The fake never received the call, so the check finds nothing; the reply goes out next time.
    assert reply.state == Reply.State.PENDING
    replies.run_due("w2", now=timezone.now())
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT
    assert fake_network.reply_calls() == 1


def test_transient_errors_are_retried_and_permanent_ones_fail(cast, channel, fake_network, now) -> None:
    conversation = _conversation(channel, now)
    reply = actions.do_reply(Actor(user=cast.bob), conversation, "Gern!")
    fake_network.reply_script = [NetworkError("503"), NetworkError("400 too long", permanent=True)]
    replies.run_due("w1", now=timezone.now())
    reply.refresh_from_db()
    assert reply.state == Reply.State.RETRY_WAIT
    replies.run_due("w1", now=reply.due_at)
    reply.refresh_from_db()
    assert (reply.state, reply.last_error) == (Reply.State.FAILED, "400 too long")


def test_two_workers_claim_a_reply_once(cast, channel, fake_network, now) -> None:
    conversation = _conversation(channel, now)
    actions.do_reply(Actor(user=cast.bob), conversation, "Gern!")
    at = timezone.now()
    assert len(replies.claim("w1", now=at)) == 1
    assert replies.claim("w2", now=at) == []


def test_a_sandbox_question_is_answered_once_and_the_answer_is_on_its_feed(cast) -> None:
    channel = do_connect_sandbox_channel(Actor.system(), cast.workspace, "koenigsbau", "Café Königsbau")
    connector = channel.connector
    three_days_ago = timezone.now() - dt.timedelta(days=3)
    with clock.at(three_days_ago):
        for n in range(3):
            connector.publish(
                channel,
                Outgoing(text=f"Heute frischer Zwetschgenkuchen und Kaffee! Wer kommt vorbei? ({n})"),
                f"key-{n}",
            )
    now = timezone.now()
    assert sync.run_due("w1", now=now) > 0
    conversation = Conversation.objects.filter(kind=Conversation.Kind.COMMENTS).order_by("-last_message_at").first()
    assert conversation is not None
    reply = actions.do_reply(Actor(user=cast.bob), conversation, "Danke für deinen Kommentar!")
    assert replies.run_due("w1", now=timezone.now()) == 1
    assert replies.run_due("w2", now=timezone.now()) == 0
    on_sandbox = SandboxPost.objects.filter(idempotency_key=str(reply.idempotency_key))
    assert on_sandbox.count() == 1
    answer = on_sandbox.get()
    assert answer.author_persona_id is None
    assert f"post-{answer.parent_id}" == reply.in_reply_to
    from django.test import Client

    feed = Client().get(f"/sandbox/koenigsbau/{answer.root_id}/")
    assert "Danke für deinen Kommentar!" in feed.content.decode()
