"""Roles and what each may do. Views and actions ask for a permission, never for a role name."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    EDITOR = "editor", _("Editor")
    ANALYST = "analyst", _("Analyst")
    REVIEWER = "reviewer", _("Reviewer")


class Perm(models.TextChoices):
    VIEW = "view", _("See the workspace")
    COMMENT = "comment", _("Comment on and approve posts")
    EDIT = "edit", _("Create, edit and schedule content")
    MANAGE = "manage", _("Manage settings, members and channels")
    OWN = "own", _("Delete the workspace and hand over ownership")


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset({Perm.VIEW, Perm.COMMENT, Perm.EDIT, Perm.MANAGE, Perm.OWN}),
    Role.ADMIN: frozenset({Perm.VIEW, Perm.COMMENT, Perm.EDIT, Perm.MANAGE}),
    Role.EDITOR: frozenset({Perm.VIEW, Perm.COMMENT, Perm.EDIT}),
    Role.ANALYST: frozenset({Perm.VIEW}),
    Role.REVIEWER: frozenset({Perm.VIEW, Perm.COMMENT}),
}

ROLE_HELP = {
    Role.OWNER: _("Everything, including deleting the workspace."),
    Role.ADMIN: _("Everything except deleting the workspace: settings, members, channels."),
    Role.EDITOR: _("Creates, edits and schedules content; answers in the inbox."),
    Role.ANALYST: _("Reads everything, changes nothing."),
    Role.REVIEWER: _("A client: approves posts or comments on them, nothing else."),
}


def role_has(role: str, perm: str) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())
