"""One way into a workspace: membership and role are checked here, nowhere else.

Every view is marked with how it may be reached (`public_view`, `account_view` or
`workspace_view(perm)`); the authorization-matrix test reads these marks for every URL pattern.
Object helpers (`get_<model>_for_member`) live next to their models' apps and always filter by
the workspace that `workspace_view` resolved, so an id from another workspace is a 404.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from stammtisch.core.models import Invitation, Membership, Workspace
from stammtisch.core.roles import Perm

View = TypeVar("View", bound=Callable[..., HttpResponse])

ACCESS_ATTR = "stammtisch_access"


class WorkspaceRequest(HttpRequest):
    """What `workspace_view` adds to the request (for type checkers)."""

    workspace: Workspace
    membership: Membership


def get_membership(request: HttpRequest, slug: str, perm: str = Perm.VIEW) -> Membership:
    """The member's membership in the workspace `slug`; 404 for outsiders, 403 without `perm`."""
    if not request.user.is_authenticated:
        raise Http404
    membership = Membership.objects.select_related("workspace").filter(user=request.user, workspace__slug=slug).first()
    if membership is None:
        raise Http404
    if not membership.can(perm):
        raise PermissionDenied
    return membership


def _mark(view: Callable[..., Any], kind: str, perm: str | None = None) -> None:
    setattr(view, ACCESS_ATTR, (kind, perm))


def public_view(view: View) -> View:
    """Reachable by anyone, signed in or not (log-in page, public Sandbox feed, health check)."""
    _mark(view, "public")
    return view


def account_view(view: View) -> View:
    """Needs a signed-in user, but no workspace (profile, sessions, creating a workspace)."""
    wrapped = login_required(view)
    _mark(wrapped, "account")
    return cast(View, wrapped)


def workspace_view(perm: str = Perm.VIEW) -> Callable[[View], View]:
    """Needs membership of the workspace named by the `slug` URL argument and the permission."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = get_membership(request, slug, perm)
            request.membership = membership  # type: ignore[attr-defined]
            request.workspace = membership.workspace  # type: ignore[attr-defined]
            request.session["workspace"] = slug
            # Times on every workspace page are shown (and typed) in the workspace's zone.
            with timezone.override(membership.workspace.tz):
                return view(request, *args, **kwargs)

        guarded = login_required(wrapped)
        _mark(guarded, "workspace", perm)
        return cast(View, guarded)

    return decorator


def get_membership_for_member(request: HttpRequest, membership_id: int) -> Membership:
    """A membership of the request's workspace (resolved by `workspace_view`); 404 otherwise."""
    return get_object_or_404(
        Membership.objects.select_related("user", "workspace"),
        pk=membership_id,
        workspace=request.workspace,  # type: ignore[attr-defined]
    )


def get_invitation_for_member(request: HttpRequest, invitation_id: int) -> Invitation:
    """An invitation of the request's workspace (resolved by `workspace_view`); 404 otherwise."""
    return get_object_or_404(
        Invitation.objects.select_related("workspace", "invited_by"),
        pk=invitation_id,
        workspace=request.workspace,  # type: ignore[attr-defined]
    )
