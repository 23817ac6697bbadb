"""Writes of the notifications domain. A user only ever reads and changes their own.

Marking as read is not audited (it changes nothing anyone else sees, and would flood the log);
changes of notification settings are, as account events (workspace=None, like accounts').
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, audit
from stammtisch.core.models import Membership, Workspace
from stammtisch.notifications.kinds import KINDS, EmailMode, Kind
from stammtisch.notifications.models import Notification, NotificationPreference


def visible_notifications(user: Any) -> QuerySet[Notification]:
    """The notifications `user` may see: their own, shown in the app, of workspaces they are
    still a member of (one who leaves stops seeing that workspace's notifications)."""
    return Notification.objects.filter(
        recipient_id=user.pk,
        in_app=True,
        workspace_id__in=Membership.objects.filter(user_id=user.pk).values("workspace_id"),
    )


def unread_count(user: Any) -> int:
    return visible_notifications(user).filter(read_at__isnull=True).count()


def get_notification_for_user(user: Any, notification_id: int) -> Notification:
    notification = visible_notifications(user).filter(pk=notification_id).first()
    if notification is None:
        raise Http404
    return notification


def do_mark_read(user: Any, notification_id: int, *, now: dt.datetime | None = None) -> Notification:
    notification = get_notification_for_user(user, notification_id)
    if notification.read_at is None:
        notification.read_at = now or timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


def do_mark_all_read(user: Any, *, workspace: Workspace | None = None, now: dt.datetime | None = None) -> int:
    rows = visible_notifications(user).filter(read_at__isnull=True)
    if workspace is not None:
        rows = rows.filter(workspace=workspace)
    return rows.update(read_at=now or timezone.now())


def kinds_for(membership: Membership) -> list[Kind]:
    """The kinds a member may receive with their role (offered on the preferences page)."""
    return [kind for kind in KINDS.values() if any(membership.can(perm) for perm in kind.perms)]


def _current(user: Any, workspace: Workspace) -> dict[str, tuple[bool, str]]:
    """(in_app, email mode) per registered kind: the saved choice, else the kind's defaults."""
    saved = {
        p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user_id=user.pk, workspace=workspace)
    }
    return with_defaults(saved)


def _save(user: Any, workspace: Workspace, choices: Mapping[str, tuple[bool, str]]) -> list[str]:
    current = _current(user, workspace)
    changed = []
    for key, (in_app, email) in choices.items():
        if key not in KINDS or email not in EmailMode.values:
            raise ActionError(_("Please choose one of the offered notification settings."))
        if current[key] == (in_app, email):
            continue
        NotificationPreference.objects.update_or_create(
            user_id=user.pk, workspace=workspace, kind=key, defaults={"in_app": in_app, "email": email}
        )
        changed.append(key)
    return changed


def preferences_by_workspace(user: Any) -> dict[int, dict[str, tuple[bool, str]]]:
    """(in_app, email mode) per workspace id and kind, for every workspace of `user`: one query.
    A workspace or kind without a saved choice gets the kind's defaults (`with_defaults`)."""
    result: dict[int, dict[str, tuple[bool, str]]] = {}
    for p in NotificationPreference.objects.filter(user_id=user.pk):
        result.setdefault(p.workspace_id, {})[p.kind] = (p.in_app, p.email)
    return result


def with_defaults(saved: Mapping[str, tuple[bool, str]]) -> dict[str, tuple[bool, str]]:
    return {key: saved.get(key, (kind.in_app, kind.email)) for key, kind in KINDS.items()}


@transaction.atomic
def do_update_preferences(
    actor: Actor, user: Any, workspace: Workspace, choices: Mapping[str, tuple[bool, str]]
) -> list[str]:
    """Save (in_app, email mode) per kind for `user` in `workspace`; returns the changed kinds."""
    if not Membership.objects.filter(user_id=user.pk, workspace=workspace).exists():
        raise Http404
    changed = _save(user, workspace, choices)
    if changed:
        audit(
            actor,
            "notifications.preferences",
            obj=user,
            summary=f"{workspace.name}: {', '.join(changed)}",
            data={"workspace": workspace.slug, "kinds": {key: list(choices[key]) for key in changed}},
        )
    return changed


@transaction.atomic
def do_unsubscribe(actor: Actor, user: Any, workspace: Workspace, kind: str) -> list[str]:
    """Switch e-mail off for one kind in one workspace, or for every kind ("*", from a daily
    summary). In-app notifications stay as they were. Returns the kinds switched off."""
    current = _current(user, workspace)
    keys = list(KINDS) if kind == "*" else [kind] if kind in KINDS else []
    changed = _save(user, workspace, {key: (current[key][0], EmailMode.OFF.value) for key in keys})
    if changed:
        audit(
            actor,
            "notifications.unsubscribe",
            obj=user,
            summary=f"{workspace.name}: {', '.join(changed)}",
            data={"workspace": workspace.slug, "kinds": changed},
        )
    return changed
