"""The navigation's "Waiting for approval" entry: `{% load approvals_tags %}{% approvals_nav %}`."""

from __future__ import annotations

from typing import Any

from django import template

from stammtisch.core.roles import Perm
from stammtisch.publishing import approvals

register = template.Library()


@register.inclusion_tag("publishing/_approvals_nav.html", takes_context=True)
def approvals_nav(context: Any) -> dict[str, Any]:
    """For members who may approve (`Perm.COMMENT`): the entry with the number of posts waiting,
    shown when the workspace requires approval or something waits (cached: `approvals.nav_state`)."""
    membership = context.get("current_membership")
    workspace = context.get("current_workspace")
    if membership is None or workspace is None or not membership.can(Perm.COMMENT):
        return {"show": False}
    required, count = approvals.nav_state(workspace)
    show = required or bool(count)
    return {"show": show, "count": count, "slug": workspace.slug, "current": context.get("nav") == "approvals"}
