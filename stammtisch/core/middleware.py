from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ClientAddressMiddleware:
    """Behind a reverse proxy (STAMMTISCH_BEHIND_PROXY), the client's address is the last entry
    of X-Forwarded-For: the one our own proxy appended. Earlier entries can be forged by clients.
    Log-in throttling and the audit log read REMOTE_ADDR, so it is corrected here, once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.BEHIND_PROXY:
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
            candidate = forwarded.split(",")[-1].strip() if forwarded else ""
            with contextlib.suppress(ValueError):
                request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(candidate))
        return self.get_response(request)
