from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from stammtisch.networks.models import Channel


def get_channel_for_member(request: HttpRequest, channel_id: int) -> Channel:
    """A channel of the request's workspace (resolved by `workspace_view`); 404 otherwise."""
    return get_object_or_404(Channel, pk=channel_id, workspace=request.workspace)  # type: ignore[attr-defined]
