"""One access helper per object (STYLE.md §5): always filtered by the request's workspace, so
another workspace's person is a 404."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from stammtisch.audience.models import Person


def get_person_for_member(request: HttpRequest, person_id: int) -> Person:
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(Person.objects.select_related("workspace"), pk=person_id, workspace=workspace)
