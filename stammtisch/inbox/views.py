"""The inbox pages (docs/inbox.md "UI"): one list across channels with filters, the conversation
beside it (loaded with htmx, or as a whole page without JavaScript), and the buttons that reply,
assign, close, reopen, add notes and correct triage labels.

Reading needs `Perm.VIEW` (analysts and client reviewers read along); every change needs
`Perm.EDIT` (editors, admins, owners). Views parse input, call an action and render.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.audience import panel, segments
from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import Membership
from stammtisch.core.roles import Perm
from stammtisch.inbox import actions, actions_team
from stammtisch.inbox.access import get_conversation_for_member, get_message_for_member, get_saved_reply_for_member
from stammtisch.inbox.forms import AssignForm, FilterForm, LabelForm, NoteForm, ReplyForm, SavedReplyForm, StatusForm
from stammtisch.inbox.labels import INTENTS, LANGUAGES, SENTIMENTS
from stammtisch.inbox.models import Conversation, Intent, Language, Message, SavedReply, Sentiment
from stammtisch.inbox.team_context import team_conversation_context, team_filters, team_list_context, workspace_labels
from stammtisch.networks.models import Channel

LIST_SIZE = 100
FILTER_NAMES = (
    "channel",
    "status",
    "sentiment",
    "intent",
    "language",
    "assignee",
    "sla",
    "order",
    "label",
    "hidden",
    "segment",
)


def _members(workspace: Any) -> list[Membership]:
    return list(Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__username"))


def _filtered(request: HttpRequest, form: FilterForm) -> QuerySet[Conversation]:
    workspace = request.workspace  # type: ignore[attr-defined]
    rows = Conversation.objects.filter(workspace=workspace, last_message_at__isnull=False)
    form.is_valid()  # an unknown value in one filter drops that filter, not the others
    data = getattr(form, "cleaned_data", {})
    if data.get("channel"):
        rows = rows.filter(channel_id=data["channel"])
    for name in ("status", "sentiment", "intent", "language"):
        if data.get(name):
            rows = rows.filter(**{name: data[name]})
    assignee = data.get("assignee")
    if assignee == "me":
        rows = rows.filter(assignee_id=request.user.pk)
    elif assignee == "none":
        rows = rows.filter(assignee__isnull=True)
    elif assignee:
        rows = rows.filter(assignee_id=int(assignee))
    rows = team_filters(rows, data)  # label, hidden (team_context.py)
    if data.get("segment"):  # a segment of people (docs/people.md "Segments")
        rows = rows.filter(pk__in=segments.conversation_ids(workspace, data["segment"]))
    if data.get("sla"):  # open conversations over the SLA or about to breach it (sla_figures.py)
        from stammtisch.inbox.sla_figures import ids_in_state

        rows = rows.filter(pk__in=ids_in_state(workspace, data["sla"], timezone.now()))
    if data.get("order") == "oldest":
        return rows.order_by("last_message_at", "pk")
    return rows.order_by("-last_message_at", "-pk")


def filter_form(request: HttpRequest, channels: list[Channel], members: list[Any]) -> FilterForm:
    """The list's filters as the request gives them (the list and its live poll alike)."""
    workspace = request.workspace  # type: ignore[attr-defined]
    return FilterForm(
        request.GET or None,
        channels=channels,
        members=members,
        labels=workspace_labels(workspace),
        segments=segments.choices(workspace),
    )


def _list_context(request: HttpRequest) -> dict[str, Any]:
    workspace = request.workspace  # type: ignore[attr-defined]
    channels = list(Channel.objects.filter(workspace=workspace).order_by("display_name", "pk"))
    members = _members(workspace)
    form = filter_form(request, channels, members)
    rows = _filtered(request, form)
    conversations = list(rows.select_related("channel", "assignee").prefetch_related("labels")[:LIST_SIZE])
    query = urlencode({name: request.GET[name] for name in FILTER_NAMES if request.GET.get(name)})
    return {
        **team_list_context(request, members, query),
        "filter_form": form,
        "conversations": conversations,
        "shown": len(conversations),
        "total": rows.count() if len(conversations) == LIST_SIZE else len(conversations),
        "query": query,
        "now": timezone.now(),
    }


def _labels() -> dict[str, list[tuple[str, str]]]:
    names = {**dict(Language.choices), **dict(Sentiment.choices), **dict(Intent.choices)}
    return {
        "language": [(value, str(names[value])) for value in LANGUAGES],
        "sentiment": [(value, str(names[value])) for value in SENTIMENTS],
        "intent": [(value, str(names[value])) for value in INTENTS],
    }


def _conversation_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    workspace = request.workspace  # type: ignore[attr-defined]
    thread = list(conversation.messages.order_by("occurred_at", "pk"))
    target = actions.reply_target(conversation)
    person = panel.person_for_message(target)  # the name the team keeps for them (docs/people.md)
    saved = [
        (item, actions.fill_saved_reply(item.text, target, person_name=person.display_name if person else ""))
        for item in SavedReply.objects.filter(workspace=workspace).order_by("language", "title", "pk")
    ]
    members = _members(workspace)
    return {
        **team_conversation_context(request, conversation, thread),
        "conversation": conversation,
        "thread": thread,
        "pending_replies": list(
            conversation.replies.exclude(state__in=("sent", "rejected")).order_by("created_at", "pk")
        ),
        "notes": list(conversation.notes.select_related("author")),
        "reply_form": ReplyForm(),
        "note_form": NoteForm(),
        "assign_form": AssignForm(
            initial={"member": next((str(m.pk) for m in members if m.user_id == conversation.assignee_id), "")},
            members=members,
        ),
        "saved_replies": saved,
        "reply_target": target,
        "label_choices": _labels(),
        "post_text": conversation.delivery.text if conversation.delivery else "",
    }


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    context = {
        "workspace": workspace,
        "nav": "inbox",
        "can_edit": request.membership.can(Perm.EDIT),  # type: ignore[attr-defined]
        **context,
    }
    return render(request, template, context, status=status)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@require_GET
@workspace_view(Perm.VIEW)
def inbox(request: HttpRequest) -> HttpResponse:
    return _render(request, "inbox/inbox.html", _list_context(request))


@require_GET
@workspace_view(Perm.VIEW)
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    found = get_conversation_for_member(request, conversation_id)
    if _is_htmx(request):
        return _render(request, "inbox/_conversation.html", _conversation_context(request, found))
    return _render(request, "inbox/inbox.html", {**_list_context(request), **_conversation_context(request, found)})


def _after(request: HttpRequest, conversation: Conversation, status: int = 200) -> HttpResponse:
    """The conversation again: the pane for htmx, the page (with the list's filters) otherwise."""
    if _is_htmx(request):
        return _render(request, "inbox/_conversation.html", _conversation_context(request, conversation), status)
    url = reverse("inbox:conversation", args=[conversation.workspace.slug, conversation.pk])
    query = request.POST.get("query", "")
    return redirect(f"{url}?{query}" if query else url)


def _failed(request: HttpRequest, conversation: Conversation, message: str) -> HttpResponse:
    messages.error(request, message)
    if _is_htmx(request):
        context = {**_conversation_context(request, conversation), "error": message}
        return _render(request, "inbox/_conversation.html", context, status=400)
    return _render(
        request, "inbox/inbox.html", {**_list_context(request), **_conversation_context(request, conversation)}, 400
    )


@require_POST
@workspace_view(Perm.EDIT)
def reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    found = get_conversation_for_member(request, conversation_id)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _failed(request, found, _("Write a reply first."))
    target = None
    if form.cleaned_data.get("to"):
        target = found.messages.filter(pk=form.cleaned_data["to"]).first()
        if target is None:
            return _failed(request, found, _("There is no message to answer in this conversation."))
    try:
        actions.do_reply(Actor.from_request(request), found, form.cleaned_data["text"], to=target)
    except ActionError as error:
        return _failed(request, found, error.message)
    if not _is_htmx(request):
        messages.success(request, _("Your reply is on its way; it shows as sent once the network confirms it."))
    return _after(request, found)


@require_POST
@workspace_view(Perm.EDIT)
def status(request: HttpRequest, conversation_id: int) -> HttpResponse:
    found = get_conversation_for_member(request, conversation_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _failed(request, found, _("Unknown status."))
    actions.do_set_status(Actor.from_request(request), found, form.cleaned_data["status"])
    return _after(request, found)


@require_POST
@workspace_view(Perm.EDIT)
def assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    found = get_conversation_for_member(request, conversation_id)
    members = _members(request.workspace)  # type: ignore[attr-defined]
    form = AssignForm(request.POST, members=members)
    if not form.is_valid():
        return _failed(request, found, _("Only members who may answer can be assigned."))
    chosen = form.cleaned_data["member"]
    membership = next((m for m in members if str(m.pk) == chosen), None) if chosen else None
    try:
        actions.do_assign(Actor.from_request(request), found, membership)
    except ActionError as error:
        return _failed(request, found, error.message)
    return _after(request, found)


@require_POST
@workspace_view(Perm.EDIT)
def note(request: HttpRequest, conversation_id: int) -> HttpResponse:
    found = get_conversation_for_member(request, conversation_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _failed(request, found, _("Write a note first."))
    try:
        actions_team.do_add_note(Actor.from_request(request), found, form.cleaned_data["text"])  # with @mentions
    except ActionError as error:
        return _failed(request, found, error.message)
    return _after(request, found)


@require_POST
@workspace_view(Perm.EDIT)
def correct_label(request: HttpRequest, message_id: int) -> HttpResponse:
    message: Message = get_message_for_member(request, message_id)
    form = LabelForm(request.POST)
    if not form.is_valid():
        return _failed(request, message.conversation, _("Unknown label."))
    try:
        actions.do_correct_label(
            Actor.from_request(request), message, form.cleaned_data["field"], form.cleaned_data["value"]
        )
    except ActionError as error:
        return _failed(request, message.conversation, error.message)
    return _after(request, message.conversation)


@require_http_methods(["GET", "POST"])
@workspace_view(Perm.VIEW)
def saved_replies(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = SavedReplyForm(request.POST or None)
    status_code = 200
    if request.method == "POST":
        if not request.membership.can(Perm.EDIT):  # type: ignore[attr-defined]
            raise PermissionDenied
        if form.is_valid():
            actions.do_save_reply(Actor.from_request(request), workspace, **form.cleaned_data)
            messages.success(request, _("Saved reply added."))
            return redirect("inbox:saved_replies", workspace.slug)
        status_code = 400
    items = list(SavedReply.objects.filter(workspace=workspace))
    return _render(request, "inbox/saved_replies.html", {"form": form, "items": items}, status_code)


@require_POST
@workspace_view(Perm.EDIT)
def saved_reply_delete(request: HttpRequest, saved_reply_id: int) -> HttpResponse:
    saved = get_saved_reply_for_member(request, saved_reply_id)
    actions.do_delete_saved_reply(Actor.from_request(request), saved)
    messages.success(request, _("Saved reply deleted."))
    return redirect("inbox:saved_replies", request.workspace.slug)  # type: ignore[attr-defined]
