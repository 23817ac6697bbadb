"""Template helpers of the analytics app: `{% load analytics_tags %}`."""

from __future__ import annotations

from typing import Any

from django import template

from stammtisch.analytics.actions import takes_manual_figures
from stammtisch.analytics.forms import FIGURE_LABELS
from stammtisch.analytics.models import PostMetricSnapshot
from stammtisch.publishing.models import Delivery

register = template.Library()

SHOWN = ("likes", "comments", "shares", "clicks", "impressions")


@register.inclusion_tag("analytics/_delivery_metrics.html", takes_context=True)
def delivery_metrics(context: template.Context, delivery: Delivery) -> dict[str, Any]:
    """The latest figures of a delivery on the post page, with "as of" (in the workspace's zone,
    which the page is rendered in); for a network without an API, where to enter them."""
    published = delivery.state == Delivery.State.PUBLISHED
    snapshot = None
    if published:
        snapshot = (
            PostMetricSnapshot.objects.filter(workspace_id=delivery.channel.workspace_id, delivery=delivery)
            .order_by("-observed_at", "-pk")
            .first()
        )
    items = []
    if snapshot is not None:
        items = [
            (FIGURE_LABELS[name], getattr(snapshot, name)) for name in SHOWN if getattr(snapshot, name) is not None
        ]
    return {
        "delivery": delivery,
        "snapshot": snapshot,
        "items": items,
        "manual": published and takes_manual_figures(delivery),
        "can_edit": context.get("can_edit", False),
        "current_workspace": context.get("current_workspace"),
    }
