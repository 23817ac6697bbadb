"""Merge suggestions (docs/people.md "Merging"): people who probably are one human:

- `handle`: identities with the same handle (ignoring case) on two networks;
- `name_avatar`: the same display name with the same avatar picture;
- `links`: an account whose profile links to another person's account (`ProfileLink`: a
  Mastodon account's website field naming an X profile, a Bluesky bio naming a Mastodon one);
- `email`: the same e-mail address (compared by keyed hash) kept on two people, with the number
  of conversions that reported that address too.

A few grouping queries and one to load the people; nothing is merged automatically. Every query
is limited to the workspace; erased people have no identities and no e-mail, so they never show.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Lower

from stammtisch.audience.models import ConversionContact, Identity, Person, ProfileLink
from stammtisch.core.models import Workspace

LIMIT = 20


@dataclass
class Suggestion:
    reason: str  # "handle", "name_avatar", "links" or "email"
    people: list[Person]
    conversions: int = 0  # for "email": conversions that reported the same address


def suggestions(workspace: Workspace, limit: int = LIMIT) -> list[Suggestion]:
    found = _by_identity(workspace, limit) + _by_links(workspace, limit) + _by_email(workspace, limit)
    return [s for s in found if len(s.people) > 1][:limit]


def _by_identity(workspace: Workspace, limit: int) -> list[Suggestion]:
    identities = Identity.objects.filter(workspace=workspace, person__erased_at__isnull=True)
    handles = list(
        identities.exclude(handle="")
        .annotate(key=Lower("handle"))
        .values("key")
        .annotate(people=Count("person", distinct=True))
        .filter(people__gt=1)
        .order_by("key")
        .values_list("key", flat=True)[:limit]
    )
    looks = list(
        identities.exclude(display_name="")
        .exclude(avatar_url="")
        .values("display_name", "avatar_url")
        .annotate(people=Count("person", distinct=True))
        .filter(people__gt=1)
        .order_by("display_name")
        .values_list("display_name", "avatar_url")[:limit]
    )
    if not handles and not looks:
        return []
    wanted = Q(pk__in=[])
    for name, avatar in looks:
        wanted |= Q(display_name=name, avatar_url=avatar)
    rows = list(
        identities.annotate(key=Lower("handle"))
        .filter(Q(key__in=handles) | wanted)
        .select_related("person")
        .order_by("person_id")
    )
    found: list[Suggestion] = []
    for handle in handles:
        people = {i.person_id: i.person for i in rows if i.handle.lower() == handle}
        found.append(Suggestion("handle", list(people.values())))
    for name, avatar in looks:
        people = {i.person_id: i.person for i in rows if i.display_name == name and i.avatar_url == avatar}
        found.append(Suggestion("name_avatar", list(people.values())))
    return found


def _by_links(workspace: Workspace, limit: int) -> list[Suggestion]:
    """Pairs of people: one's account links to the profile of an account of the other."""
    source = Identity.objects.filter(
        workspace=workspace, network=OuterRef("network"), remote_id=OuterRef("remote_id")
    ).values("person_id")[:1]
    named = (
        Identity.objects.annotate(key=Lower("handle"))
        .filter(workspace=workspace, network=OuterRef("to_network"), key=OuterRef("to_handle"))
        .values("person_id")[:1]
    )
    pairs = (
        ProfileLink.objects.filter(workspace=workspace)
        .exclude(to_network="")
        .annotate(
            source=Subquery(source, output_field=IntegerField()),
            named=Subquery(named, output_field=IntegerField()),
        )
        .filter(source__isnull=False, named__isnull=False)
        .exclude(source=F("named"))
        .order_by("pk")
        .values_list("source", "named")
    )
    unique: list[tuple[int, int]] = []
    for a, b in pairs.iterator():
        pair = (min(a, b), max(a, b))
        if pair not in unique:
            unique.append(pair)
            if len(unique) >= limit:
                break
    people = Person.objects.in_bulk({pk for pair in unique for pk in pair})
    return [
        Suggestion("links", [people[a], people[b]])
        for a, b in unique
        if a in people and b in people and not people[a].is_erased and not people[b].is_erased
    ]


def _by_email(workspace: Workspace, limit: int) -> list[Suggestion]:
    """People sharing an e-mail address (by hash), and how many conversions reported it too."""
    hashes = list(
        Person.objects.filter(workspace=workspace, erased_at__isnull=True)
        .exclude(email_hash="")
        .values("email_hash")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by("email_hash")
        .values_list("email_hash", flat=True)[:limit]
    )
    if not hashes:
        return []
    conversions = dict(
        ConversionContact.objects.filter(workspace=workspace, email_hash__in=hashes)
        .values("email_hash")
        .annotate(n=Count("pk"))
        .values_list("email_hash", "n")
    )
    rows = Person.objects.filter(workspace=workspace, erased_at__isnull=True, email_hash__in=hashes).order_by("pk")
    grouped: dict[str, list[Person]] = {}
    for person in rows:
        grouped.setdefault(person.email_hash, []).append(person)
    return [Suggestion("email", grouped.get(h, []), conversions=conversions.get(h, 0)) for h in hashes]
