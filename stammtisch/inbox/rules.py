"""Inbox rules (docs/inbox.md "Rules"): simple automations per workspace, run once on every newly
stored incoming message, and the writes that create, change and delete them.

A rule matches a message when every condition it sets matches (intent, sentiment, language,
channel); then it does every action it sets:

* assign: the conversation, if nobody is assigned yet, goes to the rule's member (who must still
  be allowed to answer) and that member is notified (`inbox_assigned`);
* hide: the message is hidden in Stammtisch (`Message.muted_at`); a conversation with nothing
  else to answer is marked done. "Show again" undoes both (`actions_team.do_unmute`);
* label: the workspace label is put on the conversation.

`ingest.store_events` calls `run_rules` once per stored page, inside the sync's transaction: a few
queries per page, one when the workspace has no enabled rule.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.models import Membership, Workspace
from stammtisch.core.roles import Perm
from stammtisch.inbox.labels import INTENTS, LANGUAGES, SENTIMENTS
from stammtisch.inbox.models import Conversation, ConversationLabel, Message, Rule
from stammtisch.networks.models import Channel

MAX_RULES = 50


def matches(rule: Rule, message: Message) -> bool:
    return (
        (not rule.intent or rule.intent == message.intent)
        and (not rule.sentiment or rule.sentiment == message.sentiment)
        and (not rule.language or rule.language == message.language)
        and (rule.channel_id is None or rule.channel_id == message.channel_id)
    )


def run_rules(channel: Channel, remote_ids: list[str], *, now: dt.datetime) -> int:
    """Apply the workspace's enabled rules to the new incoming messages `remote_ids` of `channel`
    (just stored). Returns how many (rule, message) matches acted."""
    if not remote_ids:
        return 0
    rules = list(
        Rule.objects.filter(workspace_id=channel.workspace_id, enabled=True)
        .filter(Q(channel__isnull=True) | Q(channel=channel))
        .order_by("position", "pk")
    )
    if not rules:
        return 0
    messages = list(
        Message.objects.filter(channel=channel, remote_id__in=remote_ids, direction=Message.Direction.IN)
        .select_related("conversation")
        .order_by("occurred_at", "pk")
    )
    may_answer = {
        m.user_id
        for m in Membership.objects.filter(workspace_id=channel.workspace_id, user__is_active=True)
        if m.can(Perm.EDIT)
    }
    assigned: dict[int, tuple[Conversation, int, Rule, Message]] = {}
    muted: list[Message] = []
    labels: list[ConversationLabel] = []
    counts: dict[int, int] = defaultdict(int)
    conversations: dict[int, Conversation] = {}
    for message in messages:
        conversation = conversations.setdefault(message.conversation_id, message.conversation)
        for rule in rules:
            if not matches(rule, message):
                continue
            acted = False
            if rule.assign_to_id is not None and rule.assign_to_id in may_answer and conversation.assignee_id is None:
                conversation.assignee_id = rule.assign_to_id
                assigned[conversation.pk] = (conversation, rule.assign_to_id, rule, message)
                acted = True
            if rule.hide and message.muted_at is None:
                message.muted_at, message.muted_by_rule_id = now, rule.pk
                muted.append(message)
                acted = True
            if rule.label:
                labels.append(
                    ConversationLabel(
                        workspace_id=channel.workspace_id,
                        conversation_id=conversation.pk,
                        name=rule.label,
                        rule=rule,
                        created_at=now,
                    )
                )
                acted = True
            if acted:
                counts[rule.pk] += 1
    for conversation, user_id, _rule, _message in assigned.values():
        Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(assignee_id=user_id)
    if muted:
        Message.objects.bulk_update(muted, ["muted_at", "muted_by_rule"])
        close_if_nothing_left({m.conversation_id for m in muted})
    if labels:
        ConversationLabel.objects.bulk_create(labels, ignore_conflicts=True)
    for rule_pk, count in counts.items():
        Rule.objects.filter(pk=rule_pk).update(matched=F("matched") + count, last_matched_at=now)
    for conversation, user_id, rule, message in assigned.values():
        notify_assigned(conversation, user_id, rule=rule, excerpt=message.text, now=now)
    return sum(counts.values())


def close_if_nothing_left(conversation_ids: set[int]) -> None:
    """Open conversations whose every incoming message is hidden become done."""
    visible = Message.objects.filter(
        conversation_id__in=conversation_ids, direction=Message.Direction.IN, muted_at__isnull=True
    ).values_list("conversation_id", flat=True)
    Conversation.objects.filter(pk__in=conversation_ids, status=Conversation.Status.OPEN).exclude(
        pk__in=set(visible)
    ).update(status=Conversation.Status.DONE)


def notify_assigned(
    conversation: Conversation,
    user_id: int,
    *,
    rule: Rule | None = None,
    actor: Actor | None = None,
    excerpt: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Tell the new assignee (notification kind `inbox_assigned`)."""
    from stammtisch.notifications import kinds
    from stammtisch.notifications.notify import notify

    channel = conversation.channel
    workspace = conversation.workspace
    notify(
        kinds.INBOX_ASSIGNED,
        workspace,
        [user_id],
        data={
            "channel": channel.display_name or channel.handle,
            "rule": rule.name if rule is not None else "",
            "actor": actor.label if actor is not None else "",
            "excerpt": (excerpt or conversation.excerpt)[:80],
            "conversation_id": conversation.pk,
        },
        link=reverse("inbox:conversation", args=[workspace.slug, conversation.pk]),
        dedup_key=f"{kinds.INBOX_ASSIGNED}:conversation:{conversation.pk}:{user_id}",
        obj=conversation,
        now=now,
    )


# --- writes ----------------------------------------------------------------------------------------


def _check(workspace: Workspace, values: dict[str, Any]) -> dict[str, Any]:
    """Validated rule fields; raises ActionError with a message for the member."""
    name = str(values.get("name") or "").strip()[:120]
    if not name:
        raise ActionError(_("Give the rule a name."))
    cleaned: dict[str, Any] = {"name": name, "enabled": bool(values.get("enabled", True))}
    for field, allowed in (("intent", INTENTS), ("sentiment", SENTIMENTS), ("language", LANGUAGES)):
        value = str(values.get(field) or "")
        if value and value not in allowed:
            raise ActionError(_("Unknown label."))
        cleaned[field] = value
    channel = values.get("channel")
    if channel is not None and channel.workspace_id != workspace.pk:
        raise ActionError(_("Unknown channel."))
    cleaned["channel"] = channel
    assign_to = values.get("assign_to")
    if assign_to is not None:
        membership = Membership.objects.filter(workspace=workspace, user=assign_to).first()
        if membership is None or not membership.can(Perm.EDIT):
            raise ActionError(_("Only members who may answer can be assigned."))
    cleaned["assign_to"] = assign_to
    cleaned["hide"] = bool(values.get("hide"))
    cleaned["label"] = " ".join(str(values.get("label") or "").split())[:40]
    if not (cleaned["intent"] or cleaned["sentiment"] or cleaned["language"] or channel is not None):
        raise ActionError(_("A rule needs at least one condition."))
    if not (assign_to is not None or cleaned["hide"] or cleaned["label"]):
        raise ActionError(_("A rule needs at least one action."))
    return cleaned


@transaction.atomic
def do_create_rule(actor: Actor, workspace: Workspace, values: dict[str, Any]) -> Rule:
    require_perm(actor, workspace, Perm.MANAGE)
    if Rule.objects.filter(workspace=workspace).count() >= MAX_RULES:
        raise ActionError(_("A workspace may have at most %(n)d rules.") % {"n": MAX_RULES})
    cleaned = _check(workspace, values)
    last = Rule.objects.filter(workspace=workspace).order_by("-position").values_list("position", flat=True).first()
    user: Any = actor.user if actor.user is not None and actor.user.pk else None
    rule = Rule.objects.create(workspace=workspace, position=(last or 0) + 1, created_by=user, **cleaned)
    audit(actor, "inbox.rule.create", workspace=workspace, obj=rule, summary=rule.name)
    return rule


@transaction.atomic
def do_update_rule(actor: Actor, rule: Rule, values: dict[str, Any]) -> Rule:
    require_perm(actor, rule.workspace, Perm.MANAGE)
    cleaned = _check(rule.workspace, values)
    for field, value in cleaned.items():
        setattr(rule, field, value)
    rule.save()
    audit(actor, "inbox.rule.update", workspace=rule.workspace, obj=rule, summary=rule.name)
    return rule


@transaction.atomic
def do_set_rule_enabled(actor: Actor, rule: Rule, enabled: bool) -> Rule:
    require_perm(actor, rule.workspace, Perm.MANAGE)
    rule.enabled = enabled
    rule.save(update_fields=["enabled"])
    audit(actor, "inbox.rule.enable", workspace=rule.workspace, obj=rule, data={"enabled": enabled})
    return rule


@transaction.atomic
def do_delete_rule(actor: Actor, rule: Rule) -> None:
    require_perm(actor, rule.workspace, Perm.MANAGE)
    audit(actor, "inbox.rule.delete", workspace=rule.workspace, obj=rule, summary=rule.name)
    rule.delete()
