"""Writes in the core domain. Every write records an audit event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils.text import slugify

from stammtisch.core.models import AuditEvent, Membership, Workspace
from stammtisch.core.roles import Role


@dataclass(frozen=True)
class Actor:
    """Who does something and from where; built from a request, or for the system and CLI."""

    user: AbstractBaseUser | None
    ip: str | None = None
    user_agent: str = ""
    label: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = request.user if request.user.is_authenticated else None
        return cls(
            user=user,  # type: ignore[arg-type]
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            label=user.get_username() if user is not None else "",
        )

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(user=None, label=label)


def audit(
    actor: Actor,
    action: str,
    *,
    workspace: Workspace | None = None,
    obj: Any = None,
    summary: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one write. `data` must never hold secrets (credentials, tokens, passwords)."""
    return AuditEvent.objects.create(
        workspace=workspace,
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        actor_label=actor.label or (actor.user.get_username() if actor.user is not None else "system"),
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=str(getattr(obj, "pk", "") or ""),
        summary=summary[:300],
        data=data or {},
        ip=actor.ip,
        user_agent=actor.user_agent,
    )


def unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 2
    while Workspace.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def do_create_workspace(
    actor: Actor,
    owner: AbstractBaseUser,
    *,
    name: str,
    time_zone: str = "Europe/Berlin",
    language: str = "de",
    is_demo: bool = False,
) -> Workspace:
    workspace = Workspace.objects.create(
        name=name, slug=unique_slug(name), time_zone=time_zone, language=language, is_demo=is_demo
    )
    Membership.objects.create(user=owner, workspace=workspace, role=Role.OWNER)
    audit(actor, "workspace.create", workspace=workspace, obj=workspace, summary=name)
    return workspace
