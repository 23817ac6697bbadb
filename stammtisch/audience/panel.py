"""The person beside an inbox conversation (docs/people.md "In the inbox"): who wrote a message,
as the audience app knows them. Read by the inbox's conversation pane through the template tag
`{% person_panel message %}` (templatetags/people.py) and by the inbox's saved replies
(`{first_name}` from the person's name)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from stammtisch.audience import loyalty
from stammtisch.audience.models import Engagement, Identity, Kind, Person
from stammtisch.audience.privacy import handle_key
from stammtisch.inbox.models import Intent, Message

RECENT = 5


def person_for_message(message: Message | None) -> Person | None:
    """The person who wrote `message`: through its engagement once the audience job has read it,
    else through the author's identity; None for our own messages, unknown or erased people."""
    if message is None or message.direction != Message.Direction.IN:
        return None
    engagement = (
        Engagement.objects.filter(source=Engagement.Source.MESSAGE, source_id=message.pk)
        .select_related("person")
        .first()
    )
    person = engagement.person if engagement is not None else None
    if person is None and (message.author_id or message.author_handle):
        identity = (
            Identity.objects.filter(
                workspace_id=message.workspace_id,
                network=message.channel.network,
                remote_id=message.author_id or handle_key(message.author_handle),
            )
            .select_related("person")
            .first()
        )
        person = identity.person if identity is not None else None
    return None if person is None or person.is_erased else person


def open_feedback_count(person: Person) -> int:
    """The person's questions and complaints in conversations that never got a first response."""
    texts = person.engagements.filter(source=Engagement.Source.MESSAGE, answered=False).exclude(kind=Kind.ANSWERED)
    return Message.objects.filter(
        pk__in=texts.values("source_id"),
        direction=Message.Direction.IN,
        intent__in=[Intent.QUESTION, Intent.COMPLAINT],
        conversation__first_response_at__isnull=True,
    ).count()


def panel_context(message: Message | None, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the panel shows: the person, stage, score with its explanation, tags, their last
    engagements across channels (with the inbox conversation of a text) and open feedback."""
    person = person_for_message(message)
    if person is None:
        return {"person": None, "message": message}
    now = now or timezone.now()
    recent = list(person.engagements.select_related("channel").order_by("-occurred_at", "-pk")[:RECENT])
    conversations = dict(
        Message.objects.filter(
            pk__in=[e.source_id for e in recent if e.source == Engagement.Source.MESSAGE]
        ).values_list("pk", "conversation_id")
    )
    from stammtisch.audience.views import explanation

    return {
        "person": person,
        "message": message,
        "score": loyalty.current_score(person, now),
        "explanation": explanation(person, now),
        "tags": [tag.name for tag in person.tags.all()],
        "recent": [
            {
                "engagement": e,
                "conversation_id": conversations.get(e.source_id) if e.source == Engagement.Source.MESSAGE else None,
            }
            for e in recent
        ],
        "open_feedback": open_feedback_count(person),
        "networks": sorted(set(person.identities.values_list("network", flat=True))),
    }
