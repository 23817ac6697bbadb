"""The inbox's team tools behind buttons of the list and the conversation (docs/inbox.md): bulk
actions, saved views, conversation labels, hiding a message in Stammtisch (and its undo), like /
hide / delete on the network, and approving or rejecting a reply. Views parse input, check access
per object (always within the request's workspace) and call `actions_team`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import Membership
from stammtisch.core.roles import Perm
from stammtisch.inbox import actions_team
from stammtisch.inbox.access import get_conversation_for_member, get_message_for_member
from stammtisch.inbox.models import Conversation, ConversationLabel, Reply, SavedView
from stammtisch.inbox.views import FILTER_NAMES, _after, _failed


def _list_url(request: HttpRequest, query: str = "") -> str:
    url = reverse("inbox:list", args=[request.workspace.slug])  # type: ignore[attr-defined]
    return f"{url}?{query}" if query else url


def clean_query(query: str) -> str:
    """Only the list's known filters, each once: a saved view never stores anything else."""
    pairs = [(k, v[:100]) for k, v in parse_qsl(query, keep_blank_values=False) if k in FILTER_NAMES]
    return urlencode(list(dict(pairs).items()))


@require_POST
@workspace_view(Perm.EDIT)
def bulk(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    query = clean_query(request.POST.get("query", ""))
    ids = [int(pk) for pk in request.POST.getlist("conversation") if pk.isdigit()]
    operation = request.POST.get("operation", "")
    membership = None
    if operation == "assign" and request.POST.get("member", "").isdigit():
        membership = get_object_or_404(Membership, pk=int(request.POST["member"]), workspace=workspace)
    try:
        count = actions_team.do_bulk(
            Actor.from_request(request),
            workspace,
            ids,
            operation,
            membership=membership,
            label=request.POST.get("label", ""),
        )
    except ActionError as error:
        messages.error(request, error.message)
        return redirect(_list_url(request, query))
    messages.success(request, _("%(count)d conversations changed.") % {"count": count})
    return redirect(_list_url(request, query))


@require_POST
@workspace_view(Perm.VIEW)
def save_view(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    query = clean_query(request.POST.get("query", ""))
    try:
        actions_team.do_save_view(
            Actor.from_request(request),
            workspace,
            name=request.POST.get("name", ""),
            query=query,
            shared=request.POST.get("shared") == "1",
        )
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("View saved."))
    return redirect(_list_url(request, query))


@require_POST
@workspace_view(Perm.VIEW)
def delete_view(request: HttpRequest, view_id: int) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    view = get_object_or_404(SavedView.objects.select_related("workspace"), pk=view_id, workspace=workspace)
    if view.owner_id != request.user.pk and not view.shared:
        return HttpResponse(status=404)  # another member's private view does not exist for you
    try:
        actions_team.do_delete_view(Actor.from_request(request), view)
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("View deleted."))
    return redirect(_list_url(request))


@require_POST
@workspace_view(Perm.EDIT)
def add_label(request: HttpRequest, conversation_id: int) -> HttpResponse:
    found = get_conversation_for_member(request, conversation_id)
    try:
        actions_team.do_add_label(Actor.from_request(request), found, request.POST.get("name", ""))
    except ActionError as error:
        return _failed(request, found, error.message)
    return _after(request, found)


@require_POST
@workspace_view(Perm.EDIT)
def remove_label(request: HttpRequest, label_id: int) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    label = get_object_or_404(
        ConversationLabel.objects.select_related("conversation__workspace", "conversation__channel"),
        pk=label_id,
        workspace=workspace,
    )
    conversation: Conversation = label.conversation
    actions_team.do_remove_label(Actor.from_request(request), label)
    return _after(request, conversation)


@require_POST
@workspace_view(Perm.EDIT)
def mute(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_message_for_member(request, message_id)
    if request.POST.get("undo") == "1":
        actions_team.do_unmute(Actor.from_request(request), message)
    else:
        actions_team.do_mute(Actor.from_request(request), message)
    return _after(request, message.conversation)


@require_POST
@workspace_view(Perm.EDIT)
def network_action(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_message_for_member(request, message_id)
    try:
        actions_team.do_network_action(Actor.from_request(request), message, request.POST.get("kind", ""))
    except ActionError as error:
        return _failed(request, message.conversation, error.message)
    return _after(request, message.conversation)


@require_POST
@workspace_view(Perm.COMMENT)
def decide_reply(request: HttpRequest, reply_id: int) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    reply = get_object_or_404(
        Reply.objects.select_related("conversation__workspace", "conversation__channel"),
        pk=reply_id,
        workspace=workspace,
    )
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        return _failed(request, reply.conversation, _("Approve or reject the reply."))
    try:
        actions_team.do_decide_reply(Actor.from_request(request), reply, approve=decision == "approve")
    except ActionError as error:
        return _failed(request, reply.conversation, error.message)
    return _after(request, reply.conversation)
