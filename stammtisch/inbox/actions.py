"""Writes of the inbox (STYLE.md §5): each checks the actor's permission, writes the audit log and,
for replies, enqueues work for the worker."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.models import Membership
from stammtisch.core.roles import Perm
from stammtisch.inbox.labels import INTENTS, LANGUAGES, SENTIMENTS
from stammtisch.inbox.models import (
    Conversation,
    InternalNote,
    Language,
    Message,
    Reply,
    SavedReply,
    TriageCorrection,
    first_name,
)
from stammtisch.publishing import publisher

MAX_REPLY = 10_000
LABEL_CHOICES = {"language": LANGUAGES, "sentiment": SENTIMENTS, "intent": INTENTS}


def reply_target(conversation: Conversation) -> Message | None:
    """What a reply answers by default: the newest incoming message that is not deleted."""
    return (
        conversation.messages.filter(direction=Message.Direction.IN, deleted_at__isnull=True)
        .order_by("-occurred_at", "-pk")
        .first()
    )


@transaction.atomic
def do_reply(actor: Actor, conversation: Conversation, text: str, *, to: Message | None = None) -> Reply:
    """Queue a reply; the worker publishes it (inbox/replies.py)."""
    require_perm(actor, conversation.workspace, Perm.EDIT)
    text = text.replace("\x00", "").strip()
    if not text:
        raise ActionError(_("Write a reply first."))
    if len(text) > MAX_REPLY:
        raise ActionError(_("A reply may have at most %(n)d characters.") % {"n": MAX_REPLY})
    target = to if to is not None else reply_target(conversation)
    if target is None or target.conversation_id != conversation.pk:
        raise ActionError(_("There is no message to answer in this conversation."))
    from stammtisch.inbox import actions_team  # reply approval (docs/inbox.md)

    # A reply waiting for approval is never claimed by the worker (replies.WAITING).
    waits = actions_team.needs_approval(actor, conversation.workspace)
    reply = Reply.objects.create(
        state=Reply.State.AWAITING_APPROVAL if waits else Reply.State.PENDING,
        workspace=conversation.workspace,
        conversation=conversation,
        channel=conversation.channel,
        in_reply_to=target.remote_id,
        text=text,
        author=actor.user if actor.user is not None and actor.user.pk else None,  # type: ignore[misc]
        due_at=timezone.now(),
    )
    audit(actor, "inbox.reply", workspace=conversation.workspace, obj=reply, summary=text[:300])
    if waits:
        actions_team.notify_approvers(reply, actor)
        return reply
    publisher.notify_due()
    return reply


@transaction.atomic
def do_set_status(actor: Actor, conversation: Conversation, status: str) -> Conversation:
    require_perm(actor, conversation.workspace, Perm.EDIT)
    if status not in Conversation.Status.values:
        raise ActionError(_("Unknown status."))
    conversation.status = status
    conversation.save(update_fields=["status"])
    audit(actor, "inbox.status", workspace=conversation.workspace, obj=conversation, data={"status": status})
    return conversation


@transaction.atomic
def do_assign(actor: Actor, conversation: Conversation, membership: Membership | None) -> Conversation:
    """Assign to a member who may answer (or to nobody)."""
    require_perm(actor, conversation.workspace, Perm.EDIT)
    if membership is not None and (
        membership.workspace_id != conversation.workspace_id or not membership.can(Perm.EDIT)
    ):
        raise ActionError(_("Only members who may answer can be assigned."))
    conversation.assignee = membership.user if membership is not None else None
    conversation.save(update_fields=["assignee"])
    audit(
        actor,
        "inbox.assign",
        workspace=conversation.workspace,
        obj=conversation,
        data={"user": membership.user_id if membership else None},
    )
    from stammtisch.inbox import actions_team  # "assigned to you" notification

    actions_team.notify_new_assignee(actor, conversation, membership.user_id if membership else None)
    return conversation


@transaction.atomic
def do_correct_label(actor: Actor, message: Message, field: str, value: str) -> TriageCorrection:
    """Correct a triage label; the correction is kept as training data of the workspace."""
    workspace = message.conversation.workspace
    require_perm(actor, workspace, Perm.EDIT)
    if field not in LABEL_CHOICES or value not in LABEL_CHOICES[field]:
        raise ActionError(_("Unknown label."))
    old = getattr(message, field)
    user: Any = actor.user if actor.user is not None and actor.user.pk else None
    correction = TriageCorrection.objects.create(
        workspace=workspace, message=message, field=field, old_value=old, new_value=value, corrected_by=user
    )
    setattr(message, field, value)
    message.corrected_by = user
    message.corrected_at = timezone.now()
    message.save(update_fields=[field, "corrected_by", "corrected_at"])
    conversation = message.conversation
    if conversation.last_incoming_at == message.occurred_at:  # the label the list shows
        setattr(conversation, field, value)
        conversation.save(update_fields=[field])
    audit(actor, "inbox.correct_label", workspace=workspace, obj=message, data={field: [old, value]})
    return correction


@transaction.atomic
def do_add_note(actor: Actor, conversation: Conversation, text: str) -> InternalNote:
    require_perm(actor, conversation.workspace, Perm.EDIT)
    text = text.replace("\x00", "").strip()
    if not text:
        raise ActionError(_("Write a note first."))
    note = InternalNote.objects.create(
        workspace=conversation.workspace,
        conversation=conversation,
        author=actor.user if actor.user is not None and actor.user.pk else None,  # type: ignore[misc]
        text=text[:5000],
    )
    audit(actor, "inbox.note", workspace=conversation.workspace, obj=conversation)
    return note


@transaction.atomic
def do_save_reply(actor: Actor, workspace: Any, *, title: str, text: str, language: str) -> SavedReply:
    require_perm(actor, workspace, Perm.EDIT)
    if language not in Language.values:
        raise ActionError(_("Unknown language."))
    saved = SavedReply.objects.create(
        workspace=workspace,
        title=title.strip()[:120],
        text=text.strip(),
        language=language,
        created_by=actor.user if actor.user is not None and actor.user.pk else None,  # type: ignore[misc]
    )
    audit(actor, "inbox.saved_reply.create", workspace=workspace, obj=saved, summary=saved.title)
    return saved


@transaction.atomic
def do_delete_saved_reply(actor: Actor, saved: SavedReply) -> None:
    require_perm(actor, saved.workspace, Perm.EDIT)
    audit(actor, "inbox.saved_reply.delete", workspace=saved.workspace, obj=saved, summary=saved.title)
    saved.delete()


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill_saved_reply(text: str, message: Message | None, *, person_name: str = "") -> str:
    """A saved reply's text for the person of `message`: `{first_name}`, `{name}`, `{handle}`.
    `person_name`, the name the team keeps for the person (docs/people.md), wins over the name the
    network showed. Unknown placeholders stay as they are; braces never raise."""
    name = person_name or (message.author_name if message else "")
    values = _Blank(
        first_name=first_name(name, message.author_handle if message else "") if message or name else "",
        name=name,
        handle=f"@{message.author_handle}" if message and message.author_handle else "",
    )
    try:
        return text.format_map(values)
    except (ValueError, IndexError, AttributeError, KeyError):
        return text
