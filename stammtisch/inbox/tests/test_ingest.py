"""Storing events: idempotency, threading, edits and deletions, interactions, bad texts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from stammtisch.inbox import ingest, labels
from stammtisch.inbox.models import Conversation, Interaction, Message
from stammtisch.inbox.tests.fake import T0, comment
from stammtisch.networks.base import Event
from stammtisch.publishing.models import Delivery, Post

pytestmark = pytest.mark.django_db
NOW = T0 + dt.timedelta(hours=2)


def test_the_same_events_twice_are_stored_once(channel) -> None:
    events = [comment(n) for n in range(1, 6)]
    first = ingest.store_events(channel, events, now=NOW)
    second = ingest.store_events(channel, events + events, now=NOW)
    assert (first.messages, second.messages) == (5, 0)
    assert Message.objects.count() == 5
    conversation = Conversation.objects.get()
    assert (conversation.message_count, conversation.incoming_count) == (5, 5)


def test_comments_are_threaded_per_post_and_linked_to_our_delivery(cast, channel) -> None:
    post = Post.objects.create(workspace=cast.workspace, text="Sonntagsbrunch ab 10 Uhr!")
    delivery = Delivery.objects.create(post=post, channel=channel, text=post.text, remote_id="post-1")
    events = [comment(1, post="post-1"), comment(2, post="post-2"), comment(3, post="post-1")]
    answer = Event(
        kind="reply",
        remote_id="c-4",
        occurred_at=T0 + dt.timedelta(minutes=9),
        author_id="person-1",
        author_name="Fan Nummer1",
        text="Danke!",
        in_reply_to="our-1",
        post_remote_id="post-1",
    )
    ingest.store_events(channel, [*events, answer], now=NOW)
    first = Conversation.objects.get(root_remote_id="post-1")
    assert first.kind == Conversation.Kind.COMMENTS
    assert first.delivery == delivery
    assert list(first.messages.order_by("occurred_at").values_list("remote_id", flat=True)) == ["c-1", "c-3", "c-4"]
    assert first.messages.get(remote_id="c-4").parent_remote_id == "our-1"
    assert first.excerpt == "Danke!"  # the newest incoming message is shown in the list
    assert Conversation.objects.get(root_remote_id="post-2").delivery is None


def test_mentions_and_direct_messages_get_conversations_of_their_own(channel) -> None:
    base = dict(occurred_at=T0, author_id="person-9", author_handle="lena", author_name="Lena Maier")
    events = [
        Event(kind="mention", remote_id="m-1", text="@koenigsbau bester Kaffee!", **base),  # type: ignore[arg-type]
        Event(kind="message", remote_id="dm-1", text="Hallo, eine Frage", **base),  # type: ignore[arg-type]
        Event(kind="message", remote_id="dm-2", text="Noch da?", **{**base, "occurred_at": T0 + dt.timedelta(hours=1)}),  # type: ignore[arg-type]
    ]
    ingest.store_events(channel, events, now=NOW)
    mention = Conversation.objects.get(kind=Conversation.Kind.MENTION)
    direct = Conversation.objects.get(kind=Conversation.Kind.MESSAGE)
    assert mention.root_remote_id == "m-1"
    assert direct.root_remote_id == "person-9"
    assert direct.message_count == 2
    assert direct.last_message_at == T0 + dt.timedelta(hours=1)


def test_events_without_text_are_interactions_stored_once(channel) -> None:
    like = Event(kind="like", remote_id="event-1", occurred_at=T0, author_id="p1", author_handle="lena")
    follow = Event(kind="follow", remote_id="event-2", occurred_at=T0, author_id="p2")
    ingest.store_events(channel, [like, follow, like], now=NOW)
    ingest.store_events(channel, [like], now=NOW)
    assert sorted(Interaction.objects.values_list("kind", flat=True)) == ["follow", "like"]
    assert not Conversation.objects.exists()


def test_edits_and_deletions_on_the_network_are_reflected(channel) -> None:
    original = comment(1, text="Der Kuchen war trocken")
    ingest.store_events(channel, [original], now=NOW)
    edited = dataclasses.replace(
        original, text="Der Kuchen war lecker", occurred_at=T0 + dt.timedelta(hours=1), data={"edited": True}
    )
    ingest.store_events(channel, [edited], now=NOW)
    message = Message.objects.get()
    assert message.text == "Der Kuchen war lecker"
    assert message.edited_at == T0 + dt.timedelta(hours=1)
    deleted = dataclasses.replace(original, occurred_at=T0 + dt.timedelta(hours=2), data={"deleted": True})
    ingest.store_events(channel, [deleted], now=NOW)
    message.refresh_from_db()
    assert message.deleted_at == T0 + dt.timedelta(hours=2)
    assert Message.objects.count() == 1


def test_a_new_comment_reopens_a_conversation_that_was_done(channel) -> None:
    ingest.store_events(channel, [comment(1)], now=NOW)
    Conversation.objects.update(status=Conversation.Status.DONE)
    ingest.store_events(channel, [comment(1)], now=NOW)  # the same again: still done
    assert Conversation.objects.get().status == Conversation.Status.DONE
    ingest.store_events(channel, [comment(2)], now=NOW)
    assert Conversation.objects.get().status == Conversation.Status.OPEN


BAD_TEXTS = {
    "emoji": "😀🔥☕️👍🏽",
    "empty": "",
    "long": "Kaffee " * 7143,  # 50,001 characters
    "control": "a\x00b\x01c\x07d\x1b[31me\u202eevil",
    "html": '<script>alert(1)</script><img src=x onerror="alert(2)">',
    "mixed": "Super Kuchen, really great coffee, merci!",
}


@pytest.mark.parametrize("name", list(BAD_TEXTS))
def test_bad_texts_are_stored(channel, name: str) -> None:
    text = BAD_TEXTS[name]
    ingest.store_events(channel, [comment(1, text=text or " ")], now=NOW)
    stored = Message.objects.get().text
    assert stored == (text or " ").replace("\x00", "\ufffd")
    assert len(Conversation.objects.get().excerpt) <= 300


def test_new_texts_are_triaged_and_a_broken_triage_stores_empty_labels(channel, monkeypatch) -> None:
    calls: list[str] = []

    def fake_triage(text: str) -> dict[str, object]:
        calls.append(text)
        if "kaputt" in text:
            raise RuntimeError("model broken")
        return {"language": "de", "sentiment": "negative", "intent": "complaint", "confidence": 0.8}

    monkeypatch.setattr(labels, "_triage", fake_triage)
    ingest.store_events(channel, [comment(1, text="Zu kalt!"), comment(2, text="kaputt")], now=NOW)
    ingest.store_events(channel, [comment(1, text="Zu kalt!")], now=NOW)  # seen again: not triaged again
    assert calls == ["Zu kalt!", "kaputt"]
    first, second = Message.objects.order_by("remote_id")
    assert (first.language, first.sentiment, first.intent, first.confidence) == ("de", "negative", "complaint", 0.8)
    assert (second.language, second.sentiment, second.intent, second.confidence) == ("", "", "", None)
    assert Conversation.objects.get().sentiment == ""  # the newest message's labels


def test_labels_outside_the_known_choices_are_dropped(monkeypatch) -> None:
    monkeypatch.setattr(labels, "_triage", lambda text: {"language": "fr", "sentiment": "meh", "intent": "question"})
    assert labels.triage("Bonjour ?") == labels.Labels(language="", sentiment="", intent="question")
