"""Writes in the core domain. Every write records an audit event.

Actions check the actor's role themselves (defence in depth: views check too). A refusal the user
should read (the last owner cannot leave, ...) is an `ActionError` with a translated message; a
missing permission is `PermissionDenied` (403).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from stammtisch.core.models import AuditEvent, Invitation, Membership, Workspace, hash_token
from stammtisch.core.roles import Perm, Role

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who does something and from where; built from a request, or for the system and CLI."""

    user: AbstractBaseUser | None
    ip: str | None = None
    user_agent: str = ""
    label: str = ""
    # The system and the CLI act without a membership; requests never do.
    trusted: bool = False

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = request.user if request.user.is_authenticated else None
        return cls(
            user=user,
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            label=user.get_username() if user is not None else "",
        )

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(user=None, label=label, trusted=True)


class ActionError(Exception):
    """A write refused for a reason the user should read; `message` is translated."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Human names of audit actions (the log shows the code for actions not listed here).
AUDIT_ACTIONS: dict[str, Any] = {
    "workspace.create": gettext_lazy("Workspace created"),
    "workspace.update": gettext_lazy("Settings changed"),
    "member.role_change": gettext_lazy("Role changed"),
    "member.remove": gettext_lazy("Member removed"),
    "member.leave": gettext_lazy("Member left"),
    "invitation.create": gettext_lazy("Invitation sent"),
    "invitation.resend": gettext_lazy("Invitation sent again"),
    "invitation.revoke": gettext_lazy("Invitation revoked"),
    "invitation.accept": gettext_lazy("Invitation accepted"),
    "channel.connect": gettext_lazy("Channel connected"),
    "channel.reconnect": gettext_lazy("Channel reconnected"),
    "channel.disconnect": gettext_lazy("Channel disconnected"),
    "channel.needs_reconnect": gettext_lazy("Channel needs reconnection"),
    "post.schedule": gettext_lazy("Post scheduled"),
    "post.create_draft": gettext_lazy("Draft saved"),
    "post.publish_now": gettext_lazy("Post published now"),
    "post.cancel": gettext_lazy("Post cancelled"),
    "delivery.retry": gettext_lazy("Publishing retried"),
    "delivery.confirm_assisted": gettext_lazy("Post confirmed as published by hand"),
    "delivery.skip_assisted": gettext_lazy("Post skipped on a network posted by hand"),
    "post.reschedule": gettext_lazy("Post moved"),
    "post.update": gettext_lazy("Post edited"),
    "post.delete": gettext_lazy("Post deleted"),
    "calendar_feed.create": gettext_lazy("Calendar feed created"),
    "calendar_feed.regenerate": gettext_lazy("Calendar feed address renewed"),
    "calendar_feed.revoke": gettext_lazy("Calendar feed switched off"),
    "post.submit_for_approval": gettext_lazy("Post submitted for approval"),
    "post.approve": gettext_lazy("Post approved"),
    "post.request_changes": gettext_lazy("Changes requested"),
    "post.approval_comment": gettext_lazy("Comment on a post"),
    "post.withdraw_approval": gettext_lazy("Post withdrawn from approval"),
    "post.approval_reset": gettext_lazy("Approval reset by an edit"),
    "approval_link.create": gettext_lazy("Review link created"),
    "approval_link.revoke": gettext_lazy("Review link revoked"),
    "approvals.settings": gettext_lazy("Approval settings changed"),
    "media.upload": gettext_lazy("File uploaded"),
    "media.alt_text": gettext_lazy("Image description changed"),
    "media.delete": gettext_lazy("File deleted"),
    "notifications.preferences": gettext_lazy("Notification settings changed"),
    "notifications.unsubscribe": gettext_lazy("Notification e-mails switched off"),
    "post.add_to_queue": gettext_lazy("Post added to the queue"),
    "queue.set_slots": gettext_lazy("Posting times changed"),
    "queue.apply_preset": gettext_lazy("Posting times set from a preset"),
    "evergreen.create": gettext_lazy("Post recycled as evergreen"),
    "evergreen.update": gettext_lazy("Evergreen post changed"),
    "evergreen.pause": gettext_lazy("Evergreen post paused"),
    "evergreen.resume": gettext_lazy("Evergreen post resumed"),
    "evergreen.delete": gettext_lazy("Evergreen post deleted"),
    "post.import_csv": gettext_lazy("Posts imported from a CSV file"),
    "feed.add": gettext_lazy("Feed added"),
    "feed.update": gettext_lazy("Feed changed"),
    "feed.pause": gettext_lazy("Feed paused"),
    "feed.resume": gettext_lazy("Feed resumed"),
    "feed.delete": gettext_lazy("Feed removed"),
    "feed.check": gettext_lazy("Feed checked now"),
    "feed.skip": gettext_lazy("Older feed articles skipped"),
    "feed.post_draft": gettext_lazy("Feed article saved as a draft"),
    "metrics.enter": gettext_lazy("Figures of a post entered by hand"),
    "metrics.import_csv": gettext_lazy("Figures imported from a CSV file"),
    "link.create": gettext_lazy("Short link made"),
    "link.update": gettext_lazy("Short link changed"),
    "link.delete": gettext_lazy("Short link deleted"),
    "links.settings": gettext_lazy("Link settings changed"),
    "links.rotate_secret": gettext_lazy("Conversion secret renewed"),
}


def audit_action_label(action: str) -> str:
    return str(AUDIT_ACTIONS.get(action, action))


def actor_membership(actor: Actor, workspace: Workspace) -> Membership | None:
    if actor.user is None or actor.user.pk is None:
        return None
    return Membership.objects.filter(user_id=actor.user.pk, workspace=workspace).first()


def require_perm(actor: Actor, workspace: Workspace, perm: str) -> Membership | None:
    """The actor's membership if it grants `perm`; trusted actors (system, CLI) pass with None."""
    if actor.trusted:
        return actor_membership(actor, workspace)
    membership = actor_membership(actor, workspace)
    if membership is None or not membership.can(perm):
        raise PermissionDenied
    return membership


def _is_owner_actor(actor: Actor, membership: Membership | None) -> bool:
    return actor.trusted if membership is None else membership.can(Perm.OWN)


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
        actor=cast(Any, actor.user) if actor.user is not None and actor.user.pk else None,
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
    Membership.objects.create(user=cast(Any, owner), workspace=workspace, role=Role.OWNER)
    audit(actor, "workspace.create", workspace=workspace, obj=workspace, summary=name)
    return workspace


# --- Settings -------------------------------------------------------------------------------


def do_update_workspace(
    actor: Actor,
    workspace: Workspace,
    *,
    name: str,
    time_zone: str,
    language: str,
    logo: UploadedFile | None = None,
    remove_logo: bool = False,
) -> list[str]:
    """Change the workspace's settings; returns the names of the fields that changed."""
    require_perm(actor, workspace, Perm.MANAGE)
    changes: dict[str, list[str]] = {}
    for field, value in (("name", name), ("time_zone", time_zone), ("language", language)):
        old = getattr(workspace, field)
        if old != value:
            changes[field] = [old, value]
            setattr(workspace, field, value)
    old_logo = workspace.logo.name if workspace.logo else ""
    if logo is not None:
        workspace.logo.save(logo.name or "logo.png", logo, save=False)
        changes["logo"] = ["replaced" if old_logo else "", "uploaded"]
    elif remove_logo and old_logo:
        workspace.logo = ""
        changes["logo"] = ["removed", ""]
    if not changes:
        return []
    with transaction.atomic():
        workspace.save()
        audit(
            actor,
            "workspace.update",
            workspace=workspace,
            obj=workspace,
            summary=", ".join(changes),
            data={"changes": changes},
        )
    if "logo" in changes and old_logo:
        workspace.logo.storage.delete(old_logo)
    return list(changes)


# --- Members --------------------------------------------------------------------------------


def _other_owners_exist(membership: Membership) -> bool:
    """Locks the workspace's owner rows, so two owners cannot demote each other at once."""
    owners = list(
        Membership.objects.select_for_update()
        .filter(workspace_id=membership.workspace_id, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    return any(pk != membership.pk for pk in owners)


@transaction.atomic
def do_change_role(actor: Actor, membership: Membership, role: str) -> Membership:
    workspace = membership.workspace
    mine = require_perm(actor, workspace, Perm.MANAGE)
    if role not in Role.values:
        raise ActionError(_("Please choose one of the roles."))
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    old = membership.role
    if old == role:
        return membership
    if Role.OWNER in (old, role) and not _is_owner_actor(actor, mine):
        raise ActionError(_("Only an owner can make someone an owner or change an owner's role."))
    if old == Role.OWNER and not _other_owners_exist(membership):
        raise ActionError(
            _("%(name)s is the last owner. Make someone else an owner first.") % {"name": member_name(membership.user)}
        )
    membership.role = role
    membership.save(update_fields=["role"])
    audit(
        actor,
        "member.role_change",
        workspace=workspace,
        obj=membership,
        summary=f"{membership.user.get_username()}: {old} → {role}",
        data={"user": membership.user.get_username(), "from": old, "to": role},
    )
    return membership


@transaction.atomic
def do_remove_member(actor: Actor, membership: Membership) -> None:
    workspace = membership.workspace
    mine = require_perm(actor, workspace, Perm.MANAGE)
    if mine is not None and mine.pk == membership.pk:
        raise ActionError(_("To leave the workspace yourself, use “Leave workspace”."))
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.role == Role.OWNER:
        if not _is_owner_actor(actor, mine):
            raise ActionError(_("Only an owner can remove an owner."))
        if not _other_owners_exist(membership):
            raise ActionError(_("The last owner cannot be removed."))
    username = membership.user.get_username()
    audit(
        actor,
        "member.remove",
        workspace=workspace,
        obj=membership,
        summary=username,
        data={"user": username, "role": membership.role},
    )
    membership.delete()


@transaction.atomic
def do_leave_workspace(actor: Actor, workspace: Workspace) -> None:
    membership = actor_membership(actor, workspace)
    if membership is None:
        raise PermissionDenied
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and not _other_owners_exist(membership):
        raise ActionError(_("You are the last owner of this workspace. Make someone else an owner before you leave."))
    audit(
        actor,
        "member.leave",
        workspace=workspace,
        obj=membership,
        summary=actor.label,
        data={"role": membership.role},
    )
    membership.delete()


def member_name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


# --- Invitations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationSent:
    """The result of inviting: the link is only known now (only its hash is stored)."""

    invitation: Invitation
    url: str
    mailed: bool


def invitation_url(token: str) -> str:
    return settings.BASE_URL + reverse("core:invitation_accept", kwargs={"token": token})


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def _check_role_to_offer(actor: Actor, mine: Membership | None, role: str) -> None:
    if role not in Role.values:
        raise ActionError(_("Please choose one of the roles."))
    if role == Role.OWNER and not _is_owner_actor(actor, mine):
        raise ActionError(_("Only an owner can invite another owner."))


def send_invitation_email(actor: Actor, invitation: Invitation, url: str) -> bool:
    """Send the link in the workspace's language; False (and logged) when sending failed."""
    inviter = member_name(actor.user) or actor.label
    with (
        translation.override(invitation.workspace.language),
        timezone.override(invitation.workspace.tz),
    ):
        context = {
            "invitation": invitation,
            "workspace": invitation.workspace,
            "inviter": inviter,
            "role": invitation.get_role_display(),
            "url": url,
            "expires_at": invitation.expires_at,
        }
        subject = _("%(inviter)s invites you to %(workspace)s on Stammtisch") % {
            "inviter": inviter,
            "workspace": invitation.workspace.name,
        }
        body = render_to_string("core/email/invitation.txt", context)
    try:
        send_mail(subject, body, None, [invitation.email])
    except Exception:  # SMTP down or misconfigured: the inviter still gets the link to share
        logger.exception("Could not send the invitation e-mail for invitation %s", invitation.pk)
        return False
    return True


def do_invite(actor: Actor, workspace: Workspace, *, email: str, role: str) -> InvitationSent:
    """Invite `email` with `role`; replaces an open invitation to the same address."""
    email = email.strip()
    token, token_hash = _new_token()
    with transaction.atomic():
        mine = require_perm(actor, workspace, Perm.MANAGE)
        _check_role_to_offer(actor, mine, role)
        if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
            raise ActionError(_("%(email)s is already a member of this workspace.") % {"email": email})
        now = timezone.now()
        replaced = Invitation.objects.filter(
            workspace=workspace, email__iexact=email, accepted_at=None, revoked_at=None
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            workspace=workspace,
            email=email,
            role=role,
            token_hash=token_hash,
            invited_by=cast(Any, actor.user) if actor.user is not None and actor.user.pk else None,
            created_at=now,
            expires_at=now + dt.timedelta(days=settings.INVITATION_DAYS),
        )
        audit(
            actor,
            "invitation.create",
            workspace=workspace,
            obj=invitation,
            summary=f"{email} ({role})",
            data={"email": email, "role": role, "replaced": replaced},
        )
    url = invitation_url(token)
    return InvitationSent(invitation, url, send_invitation_email(actor, invitation, url))


def do_resend_invitation(actor: Actor, invitation: Invitation) -> InvitationSent:
    """A new link (the old one stops working) with a fresh expiry, sent again."""
    token, token_hash = _new_token()
    with transaction.atomic():
        mine = require_perm(actor, invitation.workspace, Perm.MANAGE)
        invitation = Invitation.objects.select_for_update().select_related("workspace").get(pk=invitation.pk)
        _check_role_to_offer(actor, mine, invitation.role)
        if invitation.accepted_at is not None:
            raise ActionError(_("This invitation has already been accepted."))
        if invitation.revoked_at is not None:
            raise ActionError(_("This invitation was revoked. Invite the person again instead."))
        invitation.token_hash = token_hash
        invitation.expires_at = timezone.now() + dt.timedelta(days=settings.INVITATION_DAYS)
        if actor.user is not None and actor.user.pk:
            invitation.invited_by = actor.user  # type: ignore[assignment]
        invitation.save(update_fields=["token_hash", "expires_at", "invited_by"])
        audit(
            actor,
            "invitation.resend",
            workspace=invitation.workspace,
            obj=invitation,
            summary=invitation.email,
            data={"email": invitation.email, "role": invitation.role},
        )
    url = invitation_url(token)
    return InvitationSent(invitation, url, send_invitation_email(actor, invitation, url))


@transaction.atomic
def do_revoke_invitation(actor: Actor, invitation: Invitation) -> Invitation:
    require_perm(actor, invitation.workspace, Perm.MANAGE)
    invitation = Invitation.objects.select_for_update().select_related("workspace").get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ActionError(_("This invitation has already been accepted; remove the member instead."))
    if invitation.revoked_at is not None:
        return invitation
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit(
        actor,
        "invitation.revoke",
        workspace=invitation.workspace,
        obj=invitation,
        summary=invitation.email,
        data={"email": invitation.email, "role": invitation.role},
    )
    return invitation


@transaction.atomic
def do_accept_invitation(actor: Actor, invitation: Invitation) -> Membership:
    """The signed-in actor joins the workspace with the invitation's role."""
    if actor.user is None or actor.user.pk is None:
        raise PermissionDenied
    invitation = Invitation.objects.select_for_update().select_related("workspace").get(pk=invitation.pk)
    status = invitation.status
    if status != "open":
        raise ActionError(INVITATION_PROBLEMS[status])
    workspace = invitation.workspace
    if actor_membership(actor, workspace) is not None:
        raise ActionError(_("You are already a member of %(workspace)s.") % {"workspace": workspace.name})
    membership = Membership.objects.create(user=cast(Any, actor.user), workspace=workspace, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = actor.user  # type: ignore[assignment]
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit(
        actor,
        "invitation.accept",
        workspace=workspace,
        obj=membership,
        summary=f"{actor.user.get_username()} ({invitation.role})",
        data={
            "invited_email": invitation.email,
            "role": invitation.role,
            "invitation": invitation.pk,
        },
    )
    return membership


INVITATION_PROBLEMS: dict[str, Any] = {
    "accepted": gettext_lazy("This invitation has already been used."),
    "revoked": gettext_lazy("This invitation was revoked."),
    "expired": gettext_lazy("This invitation has expired."),
}
