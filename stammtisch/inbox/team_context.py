"""What the inbox pages need of the team tools (docs/inbox.md): the label and hidden filters,
saved views and bulk choices for the list, and for a conversation its labels, which network
actions its messages allow, and whether the member may approve replies. Kept out of views.py so
the list and the conversation views only merge these dictionaries in.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest

from stammtisch.core.models import Membership, Workspace
from stammtisch.core.roles import Perm
from stammtisch.inbox.actions_team import may_approve, network_moderation, visible_views
from stammtisch.inbox.models import Conversation, ConversationLabel, Message


def workspace_labels(workspace: Workspace) -> list[str]:
    return sorted(set(ConversationLabel.objects.filter(workspace=workspace).values_list("name", flat=True)))


def team_filters(rows: QuerySet[Conversation], data: dict[str, Any]) -> QuerySet[Conversation]:
    """A label filter; and conversations whose every incoming message is hidden in Stammtisch are
    left out of the list, unless `hidden=1` asks for exactly those."""
    if data.get("label"):
        rows = rows.filter(labels__name=data["label"])
    visible = Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.IN, muted_at__isnull=True)
    muted = Message.objects.filter(conversation=OuterRef("pk"), muted_at__isnull=False)
    if data.get("hidden") == "1":
        return rows.filter(Exists(muted))
    return rows.filter(Exists(visible) | ~Exists(muted))


def team_list_context(request: HttpRequest, members: list[Membership], query: str) -> dict[str, Any]:
    workspace = request.workspace  # type: ignore[attr-defined]
    membership = request.membership  # type: ignore[attr-defined]
    views = visible_views(workspace, request.user)
    return {
        "saved_views": views,
        "current_view": next((v for v in views if v.query == query), None),
        "bulk_members": [m for m in members if m.can(Perm.EDIT)],
        "can_share_views": membership.can(Perm.EDIT),
    }


def team_conversation_context(
    request: HttpRequest, conversation: Conversation, thread: list[Message]
) -> dict[str, Any]:
    membership = request.membership  # type: ignore[attr-defined]
    allowed = network_moderation(conversation)
    for message in thread:  # what the buttons of each message may offer (template: message.moderation)
        incoming = message.direction == Message.Direction.IN and message.deleted_at is None
        message.moderation = allowed if incoming else frozenset()  # type: ignore[attr-defined]
    return {
        "conversation_labels": list(conversation.labels.all()),
        "can_approve": may_approve(membership),
        "mentionable": sorted(
            Membership.objects.filter(workspace=conversation.workspace).values_list("user__username", flat=True)
        ),
    }
