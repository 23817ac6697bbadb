"""One access helper per object (STYLE.md §5), always filtered by the request's workspace, which
`workspace_view` resolved after checking membership and permission: another workspace's id is a
404."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from stammtisch.inbox.models import Conversation, Message, SavedReply


def get_conversation_for_member(request: HttpRequest, conversation_id: int) -> Conversation:
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(
        Conversation.objects.select_related("workspace", "channel", "delivery", "assignee"),
        pk=conversation_id,
        workspace=workspace,
    )


def get_message_for_member(request: HttpRequest, message_id: int) -> Message:
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(
        Message.objects.select_related("conversation__workspace"), pk=message_id, workspace=workspace
    )


def get_saved_reply_for_member(request: HttpRequest, saved_reply_id: int) -> SavedReply:
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(SavedReply.objects.select_related("workspace"), pk=saved_reply_id, workspace=workspace)
