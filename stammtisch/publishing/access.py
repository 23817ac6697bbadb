"""One access helper per object (STYLE.md §5): always filtered by the request's workspace, which
`workspace_view` resolved after checking membership and permission. Another workspace's id is a
404."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from stammtisch.publishing.models import Delivery, Post


def get_post_for_member(request: HttpRequest, post_id: int) -> Post:
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(Post.objects.select_related("workspace"), pk=post_id, workspace=workspace)


def get_delivery_for_member(request: HttpRequest, post_id: int, delivery_id: int) -> Delivery:
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(
        Delivery.objects.select_related("post__workspace", "channel"),
        pk=delivery_id,
        post_id=post_id,
        post__workspace=workspace,
    )
