"""The inbox's response-time figures: what `sla.py` computes, fed from the database
(docs/inbox.md "Response time").

* A conversation is **received** at its first incoming message and **answered** at our first
  message after that: a reply sent from the inbox (`Conversation.first_response_at`) or one of our
  own messages the network reported (an outgoing `Message`), whichever came first.
* Figures over a period count the conversations received in it, per channel and per member. The
  member is who sent the first reply from the inbox; unanswered conversations (and answers made
  outside Stammtisch) count for the assignee, else for "nobody".
* An open conversation waits since its oldest incoming message after our last message; its SLA
  state (running, due soon, breached) is counted from then. That is what the "over SLA" filter
  and the list of conversations about to breach use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import DateTimeField, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from stammtisch.core.models import Workspace
from stammtisch.inbox import sla
from stammtisch.inbox.models import Conversation, Message, Reply
from stammtisch.inbox.models_sla import SlaSettings

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
IN, OUT = Message.Direction.IN, Message.Direction.OUT
OPEN_LIMIT = 2000  # open conversations looked at for the SLA states (the oldest first)


@dataclass(frozen=True)
class Answered:
    conversation_id: int
    channel_id: int
    member_id: int | None  # user id
    received_at: dt.datetime
    answered_at: dt.datetime | None


def answered_rows(workspace: Workspace, since: dt.datetime, until: dt.datetime) -> list[Answered]:
    """Every conversation of the workspace received in [since, until), with its first answer."""
    rows = list(
        Conversation.objects.filter(workspace=workspace)
        .annotate(
            received=Min("messages__occurred_at", filter=Q(messages__direction=IN)),
            first_out=Min("messages__occurred_at", filter=Q(messages__direction=OUT)),
        )
        .filter(received__gte=since, received__lt=until)
        .values_list("pk", "channel_id", "assignee_id", "received", "first_out", "first_response_at")
    )
    authors: dict[int, int | None] = {}
    sent = Reply.objects.filter(conversation_id__in=[row[0] for row in rows], state=Reply.State.SENT)
    for conversation_id, author_id in sent.order_by("sent_at", "pk").values_list("conversation_id", "author_id"):
        authors.setdefault(conversation_id, author_id)
    result = []
    for pk, channel_id, assignee_id, received, first_out, first_response in rows:
        answers = [when for when in (first_out, first_response) if when is not None and when >= received]
        result.append(
            Answered(
                conversation_id=pk,
                channel_id=channel_id,
                member_id=authors.get(pk) or assignee_id,
                received_at=received,
                answered_at=min(answers) if answers else None,
            )
        )
    return result


def waiting(workspace: Workspace) -> QuerySet[Conversation]:
    """Open conversations with an incoming message after our last one, annotated with
    `waiting_since` (that message's time), the longest waiting first."""
    last_out = (
        Message.objects.filter(conversation=OuterRef("pk"), direction=OUT)
        .order_by("-occurred_at")
        .values("occurred_at")
    )
    first_unanswered = (
        Message.objects.filter(conversation=OuterRef("pk"), direction=IN, occurred_at__gt=OuterRef("answered_until"))
        .order_by("occurred_at")
        .values("occurred_at")
    )
    return (
        Conversation.objects.filter(
            workspace=workspace, status=Conversation.Status.OPEN, last_incoming_at__isnull=False
        )
        .annotate(answered_until=Coalesce(Subquery(last_out[:1]), Value(EPOCH, output_field=DateTimeField())))
        .annotate(waiting_since=Subquery(first_unanswered[:1]))
        .filter(waiting_since__isnull=False)
        .order_by("waiting_since", "pk")
    )


def open_states(
    workspace: Workspace, now: dt.datetime, settings: SlaSettings | None = None
) -> list[tuple[Conversation, sla.SlaStatus]]:
    """The SLA status of every waiting open conversation, least time left first."""
    settings = settings or SlaSettings.for_workspace(workspace)
    calendar = settings.business_calendar()
    found = []
    for conversation in waiting(workspace).select_related("channel", "assignee")[:OPEN_LIMIT]:
        since: dt.datetime = conversation.waiting_since  # type: ignore[attr-defined]
        status = sla.evaluate_sla(calendar, since, None, now, settings.target_seconds)
        found.append((conversation, status))
    return sorted(found, key=lambda item: item[1].remaining)


# What the inbox list's "SLA" filter offers: breached ("over SLA") or due soon.
FILTER_STATES = {"over": {sla.SlaState.BREACHED}, "due_soon": {sla.SlaState.DUE_SOON}}


def ids_in_state(workspace: Workspace, name: str, now: dt.datetime) -> list[int]:
    """Ids of the open conversations in the filter's SLA states (see FILTER_STATES)."""
    states = FILTER_STATES.get(name, set())
    return [conversation.pk for conversation, status in open_states(workspace, now) if status.state in states]


@dataclass(frozen=True)
class Figures:
    total: sla.SlaSummary
    by_channel: dict[int | None, sla.SlaSummary]
    by_member: dict[int | None, sla.SlaSummary]


def figures(
    workspace: Workspace, since: dt.datetime, until: dt.datetime, now: dt.datetime, settings: SlaSettings | None = None
) -> Figures:
    settings = settings or SlaSettings.for_workspace(workspace)
    calendar = settings.business_calendar()
    target = settings.target_seconds
    rows = answered_rows(workspace, since, until)
    pairs = [(row.received_at, row.answered_at) for row in rows]
    return Figures(
        total=sla.summarize(calendar, pairs, now, target),
        by_channel=sla.summarize_by(calendar, _keyed(rows, "channel_id"), now, target),
        by_member=sla.summarize_by(calendar, _keyed(rows, "member_id"), now, target),
    )


def _keyed(rows: Iterable[Answered], key: str) -> list[tuple[int | None, dt.datetime, dt.datetime | None]]:
    return [(getattr(row, key), row.received_at, row.answered_at) for row in rows]


def duration(seconds: float | None) -> str:
    """Business time for people: "45 min", "3 h 20 min", "2 days 1 h" (a day = 24 business hours
    is rare; most figures are hours)."""
    if seconds is None:
        return "\N{EN DASH}"
    negative = seconds < 0
    minutes = round(abs(seconds) / 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = []
    if days:
        parts.append(ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
    if hours:
        parts.append(_("%(count)d h") % {"count": hours})
    if minutes or not parts:
        parts.append(_("%(count)d min") % {"count": minutes})
    text = " ".join(parts)
    return f"\N{MINUS SIGN}{text}" if negative else text
