from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.core.access import (
    account_view,
    get_invitation_for_member,
    get_membership_for_member,
    public_view,
    workspace_view,
)
from stammtisch.core.actions import (
    AUDIT_ACTIONS,
    INVITATION_PROBLEMS,
    ActionError,
    Actor,
    InvitationSent,
    audit_action_label,
    do_accept_invitation,
    do_change_role,
    do_create_workspace,
    do_invite,
    do_leave_workspace,
    do_remove_member,
    do_resend_invitation,
    do_revoke_invitation,
    do_update_workspace,
    member_name,
)
from stammtisch.core.forms import (
    AuditFilterForm,
    InvitationForm,
    RoleForm,
    WorkspaceCreateForm,
    WorkspaceSettingsForm,
)
from stammtisch.core.models import AuditEvent, Invitation, Membership, Workspace, hash_token
from stammtisch.core.roles import ROLE_HELP, Perm, Role

AUDIT_PAGE_SIZE = 50

# Sections of the navigation whose issue has not been built yet; each says so plainly.
# ("Goals & Analytics" is built: stammtisch/strategy and the analytics dashboard.)
PLANNED_SECTIONS: dict[str, tuple[Any, Any]] = {}


@account_view
def home(request: HttpRequest) -> HttpResponse:
    """Go to the workspace asked for (the switcher's `?w=slug`), else the one used last, else the
    first one, else offer to create one."""
    if request.GET.get("w") == "new":
        return redirect("core:workspace_create")
    memberships = Membership.objects.filter(user=cast(Any, request.user)).select_related("workspace")
    last = request.GET.get("w") or request.session.get("workspace")
    chosen = next((m for m in memberships if m.workspace.slug == last), None) or memberships.first()
    if chosen is None:
        return redirect("core:workspace_create")
    return redirect("core:workspace_home", slug=chosen.workspace.slug)


@account_view
def workspace_create(request: HttpRequest) -> HttpResponse:
    form = WorkspaceCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workspace = do_create_workspace(
            Actor.from_request(request),
            request.user,  # type: ignore[arg-type]
            name=form.cleaned_data["name"],
            time_zone=form.cleaned_data["time_zone"],
            language=form.cleaned_data["language"],
        )
        messages.success(request, _("Workspace “%(name)s” created.") % {"name": workspace.name})
        return redirect("core:workspace_home", slug=workspace.slug)
    return render(request, "core/workspace_create.html", {"form": form})


@workspace_view()
def workspace_home(request: HttpRequest) -> HttpResponse:
    return redirect("publishing:calendar", slug=request.workspace.slug)  # type: ignore[attr-defined]


@workspace_view()
def planned_section(request: HttpRequest, section: str) -> HttpResponse:
    title, description = PLANNED_SECTIONS[section]
    return render(
        request,
        "core/planned.html",
        {"nav": section, "section": section, "title": title, "description": description},
    )


@public_view
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True, "version": settings.STAMMTISCH_VERSION})


# --- Settings -------------------------------------------------------------------------------


def _workspace(request: HttpRequest) -> Workspace:
    return request.workspace  # type: ignore[attr-defined]


def _membership(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


def _require(request: HttpRequest, perm: str) -> None:
    if not _membership(request).can(perm):
        raise PermissionDenied


@workspace_view(Perm.VIEW)
@require_http_methods(["GET", "POST"])
def workspace_settings(request: HttpRequest) -> HttpResponse:
    """Everyone in the workspace may read the settings; MANAGE changes them."""
    workspace = _workspace(request)
    can_manage = _membership(request).can(Perm.MANAGE)
    if request.method == "POST":
        _require(request, Perm.MANAGE)
        form = WorkspaceSettingsForm(request.POST, request.FILES, workspace=workspace)
        if form.is_valid():
            changed = do_update_workspace(
                Actor.from_request(request),
                workspace,
                name=form.cleaned_data["name"],
                time_zone=form.cleaned_data["time_zone"],
                language=form.cleaned_data["language"],
                logo=form.cleaned_data["logo"],
                remove_logo=form.cleaned_data.get("remove_logo", False),
            )
            if changed:
                messages.success(request, _("Settings saved."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("core:settings", slug=workspace.slug)
    else:
        form = WorkspaceSettingsForm(workspace=workspace, read_only=not can_manage)
    return render(
        request,
        "core/settings_general.html",
        {"form": form, "nav": "settings", "tab": "general", "can_manage": can_manage},
    )


# A stand-in when there is no logo: the initial on a coloured square (no user-given markup).
_PLACEHOLDER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
    '<rect width="64" height="64" rx="8" fill="#8a3b12"/>'
    '<text x="32" y="42" font-family="sans-serif" font-size="30" text-anchor="middle" fill="#fff">'
    "{initial}</text></svg>"
)


@workspace_view(Perm.VIEW)
@require_GET
def workspace_logo(request: HttpRequest) -> HttpResponse:
    """The logo, for members only (never from public MEDIA); a lettered square when none is set."""
    workspace = _workspace(request)
    if workspace.logo:
        try:
            with workspace.logo.open("rb") as handle:
                content = handle.read()  # a logo is at most a few MB (forms.LOGO_MAX_MB)
        except FileNotFoundError:
            raise Http404 from None
        content_type = mimetypes.guess_type(workspace.logo.name)[0] or "application/octet-stream"
        response = HttpResponse(content, content_type=content_type)
    else:
        initial = escape((workspace.name.strip()[:1] or "?").upper())
        response = HttpResponse(_PLACEHOLDER_SVG.format(initial=initial), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


# --- Members --------------------------------------------------------------------------------


def role_help() -> list[tuple[str, str]]:
    return [(str(role.label), str(ROLE_HELP[role])) for role in Role]


@dataclass
class MemberRow:
    membership: Membership
    name: str
    is_me: bool
    editable: bool
    role_form: RoleForm | None


def _action_error(request: HttpRequest, error: ActionError) -> None:
    messages.error(request, error.message)


@workspace_view(Perm.VIEW)
@require_GET
def members(request: HttpRequest) -> HttpResponse:
    """Everyone sees who is in the workspace; e-mail addresses and changes are for MANAGE."""
    workspace = _workspace(request)
    mine = _membership(request)
    can_manage = mine.can(Perm.MANAGE)
    can_own = mine.can(Perm.OWN)
    rows: list[MemberRow] = []
    for membership in workspace.memberships.select_related("user").order_by("user__username"):
        editable = can_manage and membership.pk != mine.pk and (can_own or membership.role != Role.OWNER)
        rows.append(
            MemberRow(
                membership=membership,
                name=member_name(membership.user),
                is_me=membership.pk == mine.pk,
                editable=editable,
                role_form=RoleForm(initial={"role": membership.role}, can_own=can_own, prefix=f"m{membership.pk}")
                if editable
                else None,
            )
        )
    invitations: list[Invitation] = []
    if can_manage:
        invitations = list(workspace.invitations.filter(accepted_at=None, revoked_at=None).select_related("invited_by"))
    return render(
        request,
        "core/members.html",
        {
            "nav": "settings",
            "tab": "members",
            "rows": rows,
            "invitations": invitations,
            "can_manage": can_manage,
            "role_help": role_help(),
            "owner_count": sum(1 for row in rows if row.membership.role == Role.OWNER),
        },
    )


@workspace_view(Perm.MANAGE)
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_membership_for_member(request, membership_id)
    form = RoleForm(request.POST, can_own=_membership(request).can(Perm.OWN), prefix=f"m{membership.pk}")
    if not form.is_valid():
        messages.error(request, _("Please choose one of the roles."))
    else:
        try:
            changed = do_change_role(Actor.from_request(request), membership, form.cleaned_data["role"])
        except ActionError as error:
            _action_error(request, error)
        else:
            messages.success(
                request,
                _("%(name)s is now %(role)s.")
                % {"name": member_name(changed.user), "role": changed.get_role_display()},
            )
    return redirect("core:members", slug=_workspace(request).slug)


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_membership_for_member(request, membership_id)
    if request.method == "POST":
        try:
            do_remove_member(Actor.from_request(request), membership)
        except ActionError as error:
            _action_error(request, error)
        else:
            messages.success(
                request,
                _("%(name)s was removed from the workspace.") % {"name": member_name(membership.user)},
            )
        return redirect("core:members", slug=_workspace(request).slug)
    return render(
        request,
        "core/member_remove.html",
        {
            "nav": "settings",
            "tab": "members",
            "membership": membership,
            "name": member_name(membership.user),
        },
    )


@workspace_view(Perm.VIEW)
@require_http_methods(["GET", "POST"])
def leave_workspace(request: HttpRequest) -> HttpResponse:
    """Leave a workspace yourself (any role); the last owner must hand over first."""
    workspace = _workspace(request)
    if request.method == "POST":
        try:
            do_leave_workspace(Actor.from_request(request), workspace)
        except ActionError as error:
            _action_error(request, error)
            return redirect("core:members", slug=workspace.slug)
        request.session.pop("workspace", None)
        messages.success(request, _("You left %(workspace)s.") % {"workspace": workspace.name})
        return redirect("core:home")
    return render(request, "core/leave.html", {"nav": "settings", "tab": "members"})


# --- Invitations ----------------------------------------------------------------------------


def _invitation_sent_message(request: HttpRequest, sent: InvitationSent) -> None:
    params = {"email": sent.invitation.email, "url": sent.url}
    if sent.mailed:
        messages.success(
            request,
            _("Invitation sent to %(email)s. You can also share this link with them directly: %(url)s") % params,
        )
    else:
        messages.warning(
            request,
            _("The e-mail to %(email)s could not be sent. Share this link with them yourself: %(url)s") % params,
        )


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest) -> HttpResponse:
    workspace = _workspace(request)
    form = InvitationForm(request.POST or None, can_own=_membership(request).can(Perm.OWN))
    if request.method == "POST" and form.is_valid():
        try:
            sent = do_invite(
                Actor.from_request(request),
                workspace,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            _invitation_sent_message(request, sent)
            return redirect("core:members", slug=workspace.slug)
    return render(
        request,
        "core/invite.html",
        {
            "nav": "settings",
            "tab": "members",
            "form": form,
            "invitation_days": settings.INVITATION_DAYS,
            "role_help": role_help(),
        },
    )


@workspace_view(Perm.MANAGE)
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_invitation_for_member(request, invitation_id)
    try:
        do_revoke_invitation(Actor.from_request(request), invitation)
    except ActionError as error:
        _action_error(request, error)
    else:
        messages.success(
            request,
            _("The invitation to %(email)s was revoked; its link no longer works.") % {"email": invitation.email},
        )
    return redirect("core:members", slug=_workspace(request).slug)


@workspace_view(Perm.MANAGE)
@require_POST
def invitation_resend(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_invitation_for_member(request, invitation_id)
    try:
        sent = do_resend_invitation(Actor.from_request(request), invitation)
    except ActionError as error:
        _action_error(request, error)
    else:
        _invitation_sent_message(request, sent)
    return redirect("core:members", slug=_workspace(request).slug)


def _url_or_none(name: str, query: dict[str, str]) -> str | None:
    """A link to a page another part of the app provides (sign-up may be switched off or absent)."""
    try:
        return f"{reverse(name)}?{urlencode(query)}"
    except NoReverseMatch:
        return None


@public_view
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The page behind an invitation link. Says plainly when the link can no longer be used."""
    invitation = (
        Invitation.objects.select_related("workspace", "invited_by", "accepted_by")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if invitation is None:
        return render(request, "core/invitation.html", {"state": "unknown"}, status=404)
    with timezone.override(invitation.workspace.tz):
        return _invitation_page(request, token, invitation)


def _invitation_page(request: HttpRequest, token: str, invitation: Invitation) -> HttpResponse:
    context: dict[str, Any] = {"invitation": invitation}
    workspace = invitation.workspace
    context["workspace"] = workspace
    context["inviter"] = member_name(invitation.invited_by) or _("an admin of %(workspace)s") % {
        "workspace": workspace.name
    }
    status = invitation.status
    if status != "open":
        used_by_me = (
            status == "accepted" and request.user.is_authenticated and invitation.accepted_by_id == request.user.pk
        )
        context.update(state=status, problem=INVITATION_PROBLEMS[status], used_by_me=used_by_me)
        return render(request, "core/invitation.html", context, status=200 if used_by_me else 410)

    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': request.path})}")
        context.update(
            state="anonymous",
            login_url=_url_or_none(settings.LOGIN_URL, {"next": request.path}),
            signup_url=_url_or_none("accounts:signup", {"next": request.path, "email": invitation.email})
            if settings.SIGNUP_ENABLED
            else None,
        )
        return render(request, "core/invitation.html", context)

    existing = Membership.objects.filter(user=request.user, workspace=workspace).first()
    if existing is not None:
        context.update(state="member", membership=existing)
        return render(request, "core/invitation.html", context)

    if request.method == "POST":
        try:
            do_accept_invitation(Actor.from_request(request), invitation)
        except ActionError as error:
            messages.error(request, error.message)
            return redirect("core:invitation_accept", token=token)
        messages.success(
            request,
            _("Welcome to %(workspace)s! You joined as %(role)s.")
            % {"workspace": workspace.name, "role": invitation.get_role_display()},
        )
        return redirect("core:workspace_home", slug=workspace.slug)
    email = getattr(request.user, "email", "") or ""
    context.update(state="open", email_differs=email.lower() != invitation.email.lower())
    return render(request, "core/invitation.html", context)


# --- Audit log ------------------------------------------------------------------------------


@workspace_view(Perm.MANAGE)
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    workspace = _workspace(request)
    events = AuditEvent.objects.filter(workspace=workspace)
    action_codes = sorted(set(events.order_by().values_list("action", flat=True).distinct()))
    actor_ids = set(events.exclude(actor=None).order_by().values_list("actor_id", flat=True).distinct())
    actors = sorted(
        ((user.pk, member_name(user)) for user in get_user_model().objects.filter(pk__in=actor_ids)),
        key=lambda pair: pair[1].lower(),
    )
    form = AuditFilterForm(
        request.GET or None,
        actions=sorted(((code, audit_action_label(code)) for code in action_codes), key=lambda p: p[1].lower()),
        actors=actors,
    )
    filters: dict[str, str] = {}
    if form.is_valid():
        if form.cleaned_data["action"]:
            events = events.filter(action=form.cleaned_data["action"])
            filters["action"] = form.cleaned_data["action"]
        if form.cleaned_data["actor"]:
            events = events.filter(actor_id=form.cleaned_data["actor"])
            filters["actor"] = str(form.cleaned_data["actor"])
    page = Paginator(events.select_related("actor"), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "core/audit_log.html",
        {
            "nav": "settings",
            "tab": "audit",
            "form": form,
            "page": page,
            "labels": {code: str(label) for code, label in AUDIT_ACTIONS.items()},
            "filter_query": urlencode(filters),
        },
    )
