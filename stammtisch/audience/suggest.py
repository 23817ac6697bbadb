"""Merge suggestions (docs/people.md "Merging"): identities of different people that probably
belong to one human: the same handle on two networks, or the same display name with the same
avatar picture. Two grouping queries and one to load the people; nothing is merged automatically."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import Lower

from stammtisch.audience.models import Identity, Person
from stammtisch.core.models import Workspace

LIMIT = 20


@dataclass
class Suggestion:
    reason: str  # "handle" or "name_avatar"
    people: list[Person]


def suggestions(workspace: Workspace, limit: int = LIMIT) -> list[Suggestion]:
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
    return [s for s in found if len(s.people) > 1][:limit]
