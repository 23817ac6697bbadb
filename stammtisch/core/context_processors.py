from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from stammtisch.core.models import Membership


def stammtisch(request: HttpRequest) -> dict[str, Any]:
    memberships: list[Membership] = []
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        memberships = list(Membership.objects.filter(user=request.user).select_related("workspace"))
    return {
        "memberships": memberships,
        "current_membership": getattr(request, "membership", None),
        "current_workspace": getattr(request, "workspace", None),
        "signup_enabled": settings.SIGNUP_ENABLED,
    }
