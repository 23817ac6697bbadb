"""GDPR tools (docs/people.md "Privacy"): what a person's export holds, and how their data is
removed from the inbox's tables on erasure.

The inbox's rows are written here, not in the inbox app, by author id and handle per network,
so the audience app stays the one place that knows who a person is.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat

from stammtisch.audience.models import ConversionContact, Identity, Person, ProfileLink
from stammtisch.audience.privacy import handle_key
from stammtisch.inbox.models import Conversation, Interaction, Message, Reply
from stammtisch.links.actions import short_url

ERASED = "[erased]"


def _authored(identities: list[Identity]) -> Q:
    """Inbox rows written by any of these identities (same network, same id or handle)."""
    wanted = Q(pk__in=[])
    for identity in identities:
        by_author = Q(pk__in=[])
        if not identity.remote_id.startswith("@"):
            by_author |= Q(author_id=identity.remote_id)
        if identity.handle:
            by_author |= Q(author_handle=identity.handle)
        elif identity.remote_id.startswith("@"):
            by_author |= Q(author_handle__iexact=identity.remote_id[1:])
        wanted |= Q(by_author, channel__network=identity.network)
    return wanted


def person_messages(person: Person) -> Any:
    """The person's messages in the inbox (a queryset; empty for a person without identities)."""
    identities = list(person.identities.all())
    return Message.objects.filter(_authored(identities), workspace_id=person.workspace_id, direction="in")


def export_data(person: Person) -> dict[str, Any]:
    """Everything stored about the person, as JSON-ready data (GDPR Art. 15)."""
    identities = list(person.identities.order_by("network", "pk"))
    messages = person_messages(person).select_related("channel").order_by("occurred_at", "pk")
    interactions = Interaction.objects.filter(_authored(identities), workspace_id=person.workspace_id).select_related(
        "channel"
    )
    return {
        "person": {
            "id": person.pk,
            "name": person.display_name,
            "email": person.email,
            "language": person.language,
            "consent": person.consent,
            "tags": sorted(tag.name for tag in person.tags.all()),
            "notes": person.notes,
            "stage": person.stage,
            "loyalty_score": round(person.score, 2),
            "first_seen": _iso(person.first_seen),
            "last_seen": _iso(person.last_seen),
            "added": person.get_source_display(),
            "erased": _iso(person.erased_at),
        },
        "identities": [
            {
                "network": identity.network,
                "id": "" if identity.remote_id.startswith("@") else identity.remote_id,
                "handle": identity.handle,
                "name": identity.display_name,
                "avatar_url": identity.avatar_url,
                "profile_url": identity.profile_url,
            }
            for identity in identities
        ],
        "messages": [
            {
                "network": message.channel.network,
                "channel": message.channel.display_name,
                "kind": message.kind,
                "text": message.text,
                "at": _iso(message.occurred_at),
                "language": message.language,
                "sentiment": message.sentiment,
                "intent": message.intent,
            }
            for message in messages
        ],
        "interactions": [
            {"network": row.channel.network, "kind": row.kind, "at": _iso(row.occurred_at)}
            for row in interactions.order_by("occurred_at", "pk")
        ],
        "engagements": [
            {"kind": e.kind, "weight": e.weight, "at": _iso(e.occurred_at), "answered": e.answered}
            for e in person.engagements.order_by("occurred_at", "pk")
        ],
        "stage_history": [{"from": t.from_stage, "to": t.to_stage, "at": _iso(t.at)} for t in person.transitions.all()],
        "profile_links": [
            {"network": link.network, "url": link.url, "seen": _iso(link.seen_at)} for link in profile_links(identities)
        ],
        "referrals": [
            {
                "code": referral.code,
                "short_link": short_url(referral.link.code),
                "leads_to": referral.link.target,
                "made": _iso(referral.created_at),
                "follows_brought": referral.follows.count(),
            }
            for referral in person.referrals.select_related("link").order_by("created_at", "pk")
        ],
        # Their follows that were credited to a recommender because they named a personal code.
        "follows_on_recommendation": [
            {"network": row.channel.network, "channel": row.channel.display_name, "at": _iso(row.occurred_at)}
            for row in person.referred_follows.select_related("channel").order_by("occurred_at", "pk")
        ],
        "conversions_with_your_email": [
            {
                "kind": contact.conversion.kind,
                "value": str(contact.conversion.value) if contact.conversion.value is not None else None,
                "currency": contact.conversion.currency,
                "at": _iso(contact.conversion.occurred_at),
            }
            for contact in email_conversions(person)
        ],
    }


def profile_links(identities: list[Identity]) -> list[ProfileLink]:
    """The links in the profiles of these identities' accounts."""
    if not identities:
        return []
    accounts = Q(pk__in=[])
    for identity in identities:
        accounts |= Q(network=identity.network, remote_id=identity.remote_id)
    return list(
        ProfileLink.objects.filter(accounts, workspace_id=identities[0].workspace_id).order_by("network", "url")
    )


def email_conversions(person: Person) -> list[ConversionContact]:
    """The conversions the website reported with the person's e-mail address (compared by hash)."""
    if not person.email_hash:
        return []
    return list(
        ConversionContact.objects.filter(workspace_id=person.workspace_id, email_hash=person.email_hash)
        .select_related("conversion", "referral__person")
        .order_by("-conversion__occurred_at", "-pk")
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def erase_inbox_rows(workspace_id: int, identities: list[Identity]) -> dict[str, int]:
    """Replace the texts of the identities' inbox messages (and of our replies to them, which
    may name them) by "[erased]" and blank every author field they appear in. Returns counts."""
    if not identities:
        return {"messages": 0, "replies": 0, "interactions": 0, "conversations": 0}
    authored = Message.objects.filter(_authored(identities), workspace_id=workspace_id)
    theirs = list(authored.values_list("pk", "channel_id", "remote_id", "conversation_id"))
    conversation_ids = {row[3] for row in theirs}
    blank = {"author_id": "", "author_handle": "", "author_name": "", "author_avatar_url": ""}
    counts = {"messages": Message.objects.filter(pk__in=[row[0] for row in theirs]).update(text=ERASED, **blank)}

    answered = Q(pk__in=[])
    for _pk, channel_id, remote_id, _conversation in theirs:
        answered |= Q(channel_id=channel_id, in_reply_to=remote_id)
    replies = Reply.objects.filter(answered, workspace_id=workspace_id)
    ours = Q(pk__in=[])
    for _pk, channel_id, remote_id, _conversation in theirs:
        ours |= Q(channel_id=channel_id, parent_remote_id=remote_id)
    counts["replies"] = replies.update(text=ERASED) + Message.objects.filter(
        ours, workspace_id=workspace_id, direction="out"
    ).update(text=ERASED)

    counts["interactions"] = Interaction.objects.filter(_authored(identities), workspace_id=workspace_id).update(
        author_id="", author_handle="", author_name=""
    )

    handles = Q(pk__in=[])
    for identity in identities:
        if identity.handle:
            handles |= Q(author_handle=identity.handle, channel__network=identity.network)
    conversations = Conversation.objects.filter(Q(pk__in=conversation_ids) | handles, workspace_id=workspace_id)
    counts["conversations"] = conversations.update(author_name="", author_handle="", excerpt=ERASED)
    # A direct-message thread is named by the other person's id.
    direct = Q(pk__in=[])
    for identity in identities:
        direct |= Q(channel__network=identity.network, root_remote_id=identity.remote_id)
        if identity.handle:
            direct |= Q(channel__network=identity.network, root_remote_id=handle_key(identity.handle)[1:])
    Conversation.objects.filter(direct, workspace_id=workspace_id, kind=Conversation.Kind.MESSAGE).update(
        root_remote_id=Concat(Value("erased-"), Cast("pk", output_field=CharField()))
    )
    return counts
