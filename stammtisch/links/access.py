"""One access helper per object (STYLE.md §5)."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from stammtisch.links.models import ShortLink


def get_short_link_for_member(request: HttpRequest, short_link_id: int) -> ShortLink:
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(
        ShortLink.objects.select_related("workspace", "post", "channel"), pk=short_link_id, workspace=workspace
    )
