"""Template helpers of the core app: `{% load stammtisch_core %}`."""

from __future__ import annotations

from django import template

from stammtisch.core.actions import audit_action_label
from stammtisch.core.models import Membership

register = template.Library()


@register.filter
def can(membership: Membership | None, perm: str) -> bool:
    """`{% if current_membership|can:"manage" %}`: whether the member's role grants `perm`."""
    return membership is not None and membership.can(perm)


@register.filter
def audit_label(action: str) -> str:
    """The human name of an audit action code (the code itself when it has none)."""
    return audit_action_label(action)
