"""Reading the inbox's rows into people (docs/people.md "How people are made").

The worker job `audience` calls `consume()`: it reads `inbox.Message` and `inbox.Interaction`
rows with an id above the stored cursor (`AudienceCursor` "inbox"), in batches, each batch in one
transaction that holds the cursor row locked (so two workers never read the same batch). For a
batch it

1. reads the channels, the parents of our replies, the existing engagements, the suppression
   entries and the identities it needs: one query each, never one per row;
2. creates the people and identities seen for the first time (unless suppressed);
3. records one `Engagement` per row (unique per row: a row read twice counts once), and one
   `answered` engagement for each reply of ours to a person;
4. moves each touched person's score, counts, first/last seen and stage forward;
5. records the follows that a personal referral code brought (`referrals.attribute_follows`) and
   credits the recommenders (`credit_follows`).

Each batch re-reads the last `OVERLAP` ids before the cursor: a row whose transaction committed
after a higher id had already been read is picked up then (docs/people.md explains the limit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from stammtisch.audience import loyalty, referrals
from stammtisch.audience.models import (
    PASSIVE_KINDS,
    AudienceCursor,
    Engagement,
    Identity,
    Kind,
    Person,
    ReferredFollow,
    StageTransition,
    Suppression,
)
from stammtisch.audience.privacy import handle_key, suppression_hash
from stammtisch.inbox.models import Interaction, Message
from stammtisch.networks.models import Channel

BATCH = 1000
OVERLAP = 200
CURSOR = "inbox"

MESSAGE_KINDS = {"comment": Kind.COMMENT, "reply": Kind.REPLY, "mention": Kind.MENTION, "message": Kind.MESSAGE}
INTERACTION_KINDS = {
    "like": Kind.LIKE,
    "favourite": Kind.LIKE,
    "share": Kind.SHARE,
    "repost": Kind.SHARE,
    "reblog": Kind.SHARE,
    "follow": Kind.FOLLOW,
    "unfollow": Kind.UNFOLLOW,
}
MESSAGE_FIELDS = (
    "id",
    "workspace_id",
    "channel_id",
    "kind",
    "direction",
    "remote_id",
    "parent_remote_id",
    "author_id",
    "author_handle",
    "author_name",
    "author_avatar_url",
    "occurred_at",
    "sentiment",
    "intent",
    "language",
)
INTERACTION_FIELDS = (
    "id",
    "workspace_id",
    "channel_id",
    "kind",
    "author_id",
    "author_handle",
    "author_name",
    "occurred_at",
)


@dataclass
class Seen:
    """One engagement to record: who (as the row names them), what, when, from which row."""

    workspace_id: int
    network: str
    channel_id: int
    author_id: str
    handle: str
    name: str
    avatar_url: str
    kind: str
    occurred_at: dt.datetime
    source: str
    source_id: int
    sentiment: str = ""
    intent: str = ""
    language: str = ""
    answers: int | None = None  # for `answered`: the id of the message we answered

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.workspace_id, self.network, self.author_id or handle_key(self.handle))


def consume(now: dt.datetime | None = None, *, batch: int = BATCH, max_batches: int = 50) -> int:
    """Read new inbox rows into people; returns how many engagements were recorded. Each batch
    commits on its own."""
    now = now or timezone.now()
    total = 0
    for _round in range(max_batches):
        with transaction.atomic():
            recorded, more = consume_batch(now, batch=batch)
        total += recorded
        if not more:
            break
    return total


def _cursor() -> AudienceCursor:
    AudienceCursor.objects.get_or_create(name=CURSOR)
    return AudienceCursor.objects.select_for_update().get(name=CURSOR)


def consume_batch(now: dt.datetime, *, batch: int = BATCH) -> tuple[int, bool]:
    """One batch (call inside a transaction). Returns (engagements recorded, more rows wait)."""
    cursor = _cursor()
    messages = list(
        Message.objects.filter(pk__gt=max(0, cursor.message_id - OVERLAP))
        .order_by("pk")
        .values(*MESSAGE_FIELDS)[:batch]
    )
    interactions = list(
        Interaction.objects.filter(pk__gt=max(0, cursor.interaction_id - OVERLAP))
        .order_by("pk")
        .values(*INTERACTION_FIELDS)[:batch]
    )
    new_messages = [row for row in messages if row["id"] > cursor.message_id]
    new_interactions = [row for row in interactions if row["id"] > cursor.interaction_id]
    more = (len(messages) == batch and bool(new_messages)) or (len(interactions) == batch and bool(new_interactions))
    recorded = record(_observations(messages, interactions), now)
    if new_messages:
        cursor.message_id = new_messages[-1]["id"]
    if new_interactions:
        cursor.interaction_id = new_interactions[-1]["id"]
    if new_messages or new_interactions:
        cursor.save(update_fields=["message_id", "interaction_id"])
    return recorded, more


def _own_account(channel: Mapping[str, Any], author_id: str, handle: str) -> bool:
    if author_id and author_id == channel["remote_account_id"]:
        return True
    return bool(handle) and handle.lstrip("@").lower() == channel["handle"].lstrip("@").lower()


def _observations(messages: list[dict[str, Any]], interactions: list[dict[str, Any]]) -> list[Seen]:
    channel_ids = {row["channel_id"] for row in messages} | {row["channel_id"] for row in interactions}
    channels = {
        row["pk"]: row
        for row in Channel.objects.filter(pk__in=channel_ids).values("pk", "network", "remote_account_id", "handle")
    }
    done = set(
        Engagement.objects.filter(
            Q(source=Engagement.Source.MESSAGE, source_id__in=[row["id"] for row in messages])
            | Q(source=Engagement.Source.INTERACTION, source_id__in=[row["id"] for row in interactions])
        ).values_list("source", "source_id")
    )
    # The messages our replies answer, to credit their authors with an answer.
    answers = [
        row
        for row in messages
        if row["direction"] == Message.Direction.OUT
        and row["parent_remote_id"]
        and (Engagement.Source.MESSAGE, row["id"]) not in done
    ]
    parents: dict[tuple[int, str], dict[str, Any]] = {}
    if answers:
        wanted = Q()
        for row in answers:
            wanted |= Q(channel_id=row["channel_id"], remote_id=row["parent_remote_id"])
        for parent in Message.objects.filter(wanted, direction=Message.Direction.IN).values(*MESSAGE_FIELDS):
            parents[(parent["channel_id"], parent["remote_id"])] = parent

    seen: list[Seen] = []
    for row in messages:
        if (Engagement.Source.MESSAGE, row["id"]) in done:
            continue
        channel = channels[row["channel_id"]]
        author = row
        kind: str = MESSAGE_KINDS.get(row["kind"], Kind.COMMENT)
        answers_id = None
        if row["direction"] == Message.Direction.OUT:
            author = parents.get((row["channel_id"], row["parent_remote_id"]), {})
            if not author:
                continue
            kind, answers_id = Kind.ANSWERED, author["id"]
        author_id, handle = author["author_id"], author["author_handle"]
        if not (author_id or handle) or _own_account(channel, author_id, handle):
            continue
        seen.append(
            Seen(
                workspace_id=row["workspace_id"],
                network=channel["network"],
                channel_id=row["channel_id"],
                author_id=author_id,
                handle=handle,
                name=author["author_name"],
                avatar_url=author["author_avatar_url"],
                kind=kind,
                occurred_at=row["occurred_at"],
                source=Engagement.Source.MESSAGE,
                source_id=row["id"],
                sentiment="" if answers_id else row["sentiment"],
                intent="" if answers_id else row["intent"],
                language="" if answers_id else row["language"],
                answers=answers_id,
            )
        )
    for row in interactions:
        interaction_kind = INTERACTION_KINDS.get(row["kind"])
        if interaction_kind is None or (Engagement.Source.INTERACTION, row["id"]) in done:
            continue
        channel = channels[row["channel_id"]]
        if not (row["author_id"] or row["author_handle"]) or _own_account(
            channel, row["author_id"], row["author_handle"]
        ):
            continue
        seen.append(
            Seen(
                workspace_id=row["workspace_id"],
                network=channel["network"],
                channel_id=row["channel_id"],
                author_id=row["author_id"],
                handle=row["author_handle"],
                name=row["author_name"],
                avatar_url="",
                kind=interaction_kind,
                occurred_at=row["occurred_at"],
                source=Engagement.Source.INTERACTION,
                source_id=row["id"],
            )
        )
    return seen


def resolve(seen: list[Seen], now: dt.datetime) -> dict[tuple[int, str, str], Identity]:
    """The identity of every author in `seen` (by `Seen.key`), created with a new person where
    none exists yet; suppressed authors are left out. A fixed number of queries per call."""
    if not seen:
        return {}
    workspaces = {s.workspace_id for s in seen}
    networks = {s.network for s in seen}
    keys = {s.author_id for s in seen if s.author_id} | {handle_key(s.handle) for s in seen if s.handle}
    handles = {s.handle for s in seen if s.handle}
    by_remote: dict[tuple[int, str, str], Identity] = {}
    by_handle: dict[tuple[int, str, str], Identity] = {}
    for known in Identity.objects.filter(
        Q(remote_id__in=keys) | Q(handle__in=handles), workspace_id__in=workspaces, network__in=networks
    ).select_related("person"):
        by_remote[(known.workspace_id, known.network, known.remote_id)] = known
        if known.handle:
            by_handle.setdefault((known.workspace_id, known.network, known.handle), known)

    found: dict[tuple[int, str, str], Identity] = {}
    changed: dict[int, Identity] = {}
    unknown: dict[tuple[int, str, str], Seen] = {}
    for s in sorted(seen, key=lambda s: s.occurred_at):
        identity: Identity | None = None
        if s.author_id:
            identity = by_remote.get((s.workspace_id, s.network, s.author_id))
        if identity is None and s.handle:
            stand_in = by_remote.get((s.workspace_id, s.network, handle_key(s.handle)))
            if stand_in is not None and s.author_id:
                # Known by handle only so far: the network's id replaces the stand-in.
                stand_in.remote_id = s.author_id
                by_remote[(s.workspace_id, s.network, s.author_id)] = stand_in
                changed[stand_in.pk] = stand_in
            identity = stand_in or (None if s.author_id else by_handle.get((s.workspace_id, s.network, s.handle)))
        if identity is None:
            unknown.setdefault(s.key, s)
            continue
        found[s.key] = identity
        for field, value in (("handle", s.handle), ("display_name", s.name), ("avatar_url", s.avatar_url)):
            if value and getattr(identity, field) != value:
                setattr(identity, field, value)
                changed[identity.pk] = identity
    if changed:
        Identity.objects.bulk_update(changed.values(), ["remote_id", "handle", "display_name", "avatar_url"])

    # A new author seen both with an id and (in another row) by handle only: one person.
    with_id = {(s.workspace_id, s.network, s.handle): s for s in unknown.values() if s.author_id and s.handle}
    aliases = {
        key: with_id[(s.workspace_id, s.network, s.handle)]
        for key, s in unknown.items()
        if not s.author_id and (s.workspace_id, s.network, s.handle) in with_id
    }
    for key in aliases:
        del unknown[key]
    if unknown:
        hashes = {}
        for key, s in unknown.items():
            hashes[key] = {suppression_hash(s.network, key[2])}
            if s.handle:
                hashes[key].add(suppression_hash(s.network, handle_key(s.handle)))
        suppressed = set(
            Suppression.objects.filter(workspace_id__in=workspaces, hash__in=set().union(*hashes.values())).values_list(
                "workspace_id", "hash"
            )
        )
        fresh = {
            key: s
            for key, s in unknown.items()
            if not any((s.workspace_id, value) in suppressed for value in hashes[key])
        }
        people = [
            Person(
                workspace_id=s.workspace_id,
                display_name=(s.name or s.handle)[:200],
                first_seen=s.occurred_at,
                last_seen=s.occurred_at,
                created_at=now,
            )
            for s in fresh.values()
        ]
        Person.objects.bulk_create(people)
        StageTransition.objects.bulk_create(
            StageTransition(workspace_id=p.workspace_id, person=p, from_stage="", to_stage=p.stage, at=now)
            for p in people
        )
        identities = [
            Identity(
                workspace_id=s.workspace_id,
                person=person,
                network=s.network,
                channel_id=s.channel_id,
                remote_id=key[2],
                handle=s.handle,
                display_name=s.name,
                avatar_url=s.avatar_url,
                created_at=now,
            )
            for (key, s), person in zip(fresh.items(), people, strict=True)
        ]
        Identity.objects.bulk_create(identities)
        found.update({identity_key(i): i for i in identities})
    for key, s in aliases.items():  # seen by handle only, and with an id, in one batch
        if s.key in found:
            found[key] = found[s.key]
    return found


def identity_key(identity: Identity) -> tuple[int, str, str]:
    return (identity.workspace_id, identity.network, identity.remote_id)


def record(seen: list[Seen], now: dt.datetime) -> int:
    """Resolve the authors of `seen`, store their engagements and move their people forward."""
    identities = resolve(seen, now)
    people: dict[int, Person] = {}
    engagements: list[Engagement] = []
    answered: set[int] = set()
    for s in seen:
        identity = identities.get(s.key)
        if identity is None:
            continue
        person = people.setdefault(identity.person_id, identity.person)
        if person.is_erased:
            continue
        weight = loyalty.weight(s.kind, s.sentiment)
        engagements.append(
            Engagement(
                workspace_id=s.workspace_id,
                person_id=person.pk,
                identity=identity,
                channel_id=s.channel_id,
                kind=s.kind,
                weight=weight,
                occurred_at=s.occurred_at,
                source=s.source,
                source_id=s.source_id,
                sentiment=s.sentiment,
                intent=s.intent,
            )
        )
        if s.answers is not None:
            answered.add(s.answers)
        apply(person, s.kind, weight, s.occurred_at, language=s.language, name=s.name or s.handle)
    for engagement in engagements:
        if engagement.source == Engagement.Source.MESSAGE and engagement.source_id in answered:
            engagement.answered = True
    Engagement.objects.bulk_create(engagements)
    if answered:
        Engagement.objects.filter(source=Engagement.Source.MESSAGE, source_id__in=answered).update(answered=True)
    save_people(list(people.values()), now)
    credit_follows(referrals.attribute_follows(engagements), now)
    return len(engagements)


def credit_follows(follows: list[ReferredFollow], now: dt.datetime) -> None:
    """Each referred follow's recommender gets a `ref_follow` engagement (once per row) at the
    follow's time, like a conversion through their referral (audience/hooks.py): it moves their
    score and counts, not their "first seen" and "last seen"."""
    if not follows:
        return
    credited = set(
        Engagement.objects.filter(
            source=Engagement.Source.REFERRED_FOLLOW, source_id__in=[follow.pk for follow in follows]
        ).values_list("source_id", flat=True)
    )
    by_person: dict[int, list[ReferredFollow]] = {}
    for follow in follows:
        if follow.referral.person_id is not None and follow.pk not in credited:
            by_person.setdefault(follow.referral.person_id, []).append(follow)
    if not by_person:
        return
    people = list(Person.objects.select_for_update().filter(pk__in=by_person, erased_at__isnull=True).order_by("pk"))
    weight = loyalty.weight(Kind.REFERRED_FOLLOW)
    credits = []
    for person in people:
        for follow in by_person[person.pk]:
            credits.append(
                Engagement(
                    workspace_id=person.workspace_id,
                    person=person,
                    channel_id=follow.channel_id,
                    kind=Kind.REFERRED_FOLLOW,
                    weight=weight,
                    occurred_at=follow.occurred_at,
                    source=Engagement.Source.REFERRED_FOLLOW,
                    source_id=follow.pk,
                )
            )
            apply(person, Kind.REFERRED_FOLLOW, weight, follow.occurred_at)
    Engagement.objects.bulk_create(credits)
    save_people(people, now)


def apply(person: Person, kind: str, weight: float, at: dt.datetime, *, language: str = "", name: str = "") -> None:
    """One engagement's effect on the person, in memory."""
    counts = dict(person.counts or {})
    counts[kind] = counts.get(kind, 0) + 1
    person.counts = counts
    loyalty.add(person, weight, at)
    if kind not in PASSIVE_KINDS:  # our answer, or their referral's conversion, is not them being active
        person.first_seen = min(person.first_seen or at, at)
        person.last_seen = max(person.last_seen or at, at)
    if not person.language and language in ("de", "en"):
        person.language = language
    if not person.display_name and name:
        person.display_name = name[:200]


PERSON_FIELDS = ["display_name", "language", "score", "score_at", "counts", "first_seen", "last_seen", "stage"]


def save_people(people: list[Person], now: dt.datetime) -> list[StageTransition]:
    """Save the people's figures; record stage changes as transitions at `now`."""
    transitions = []
    for person in people:
        stage = loyalty.stage_for(person, now)
        if stage != person.stage:
            transitions.append(
                StageTransition(
                    workspace_id=person.workspace_id, person=person, from_stage=person.stage, to_stage=stage, at=now
                )
            )
            person.stage = stage
    update_people(people)
    StageTransition.objects.bulk_create(transitions)
    return transitions


def update_people(people: list[Person]) -> None:
    """Write the people's PERSON_FIELDS: one plain UPDATE per person, sent with executemany.
    (`bulk_update` builds a CASE expression per field and person in Python, which cost more than
    the database work: about 3 ms a person; `stammtisch bench people`.)"""
    if not people:
        return
    by_name = {field.name: field for field in Person._meta.concrete_fields}
    fields = [by_name[name] for name in PERSON_FIELDS]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    statement = f"UPDATE {quote(Person._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
    rows = [
        [field.get_db_prep_save(getattr(p, field.attname), connection) for field in fields] + [p.pk] for p in people
    ]
    with connection.cursor() as cursor:
        cursor.executemany(statement, rows)
