"""Writes of the inbox's team tools (STYLE.md §5; docs/inbox.md): labels, bulk actions, hiding a
message in Stammtisch and its undo, @mentions in notes, saved views, reply approval and the
network's like, hide and delete. Each checks the actor's permission and writes the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, actor_membership, audit, require_perm
from stammtisch.core.models import Membership, Workspace
from stammtisch.core.roles import Perm
from stammtisch.inbox import actions
from stammtisch.inbox.models import (
    Conversation,
    ConversationLabel,
    InboxSettings,
    InternalNote,
    Message,
    NetworkAction,
    Reply,
    SavedView,
)
from stammtisch.inbox.rules import close_if_nothing_left, notify_assigned
from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.publishing import publisher

MAX_BULK = 200
MAX_SAVED_VIEWS = 30
MENTION = re.compile(r"(?<![\w@.])@([\w.+-]{1,150})")


def _user(actor: Actor) -> Any:
    return actor.user if actor.user is not None and actor.user.pk else None


# --- labels ----------------------------------------------------------------------------------------


def clean_label(name: str) -> str:
    return " ".join(name.replace("\x00", "").split())[:40]


@transaction.atomic
def do_add_label(actor: Actor, conversation: Conversation, name: str) -> ConversationLabel:
    require_perm(actor, conversation.workspace, Perm.EDIT)
    name = clean_label(name)
    if not name:
        raise ActionError(_("Write a label first."))
    label, _created = ConversationLabel.objects.get_or_create(
        conversation=conversation, name=name, defaults={"workspace": conversation.workspace}
    )
    audit(actor, "inbox.label.add", workspace=conversation.workspace, obj=conversation, summary=name)
    return label


@transaction.atomic
def do_remove_label(actor: Actor, label: ConversationLabel) -> None:
    conversation = label.conversation
    require_perm(actor, conversation.workspace, Perm.EDIT)
    audit(actor, "inbox.label.remove", workspace=conversation.workspace, obj=conversation, summary=label.name)
    label.delete()


# --- bulk ------------------------------------------------------------------------------------------


@transaction.atomic
def do_bulk(
    actor: Actor,
    workspace: Workspace,
    conversation_ids: Iterable[int],
    operation: str,
    *,
    membership: Membership | None = None,
    label: str = "",
) -> int:
    """Mark done, reopen, assign or label several conversations of `workspace` at once. Ids of
    other workspaces are ignored (never found). Returns how many were changed."""
    require_perm(actor, workspace, Perm.EDIT)
    ids = list(dict.fromkeys(int(pk) for pk in conversation_ids))[:MAX_BULK]
    conversations = list(
        Conversation.objects.filter(workspace=workspace, pk__in=ids).select_related("workspace", "channel")
    )
    if not conversations:
        raise ActionError(_("Choose at least one conversation."))
    if operation in ("done", "open"):
        for conversation in conversations:
            actions.do_set_status(actor, conversation, operation)
    elif operation == "assign":
        for conversation in conversations:
            actions.do_assign(actor, conversation, membership)
    elif operation == "label":
        if not clean_label(label):
            raise ActionError(_("Write a label first."))
        for conversation in conversations:
            do_add_label(actor, conversation, label)
    else:
        raise ActionError(_("Unknown action."))
    return len(conversations)


# --- hiding in Stammtisch --------------------------------------------------------------------------


@transaction.atomic
def do_mute(actor: Actor, message: Message) -> Message:
    """Hide a message in Stammtisch (as a spam rule does); nothing changes on the network."""
    conversation = message.conversation
    require_perm(actor, conversation.workspace, Perm.EDIT)
    if message.muted_at is None:
        message.muted_at = timezone.now()
        message.save(update_fields=["muted_at"])
        close_if_nothing_left({conversation.pk})
    audit(actor, "inbox.mute", workspace=conversation.workspace, obj=message)
    return message


@transaction.atomic
def do_unmute(actor: Actor, message: Message) -> Message:
    """Undo hiding: the message shows again and its conversation, if a rule or a member closed it
    because nothing else was left, is open again."""
    conversation = message.conversation
    require_perm(actor, conversation.workspace, Perm.EDIT)
    if message.muted_at is not None:
        message.muted_at = None
        message.muted_by_rule = None
        message.save(update_fields=["muted_at", "muted_by_rule"])
        if conversation.status == Conversation.Status.DONE and message.direction == Message.Direction.IN:
            Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.OPEN)
            conversation.status = Conversation.Status.OPEN
    audit(actor, "inbox.unmute", workspace=conversation.workspace, obj=message)
    return message


# --- notes with @mentions --------------------------------------------------------------------------


def mentioned_members(workspace: Workspace, text: str) -> list[Membership]:
    """Members of `workspace` named as @username in `text` (case-insensitive) who take part in
    the inbox's work (`Perm.COMMENT`: editors, reviewers, admins, owners); analysts, who only
    read, and anyone else are ignored."""
    names = {name.lower().rstrip(".") for name in MENTION.findall(text)}
    if not names:
        return []
    members = Membership.objects.filter(workspace=workspace, user__is_active=True).select_related("user")
    return [m for m in members if m.user.get_username().lower() in names and m.can(Perm.COMMENT)]


@transaction.atomic
def do_add_note(actor: Actor, conversation: Conversation, text: str) -> InternalNote:
    """A note, and a notification (`inbox_mentioned`) to each member mentioned in it."""
    from stammtisch.notifications import kinds
    from stammtisch.notifications.notify import notify

    note = actions.do_add_note(actor, conversation, text)
    author = _user(actor)
    recipients = [m.user_id for m in mentioned_members(conversation.workspace, note.text) if m.user_id != author.pk]
    if recipients:
        workspace = conversation.workspace
        notify(
            kinds.INBOX_MENTIONED,
            workspace,
            recipients,
            data={"actor": actor.label, "note": note.text[:80], "conversation_id": conversation.pk},
            link=reverse("inbox:conversation", args=[workspace.slug, conversation.pk]),
            dedup_key=f"{kinds.INBOX_MENTIONED}:note:{note.pk}",
            obj=note,
        )
    return note


# --- saved views -----------------------------------------------------------------------------------


def visible_views(workspace: Workspace, user: Any) -> list[SavedView]:
    """A member's own saved views and those shared with the workspace."""
    from django.db.models import Q

    return list(SavedView.objects.filter(Q(owner_id=user.pk) | Q(shared=True), workspace=workspace))


@transaction.atomic
def do_save_view(actor: Actor, workspace: Workspace, *, name: str, query: str, shared: bool) -> SavedView:
    """Save the list's filters (a query string of known filter names only) under a name.
    Sharing with the workspace needs `Perm.EDIT`."""
    membership = require_perm(actor, workspace, Perm.VIEW)
    name = " ".join(name.split())[:60]
    if not name:
        raise ActionError(_("Give the view a name."))
    if shared and membership is not None and not membership.can(Perm.EDIT):
        raise ActionError(_("Only members who may answer can share a view."))
    user = _user(actor)
    if SavedView.objects.filter(workspace=workspace, owner=user).count() >= MAX_SAVED_VIEWS:
        raise ActionError(_("You may keep at most %(n)d saved views.") % {"n": MAX_SAVED_VIEWS})
    view = SavedView.objects.create(workspace=workspace, owner=user, name=name, query=query[:1000], shared=shared)
    audit(actor, "inbox.view.create", workspace=workspace, obj=view, summary=name)
    return view


@transaction.atomic
def do_delete_view(actor: Actor, view: SavedView) -> None:
    """Its owner deletes a view; a shared one may also be deleted by owners and admins."""
    membership = require_perm(actor, view.workspace, Perm.VIEW)
    own = _user(actor) is not None and view.owner_id == _user(actor).pk
    if not own and not (view.shared and membership is not None and membership.can(Perm.MANAGE)):
        raise ActionError(_("Only its owner can delete this view."))
    audit(actor, "inbox.view.delete", workspace=view.workspace, obj=view, summary=view.name)
    view.delete()


# --- reply approval --------------------------------------------------------------------------------


def replies_need_approval(workspace: Workspace) -> bool:
    return InboxSettings.objects.filter(workspace=workspace, replies_need_approval=True).exists()


def may_approve(membership: Membership | None) -> bool:
    """Reviewers (a client who comments and approves, but does not write) and those who manage the
    workspace (admins, owners) approve replies; editors do not approve each other."""
    if membership is None:
        return False
    return membership.can(Perm.COMMENT) and (membership.can(Perm.MANAGE) or not membership.can(Perm.EDIT))


def needs_approval(actor: Actor, workspace: Workspace) -> bool:
    """Whether a reply written by `actor` waits for approval: when the workspace wants it and the
    author may not approve replies themselves."""
    if actor.trusted or not replies_need_approval(workspace):
        return False
    return not may_approve(actor_membership(actor, workspace))


@transaction.atomic
def do_set_settings(actor: Actor, workspace: Workspace, *, replies_need_approval: bool) -> InboxSettings:
    require_perm(actor, workspace, Perm.MANAGE)
    found, _created = InboxSettings.objects.update_or_create(
        workspace=workspace, defaults={"replies_need_approval": replies_need_approval}
    )
    audit(
        actor,
        "inbox.settings",
        workspace=workspace,
        obj=found,
        data={"replies_need_approval": replies_need_approval},
    )
    return found


def notify_approvers(reply: Reply, actor: Actor) -> None:
    from stammtisch.notifications import kinds
    from stammtisch.notifications.notify import notify

    workspace = reply.conversation.workspace
    approvers = [
        m.user_id
        for m in Membership.objects.filter(workspace=workspace, user__is_active=True)
        if may_approve(m) and m.user_id != reply.author_id
    ]
    channel = reply.channel
    notify(
        kinds.INBOX_REPLY_APPROVAL,
        workspace,
        approvers,
        data={"actor": actor.label, "channel": channel.display_name or channel.handle, "reply": reply.text[:80]},
        link=reverse("inbox:conversation", args=[workspace.slug, reply.conversation_id]),
        dedup_key=f"{kinds.INBOX_REPLY_APPROVAL}:reply:{reply.pk}",
        obj=reply,
    )


@transaction.atomic
def do_decide_reply(actor: Actor, reply: Reply, *, approve: bool) -> Reply:
    """Approve (the worker sends it from now on) or reject a reply waiting for approval."""
    workspace = reply.conversation.workspace
    membership = require_perm(actor, workspace, Perm.COMMENT)
    if not actor.trusted and not may_approve(membership):
        raise ActionError(_("Only reviewers, admins and owners approve replies."))
    if reply.author_id is not None and _user(actor) is not None and reply.author_id == _user(actor).pk:
        raise ActionError(_("A reply is approved by someone other than its author."))
    now = timezone.now()
    updated = Reply.objects.filter(pk=reply.pk, state=Reply.State.AWAITING_APPROVAL).update(
        state=Reply.State.PENDING if approve else Reply.State.REJECTED,
        due_at=now,
        decided_by=_user(actor),
        decided_at=now,
    )
    if not updated:
        raise ActionError(_("This reply is no longer waiting for approval."))
    reply.refresh_from_db()
    audit(actor, "inbox.reply.approve" if approve else "inbox.reply.reject", workspace=workspace, obj=reply)
    if approve:
        publisher.notify_due()
    return reply


# --- like, hide and delete on the network ----------------------------------------------------------


def network_moderation(conversation: Conversation) -> frozenset[str]:
    """What the conversation's network lets us do with others' messages (like, hide, ...)."""
    try:
        return conversation.channel.connector.supports_moderation
    except UnknownNetwork:
        return frozenset()


def supported_moderation(message: Message) -> frozenset[str]:
    """What the message's network lets us do with it (only others' incoming messages)."""
    if message.direction != Message.Direction.IN or message.deleted_at is not None:
        return frozenset()
    return network_moderation(message.conversation)


def do_network_action(actor: Actor, message: Message, kind: str) -> NetworkAction:
    """Like, hide, unhide or delete `message` on its network, now (the member waits for the
    answer). Every call is recorded as a NetworkAction, with the network's error if it failed;
    the error is raised as ActionError afterwards."""
    conversation = message.conversation
    workspace = conversation.workspace
    require_perm(actor, workspace, Perm.EDIT)
    if kind not in NetworkAction.Kind.values or kind not in supported_moderation(message):
        raise ActionError(_("This network does not support that."))
    connector = message.channel.connector
    remote = Remote(id=message.remote_id)
    error = ""
    try:
        if kind == NetworkAction.Kind.LIKE:
            connector.like(message.channel, remote)
        elif kind in (NetworkAction.Kind.HIDE, NetworkAction.Kind.UNHIDE):
            connector.hide(message.channel, remote, hidden=kind == NetworkAction.Kind.HIDE)
        else:
            connector.delete_comment(message.channel, remote)
    except NetworkError as exc:
        error = exc.message or str(exc)
    except NotImplementedError:
        error = _("This network does not support that.")
    with transaction.atomic():
        record = NetworkAction.objects.create(
            workspace=workspace, message=message, kind=kind, actor=_user(actor), ok=not error, error=error[:500]
        )
        if not error:
            if kind == NetworkAction.Kind.LIKE:
                message.liked = True
            elif kind in (NetworkAction.Kind.HIDE, NetworkAction.Kind.UNHIDE):
                message.hidden = kind == NetworkAction.Kind.HIDE
            else:
                message.deleted_at = timezone.now()
            message.save(update_fields=["liked", "hidden", "deleted_at"])
        audit(
            actor,
            f"inbox.network.{kind}",
            workspace=workspace,
            obj=message,
            summary=error[:300],
            data={"ok": not error},
        )
    if error:
        raise ActionError(_("The network refused: %(error)s") % {"error": error})
    return record


def notify_new_assignee(actor: Actor, conversation: Conversation, user_id: int | None) -> None:
    """After a member assigned a conversation: tell the assignee, unless they assigned themselves."""
    if user_id is not None and (_user(actor) is None or _user(actor).pk != user_id):
        notify_assigned(conversation, user_id, actor=actor)
