"""Storing what `fetch_activity` returned: events become messages in conversations, or
interactions (docs/inbox.md "Threading").

* comment, reply: the conversation of our post (`post_remote_id`, else `in_reply_to`);
* mention: a conversation per mentioning post (`data["thread"]`, else the event's remote id);
* message: a conversation per person (`data["conversation"]`, else the author's id);
* anything without text (like, share, follow, unfollow, click, view): an Interaction.

Idempotent: a message is unique per (channel, remote id), an interaction per (channel, kind,
remote id); rows are inserted with `ignore_conflicts`, so an event seen twice is stored once, and
the conversation figures are recounted from the stored rows. An event with `data["edited"]`
replaces the stored text (and sets `edited_at`); one with `data["deleted"]` marks the message
deleted. Only new incoming texts are triaged. The caller holds the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Max, Q

from stammtisch.inbox import labels, rules
from stammtisch.inbox.models import Conversation, Interaction, Message
from stammtisch.networks.base import Event
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Delivery

TEXT_KINDS = {"comment": Conversation.Kind.COMMENTS, "reply": Conversation.Kind.COMMENTS}
TEXT_KINDS |= {"mention": Conversation.Kind.MENTION, "message": Conversation.Kind.MESSAGE}
EXCERPT = 300


@dataclass
class Stored:
    messages: int = 0  # new messages
    interactions: int = 0  # new interactions
    updated: int = 0  # edits and deletions applied


def clean(text: str) -> str:
    """What we store of a network's text: everything, except NUL (PostgreSQL cannot store it)."""
    return text.replace("\x00", "\ufffd")


def _cut(value: str, length: int = 200) -> str:
    return clean(value)[:length]


def conversation_key(event: Event) -> tuple[str, str] | None:
    """(kind, root remote id) of the conversation an event belongs to; None for events that
    are no conversation."""
    kind = TEXT_KINDS.get(event.kind)
    if kind is None:
        return None
    if kind == Conversation.Kind.COMMENTS:
        root = event.post_remote_id or event.in_reply_to or event.remote_id
    elif kind == Conversation.Kind.MENTION:
        root = str(event.data.get("thread") or event.remote_id)
    else:
        root = str(event.data.get("conversation") or event.author_id or event.author_handle or event.remote_id)
    return kind, root[:200]


def store_events(channel: Channel, events: Iterable[Event], *, now: dt.datetime) -> Stored:
    """Store one page of events of `channel` (inside the caller's transaction)."""
    stored = Stored()
    texts: list[tuple[Event, tuple[str, str]]] = []
    others: list[Event] = []
    changes: list[Event] = []
    for event in events:
        key = conversation_key(event)
        if key is None:
            others.append(event)
        elif event.data.get("edited") or event.data.get("deleted"):
            changes.append(event)
        else:
            texts.append((event, key))
    stored.interactions = _store_interactions(channel, others)
    if texts:
        stored.messages = _store_messages(channel, texts, now)
    if changes:
        stored.updated = _apply_changes(channel, changes, now)
    # The links in the authors' profiles (`data["author_links"]`), kept by the audience app for
    # its merge suggestions (docs/people.md "Merging").
    from stammtisch.audience import profiles

    profiles.remember(channel, [*others, *(event for event, _key in texts)], now=now)
    return stored


def _store_interactions(channel: Channel, events: list[Event]) -> int:
    if not events:
        return 0
    keys = {(event.kind[:16], event.remote_id[:200]) for event in events}
    existing = set(
        Interaction.objects.filter(channel=channel, remote_id__in={remote for _kind, remote in keys}).values_list(
            "kind", "remote_id"
        )
    )
    rows: dict[tuple[str, str], Interaction] = {}
    for event in events:
        key = (event.kind[:16], event.remote_id[:200])
        if key in existing or key in rows:
            continue
        rows[key] = Interaction(
            workspace_id=channel.workspace_id,
            channel=channel,
            kind=key[0],
            remote_id=key[1],
            post_remote_id=_cut(event.post_remote_id),
            author_id=_cut(event.author_id),
            author_handle=_cut(event.author_handle),
            author_name=_cut(event.author_name),
            occurred_at=event.occurred_at,
        )
    Interaction.objects.bulk_create(rows.values(), ignore_conflicts=True, batch_size=500)
    return len(rows)


def _conversations(channel: Channel, keys: set[tuple[str, str]], now: dt.datetime) -> dict[tuple[str, str], int]:
    """The conversations of these keys, created where missing; their ids by key."""
    wanted = Q()
    for kind, root in keys:
        wanted |= Q(kind=kind, root_remote_id=root)
    found = dict(
        ((kind, root), pk)
        for kind, root, pk in Conversation.objects.filter(wanted, channel=channel).values_list(
            "kind", "root_remote_id", "pk"
        )
    )
    missing = keys - set(found)
    if missing:
        posts = {root for kind, root in missing if kind == Conversation.Kind.COMMENTS}
        deliveries = dict(
            Delivery.objects.filter(channel=channel, remote_id__in=posts).values_list("remote_id", "pk")
            if posts
            else []
        )
        Conversation.objects.bulk_create(
            [
                Conversation(
                    workspace_id=channel.workspace_id,
                    channel=channel,
                    kind=kind,
                    root_remote_id=root,
                    delivery_id=deliveries.get(root),
                    created_at=now,
                )
                for kind, root in sorted(missing)
            ],
            ignore_conflicts=True,
        )
        wanted = Q()
        for kind, root in missing:
            wanted |= Q(kind=kind, root_remote_id=root)
        for kind, root, pk in Conversation.objects.filter(wanted, channel=channel).values_list(
            "kind", "root_remote_id", "pk"
        ):
            found[(kind, root)] = pk
    return found


def _store_messages(channel: Channel, texts: list[tuple[Event, tuple[str, str]]], now: dt.datetime) -> int:
    remote_ids = {event.remote_id[:200] for event, _key in texts}
    existing = set(
        Message.objects.filter(channel=channel, remote_id__in=remote_ids).values_list("remote_id", flat=True)
    )
    new: dict[str, tuple[Event, tuple[str, str]]] = {}
    for event, key in texts:
        remote_id = event.remote_id[:200]
        if remote_id not in existing and remote_id not in new:
            new[remote_id] = (event, key)
    if not new:
        return 0
    conversations = _conversations(channel, {key for _event, key in new.values()}, now)
    rows = []
    for remote_id, (event, key) in new.items():
        text = clean(event.text)
        triaged = labels.triage(text)
        rows.append(
            Message(
                workspace_id=channel.workspace_id,
                conversation_id=conversations[key],
                channel=channel,
                remote_id=remote_id,
                parent_remote_id=_cut(event.in_reply_to),
                kind=event.kind[:16],
                author_id=_cut(event.author_id),
                author_handle=_cut(event.author_handle),
                author_name=_cut(event.author_name),
                author_avatar_url=_avatar(event),
                text=text,
                occurred_at=event.occurred_at,
                direction=Message.Direction.OUT if event.data.get("ours") else Message.Direction.IN,
                language=triaged.language,
                sentiment=triaged.sentiment,
                intent=triaged.intent,
                confidence=triaged.confidence,
                created_at=now,
            )
        )
    Message.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    refresh_conversations(set(conversations.values()), newest=rows)
    # The workspace's inbox rules, once per page for its new incoming messages (inbox/rules.py).
    rules.run_rules(channel, [r.remote_id for r in rows if r.direction == Message.Direction.IN], now=now)
    return len(rows)


def _avatar(event: Event) -> str:
    url = event.data.get("avatar_url")
    return url[:500] if isinstance(url, str) and url.lower().startswith("https://") else ""


def refresh_conversations(pks: set[int], newest: list[Message] | None = None) -> None:
    """Recount the figures of these conversations from their stored messages; copy the newest
    incoming message's author, excerpt and labels (of `newest`, the messages just stored, when
    one is newer than what the conversation shows). A new incoming message reopens a
    conversation that was done or waiting."""
    figures = (
        Message.objects.filter(conversation_id__in=pks)
        .values("conversation_id")
        .annotate(
            total=Count("pk"),
            incoming=Count("pk", filter=Q(direction=Message.Direction.IN)),
            last=Max("occurred_at"),
            last_in=Max("occurred_at", filter=Q(direction=Message.Direction.IN)),
        )
    )
    latest: dict[int, Message] = {}
    for message in newest or []:
        if message.direction != Message.Direction.IN:
            continue
        current = latest.get(message.conversation_id)
        if current is None or message.occurred_at >= current.occurred_at:
            latest[message.conversation_id] = message
    conversations = Conversation.objects.in_bulk(pks)
    changed = []
    for row in figures:
        conversation = conversations[row["conversation_id"]]
        reopened = row["last_in"] is not None and (
            conversation.last_incoming_at is None or row["last_in"] > conversation.last_incoming_at
        )
        conversation.message_count = row["total"]
        conversation.incoming_count = row["incoming"]
        conversation.last_message_at = row["last"]
        conversation.last_incoming_at = row["last_in"]
        newest_in = latest.get(conversation.pk)
        if newest_in is not None and newest_in.occurred_at == row["last_in"]:
            conversation.author_name = newest_in.author_name
            conversation.author_handle = newest_in.author_handle
            conversation.excerpt = newest_in.text[:EXCERPT]
            conversation.language = newest_in.language
            conversation.sentiment = newest_in.sentiment
            conversation.intent = newest_in.intent
        if reopened and conversation.status != Conversation.Status.OPEN:
            conversation.status = Conversation.Status.OPEN
        changed.append(conversation)
    fields = ["message_count", "incoming_count", "last_message_at", "last_incoming_at", "status"]
    fields += ["author_name", "author_handle", "excerpt", "language", "sentiment", "intent"]
    Conversation.objects.bulk_update(changed, fields, batch_size=200)


def _apply_changes(channel: Channel, events: list[Event], now: dt.datetime) -> int:
    """Edits and deletions of messages we have (of unknown ones: nothing to change)."""
    updated = 0
    for event in events:
        message = Message.objects.filter(channel=channel, remote_id=event.remote_id[:200]).first()
        if message is None:
            continue
        if event.data.get("deleted"):
            if message.deleted_at is None:
                message.deleted_at = event.occurred_at
                message.save(update_fields=["deleted_at"])
                updated += 1
            continue
        text = clean(event.text)
        if text != message.text:
            message.text = text
            message.edited_at = event.occurred_at
            triaged = labels.triage(text) if message.corrected_at is None else None
            fields = ["text", "edited_at"]
            if triaged is not None:
                message.language, message.sentiment = triaged.language, triaged.sentiment
                message.intent, message.confidence = triaged.intent, triaged.confidence
                fields += ["language", "sentiment", "intent", "confidence"]
            message.save(update_fields=fields)
            updated += 1
    return updated
