"""`notify()`: the one way to create notifications, and the helpers it and the mailer share.

Cheap on purpose (receivers of the publisher's signals call it once per failed delivery): a few
queries per call, whatever the number of recipients.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from stammtisch.core.models import Membership, Workspace
from stammtisch.core.roles import ROLE_PERMISSIONS
from stammtisch.notifications.kinds import EmailMode, Kind, get_kind
from stammtisch.notifications.models import Notification, NotificationPreference

# An e-mail "at once" waits this long, so a burst of events (200 failing posts) becomes one mail
# that tells the count, instead of one mail per event.
EMAIL_DELAY = dt.timedelta(minutes=1)


def hour_bucket(now: dt.datetime) -> str:
    """The UTC hour of `now`, for dedup keys that group events by hour."""
    return now.astimezone(dt.UTC).strftime("%Y%m%d%H")


def is_internal_path(link: str) -> bool:
    """A path on this site ("/w/cafe/posts/1/"), never a URL to elsewhere ("//evil", "https:")."""
    return link.startswith("/") and not link.startswith(("//", "/\\")) and "\n" not in link and "\r" not in link


def next_digest_at(workspace: Workspace, now: dt.datetime) -> dt.datetime:
    """The next DIGEST_HOUR:00 in the workspace's time zone, strictly after `now`."""
    tz = workspace.tz
    local = now.astimezone(tz)
    hour = dt.time(settings.NOTIFICATION_DIGEST_HOUR)
    day = local.date()
    candidate = dt.datetime.combine(day, hour, tzinfo=tz)
    if candidate <= local:
        candidate = dt.datetime.combine(day + dt.timedelta(days=1), hour, tzinfo=tz)
    return candidate.astimezone(dt.UTC)


def email_due(mode: str, workspace: Workspace, now: dt.datetime) -> dt.datetime | None:
    if mode == EmailMode.IMMEDIATE:
        return now + EMAIL_DELAY
    if mode == EmailMode.DIGEST:
        return next_digest_at(workspace, now)
    return None


def effective(kind: Kind, preference: NotificationPreference | None) -> tuple[bool, str]:
    """(in_app, email mode) for a user: their saved choice, else the kind's defaults."""
    if preference is None:
        return kind.in_app, kind.email
    return preference.in_app, preference.email


def members_with(workspace: Workspace, perm: str) -> list[tuple[int, str]]:
    """(user id, role) of the active members whose role in `workspace` grants `perm`."""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if perm in perms]
    return list(
        Membership.objects.filter(workspace=workspace, role__in=roles, user__is_active=True)
        .order_by("user__username")
        .values_list("user_id", "role")
    )


def _user_id(user: Any) -> int | None:
    if user is None:
        return None
    if isinstance(user, int):
        return user
    return getattr(user, "pk", None)


def notify(
    kind: str,
    workspace: Workspace,
    recipients: Iterable[Any],
    *,
    data: Mapping[str, Any],
    link: str = "",
    dedup_key: str = "",
    group_link: str = "",
    obj: Any = None,
    now: dt.datetime | None = None,
) -> int:
    """Notify `recipients` (users or user ids) in `workspace`; returns how many were notified.

    Only current, active members of the workspace are notified, each as their preferences say
    (in the app, by e-mail at once or in the daily summary, or not at all). When a recipient
    already has a notification with the same `dedup_key`, it is not repeated: its count goes up,
    its data and link become the latest (`group_link` when it stands for several events), and it
    shows as unread again. An e-mail already sent for it is not sent again.
    """
    spec = get_kind(kind)
    if spec is None:
        raise ValueError(f"unknown notification kind {kind!r}")
    for path in (link, group_link):
        if path and not is_internal_path(path):
            raise ValueError(f"notification links must be internal paths, not {path!r}")
    now = now or timezone.now()
    wanted: list[int] = []
    for user in recipients:
        pk = _user_id(user)
        if pk is not None and pk not in wanted:
            wanted.append(pk)
    if not wanted:
        return 0
    emails = dict(
        Membership.objects.filter(workspace=workspace, user_id__in=wanted, user__is_active=True).values_list(
            "user_id", "user__email"
        )
    )
    preferences = {
        p.user_id: p
        for p in NotificationPreference.objects.filter(workspace=workspace, kind=kind, user_id__in=list(emails))
    }
    targets: dict[int, tuple[bool, str]] = {}
    for pk in wanted:
        if pk not in emails:
            continue  # not (or no longer) a member: never told about this workspace
        in_app, email = effective(spec, preferences.get(pk))
        if not emails[pk]:
            email = EmailMode.OFF  # no address to write to
        if in_app or email != EmailMode.OFF:
            targets[pk] = (in_app, email)
    if not targets:
        return 0
    object_type = type(obj).__name__.lower() if obj is not None else ""
    object_id = str(getattr(obj, "pk", "") or "")
    try:
        with transaction.atomic():
            _write(kind, workspace, targets, dict(data), link, group_link, dedup_key, object_type, object_id, now)
    except IntegrityError:
        # Another worker created the same dedup key for someone meanwhile: now it is found.
        with transaction.atomic():
            _write(kind, workspace, targets, dict(data), link, group_link, dedup_key, object_type, object_id, now)
    return len(targets)


def _write(
    kind: str,
    workspace: Workspace,
    targets: dict[int, tuple[bool, str]],
    data: dict[str, Any],
    link: str,
    group_link: str,
    dedup_key: str,
    object_type: str,
    object_id: str,
    now: dt.datetime,
) -> None:
    existing: set[int] = set()
    if dedup_key:
        existing = set(
            Notification.objects.filter(recipient_id__in=list(targets), dedup_key=dedup_key).values_list(
                "recipient_id", flat=True
            )
        )
        if existing:
            Notification.objects.filter(recipient_id__in=list(existing), dedup_key=dedup_key).update(
                count=F("count") + 1,
                data=data,
                link=group_link or link,
                object_type=object_type,
                object_id=object_id,
                updated_at=now,
                read_at=None,
            )
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=pk,
                workspace=workspace,
                kind=kind,
                data=data,
                link=link,
                object_type=object_type,
                object_id=object_id,
                dedup_key=dedup_key,
                in_app=in_app,
                created_at=now,
                updated_at=now,
                email=email,
                email_due_at=email_due(email, workspace, now),
            )
            for pk, (in_app, email) in targets.items()
            if pk not in existing
        ]
    )
