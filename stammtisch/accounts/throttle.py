"""Log-in throttling: how many recent failures an account key or an IP address has.

After `LOGIN_FAILURE_LIMIT` failures within `LOGIN_LOCKOUT_MINUTES`, further attempts are
refused until the oldest of those failures leaves the window. Refused attempts are not counted,
so a lock ends on time however often someone keeps trying. A successful log-in clears the
account's count (not the IP's: one valid account must not unlock guessing at others).
Passwords and codes count alike, so knowing the password does not give unlimited code guesses.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from stammtisch.accounts.models import LoginAttempt, sha256


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from (the same one the audit log records)."""
    return request.META.get("REMOTE_ADDR") or None


def account_key(user: User | None, typed_name: str = "") -> str:
    """The counter for an account; unknown names get one of their own (no user enumeration)."""
    if user is not None:
        return f"user:{user.pk}"
    return "name:" + sha256(typed_name.strip().lower())[:64]


def window() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def _locked_until(failures: list[datetime]) -> datetime | None:
    limit = settings.LOGIN_FAILURE_LIMIT
    if len(failures) < limit:
        return None
    return failures[limit - 1] + window()


def locked_until(key: str, ip: str | None, now: datetime | None = None) -> datetime | None:
    """When the account key or the IP may try again, or None when it may now."""
    now = now or timezone.now()
    since = now - window()
    limit = settings.LOGIN_FAILURE_LIMIT
    recent = LoginAttempt.objects.filter(created_at__gt=since)

    by_key = recent.filter(key=key)
    last_success = by_key.filter(succeeded=True).aggregate(at=Max("created_at"))["at"]
    if last_success is not None:
        by_key = by_key.filter(created_at__gt=last_success)
    until = [
        _locked_until(
            list(by_key.filter(succeeded=False).order_by("-created_at").values_list("created_at", flat=True)[:limit])
        )
    ]
    if ip:
        until.append(
            _locked_until(
                list(
                    recent.filter(ip=ip, succeeded=False)
                    .order_by("-created_at")
                    .values_list("created_at", flat=True)[:limit]
                )
            )
        )
    later = [u for u in until if u is not None and u > now]
    return max(later) if later else None
