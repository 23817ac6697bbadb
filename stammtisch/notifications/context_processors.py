from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from stammtisch.notifications.actions import unread_count


class Bell:
    """The unread count for the bell, counted once per request and only if a page shows it."""

    def __init__(self, user: Any) -> None:
        self.user = user

    @cached_property
    def unread(self) -> int:
        if self.user is None or not self.user.is_authenticated:
            return 0
        return unread_count(self.user)


def notifications(request: HttpRequest) -> dict[str, Any]:
    return {"notification_bell": Bell(getattr(request, "user", None))}
