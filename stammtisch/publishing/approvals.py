"""Approvals: an editor submits a post, a reviewer approves it or asks for changes (docs/approvals.md).

The rule that keeps an unapproved post off the networks is structural: the publisher claims only
deliveries with a `due_at` (`publisher.claimable`). A post waiting for approval keeps every
delivery at `due_at=NULL` and its wanted time in `Post.scheduled_at`; approving is the one step
that gives the deliveries their due time. Status of a post in this flow:

    draft ──submit──> pending_approval ──approve──> scheduled (deliveries get their due time)
      ^                  │  │
      └──withdraw────────┘  └─request changes──> changes_requested ──submit again──> pending_approval

An edit of the text, link, media, channels or time of an approved (scheduled) post, while the
workspace requires approval, sends it back to `pending_approval` with a RESET event.

Who decides: a member with `Perm.COMMENT` who is not the post's author (owners and admins too:
nobody approves their own post), or whoever holds a valid review link (no account; the link
expires, can be revoked, and allows one decision). Every action is audited; `approval_requested`
and `approval_decided` are sent once, after the transaction has committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max, Prefetch, Q
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, actor_membership, audit, member_name, require_perm
from stammtisch.core.models import Workspace, hash_token
from stammtisch.core.roles import Perm
from stammtisch.publishing import actions, composer, publisher, signals
from stammtisch.publishing.models import ApprovalEvent, ApprovalLink, ApprovalSettings, Delivery, Post

log = logging.getLogger(__name__)

Kind = ApprovalEvent.Kind
State = Delivery.State
HELD = (Post.Status.PENDING_APPROVAL, Post.Status.CHANGES_REQUESTED)
# The events that change where a post stands; comments do not.
DECISIVE = (Kind.SUBMITTED, Kind.APPROVED, Kind.CHANGES_REQUESTED, Kind.WITHDRAWN, Kind.RESET)
LINK_DAYS_MAX = 90
COMMENT_MAX = 5000
NAME_MAX = 200


@dataclass(frozen=True)
class LinkReviewer:
    """Someone deciding through a review link: the link, the name they typed, where from."""

    link: ApprovalLink
    name: str
    ip: str | None = None
    user_agent: str = ""

    def actor(self) -> Actor:
        """The audit log's actor: no user, the typed name marked as coming from a review link."""
        return Actor(user=None, ip=self.ip, user_agent=self.user_agent[:300], label=_link_label(self.name))


Reviewer = Actor | LinkReviewer


class ApprovalTimePassed(ActionError):
    """The wanted time has passed: the approver must choose "publish now" or a new time."""


def _link_label(name: str) -> str:
    return _("%(name)s (review link)") % {"name": name.strip()[:NAME_MAX]}


# --- Settings ----------------------------------------------------------------------------------


def approval_settings(workspace: Workspace) -> ApprovalSettings:
    """The workspace's settings; an unsaved default (off, links for 7 days) when none are stored."""
    found = ApprovalSettings.objects.filter(workspace=workspace).first()
    return found if found is not None else ApprovalSettings(workspace=workspace)


def approval_required(workspace: Workspace) -> bool:
    return ApprovalSettings.objects.filter(workspace=workspace, required=True).exists()


def scheduled_unapproved(workspace: Workspace, *, now: dt.datetime | None = None) -> int:
    """How many scheduled posts of the workspace would go out without an approval (they were
    scheduled before approvals were switched on)."""
    now = now or timezone.now()
    approved = ApprovalEvent.objects.filter(kind=Kind.APPROVED).values("post_id")
    return (
        Post.objects.filter(workspace=workspace, status=Post.Status.SCHEDULED, scheduled_at__gt=now)
        .exclude(pk__in=approved)
        .count()
    )


@transaction.atomic
def do_set_approval_settings(
    actor: Actor,
    workspace: Workspace,
    *,
    required: bool,
    link_days: int,
    hold_scheduled: bool = False,
    now: dt.datetime | None = None,
) -> list[str]:
    """Switch approvals on or off and set how long review links last. With `hold_scheduled`,
    scheduled posts that were never approved (and have not started) are sent for approval too.
    Returns the names of what changed."""
    require_perm(actor, workspace, Perm.MANAGE)
    if not 1 <= link_days <= LINK_DAYS_MAX:
        raise ActionError(
            _("Review links must last between 1 and %(max)d days.") % {"max": LINK_DAYS_MAX},
        )
    found, _created = ApprovalSettings.objects.select_for_update().get_or_create(workspace=workspace)
    changes: dict[str, list[Any]] = {}
    for name, value in (("required", required), ("link_days", link_days)):
        if getattr(found, name) != value:
            changes[name] = [getattr(found, name), value]
            setattr(found, name, value)
    if changes:
        found.save(update_fields=list(changes))
        _forget_nav(workspace.pk)
    held: list[int] = []
    if hold_scheduled and required:
        now = now or timezone.now()
        approved = ApprovalEvent.objects.filter(kind=Kind.APPROVED).values("post_id")
        candidates = (
            Post.objects.filter(workspace=workspace, status=Post.Status.SCHEDULED, scheduled_at__gt=now)
            .exclude(pk__in=approved)
            .order_by("pk")
        )
        for post in candidates.select_related("workspace"):
            if _hold(actor, post, kind=Kind.SUBMITTED, comment=_("Held when approvals were switched on.")):
                held.append(post.pk)
        if held:
            changes["held"] = [None, held]
    if changes:
        audit(
            actor,
            "approvals.settings",
            workspace=workspace,
            obj=found,
            summary=_("Approvals on") if found.required else _("Approvals off"),
            data={key: value for key, value in changes.items()},
        )
    return list(changes)


# --- Where a post stands --------------------------------------------------------------------------


def is_approved(post: Post) -> bool:
    """Whether the post's latest decisive approval event is an approval."""
    last = post.approval_events.filter(kind__in=DECISIVE).order_by("-created_at", "-pk").first()
    return last is not None and last.kind == Kind.APPROVED


def can_decide(actor: Actor, post: Post) -> bool:
    """Whether the member may approve the post or ask for changes (for the page's buttons; the
    actions check again)."""
    if actor.user is None or actor.user.pk is None:
        return False
    membership = actor_membership(actor, post.workspace)
    return membership is not None and membership.can(Perm.COMMENT) and post.author_id != actor.user.pk


def wanted_time_passed(post: Post, now: dt.datetime | None = None) -> bool:
    return post.scheduled_at is not None and post.scheduled_at <= (now or timezone.now())


def link_usable(link: ApprovalLink, now: dt.datetime | None = None) -> bool:
    """Not revoked and not expired; a link used for a decision still shows the history."""
    now = now or timezone.now()
    return link.revoked_at is None and link.expires_at > now


def find_link(token: str, now: dt.datetime | None = None) -> ApprovalLink | None:
    """The usable link for `token`, or None (unknown, revoked and expired look the same)."""
    if not token or len(token) > 200:
        return None
    link = (
        ApprovalLink.objects.select_related("post__workspace", "post__author")
        .filter(token_hash=hash_token(token))
        .first()
    )
    return link if link is not None and link_usable(link, now) else None


# --- Helpers ----------------------------------------------------------------------------------------


def _send_after_commit(signal: Signal, post: Post, **kwargs: Any) -> None:
    """Send `signal` once the transaction commits (never for a rolled-back change); a failing
    receiver is logged and never undoes the decision."""

    def send() -> None:
        for receiver, result in signal.send_robust(Post, post=post, **kwargs):
            if isinstance(result, Exception):
                log.error("receiver %r of an approval signal failed: %s", receiver, result)

    transaction.on_commit(send)


def _lock(post: Post) -> Post:
    return Post.objects.select_for_update().select_related("workspace").get(pk=post.pk)


def _user_or_none(actor: Actor) -> Any:
    return cast(Any, actor.user) if actor.user is not None and actor.user.pk else None


def _event(post: Post, kind: str, who: Reviewer, comment: str = "", *, now: dt.datetime | None = None) -> ApprovalEvent:
    _forget_nav(post.workspace_id)  # every change of a post's approval state writes an event
    if isinstance(who, LinkReviewer):
        return ApprovalEvent.objects.create(
            post=post,
            kind=kind,
            actor_label=who.name.strip()[:NAME_MAX],
            via_link=who.link,
            comment=comment,
            created_at=now or timezone.now(),
        )
    return ApprovalEvent.objects.create(
        post=post,
        kind=kind,
        actor=_user_or_none(who),
        actor_label="" if _user_or_none(who) is not None else who.label[:NAME_MAX],
        comment=comment,
        created_at=now or timezone.now(),
    )


def _clean_comment(comment: str) -> str:
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ActionError(_("A comment can have at most %(max)d characters.") % {"max": COMMENT_MAX})
    return comment


def _check_reviewer(who: Reviewer, post: Post, now: dt.datetime) -> Actor:
    """The actor to audit, after checking that `who` may decide on `post`."""
    if isinstance(who, LinkReviewer):
        link = ApprovalLink.objects.select_for_update().get(pk=who.link.pk)
        if link.post_id != post.pk or not link_usable(link, now):
            raise ActionError(_("This review link is no longer valid."))
        if link.used_at is not None:
            raise ActionError(_("A decision was already made through this link."))
        if not who.name.strip():
            raise ActionError(_("Please enter your name."))
        return who.actor()
    require_perm(who, post.workspace, Perm.COMMENT)
    if who.user is not None and who.user.pk is not None and post.author_id == who.user.pk:
        raise ActionError(
            _("You cannot approve your own post or ask for changes to it: another member or a review link decides.")
        )
    return who


def _use_link(who: Reviewer, now: dt.datetime) -> None:
    if isinstance(who, LinkReviewer):
        ApprovalLink.objects.filter(pk=who.link.pk).update(used_at=now)


def _refuse_unless_pending(post: Post) -> None:
    if post.status != Post.Status.PENDING_APPROVAL:
        raise ActionError(
            _("This post is not waiting for approval; it is %(status)s.") % {"status": post.get_status_display()}
        )


def _check_texts(post: Post) -> list[Delivery]:
    """The post's deliveries that will be published; refused when there is none or a text does not
    fit its network."""
    deliveries = list(Delivery.objects.filter(post_id=post.pk).exclude(state=State.CANCELLED).select_related("channel"))
    if not deliveries:
        raise ActionError(_("Choose at least one channel before submitting the post for approval."))
    failing = composer.failing(composer.check_channel(d.channel, d.text) for d in deliveries)
    if failing:
        raise ActionError(
            _("The text does not fit every channel yet: %(problems)s")
            % {"problems": " ".join(composer.problem_summary(check) for check in failing)}
        )
    return deliveries


def _hold(actor: Actor, post: Post, *, kind: str, comment: str = "", at: dt.datetime | None = None) -> bool:
    """Take the due time off a scheduled post's waiting deliveries and mark it pending approval
    (the post's row is locked by the caller). Refused, and rolled back by the caller's
    transaction, when a worker claimed a delivery meanwhile. False when nothing was held (no
    delivery was waiting)."""
    waiting = Delivery.objects.filter(post_id=post.pk, state__in=publisher.PENDING_STATES)
    held = waiting.update(state=State.SCHEDULED, due_at=None, lease_owner="", lease_until=None)
    if Delivery.objects.filter(post_id=post.pk, state__in=actions.OUT_STATES).exists():
        raise ActionError(_("This post is being published right now: it can no longer be changed."))
    if not held:
        return False
    fields: dict[str, Any] = {"status": Post.Status.PENDING_APPROVAL, "updated_at": timezone.now()}
    if at is not None:
        fields["scheduled_at"] = at
    Post.objects.filter(pk=post.pk).update(**fields)
    post.status = Post.Status.PENDING_APPROVAL
    if at is not None:
        post.scheduled_at = at
    _event(post, kind, actor, comment)
    audit(
        actor,
        "post.approval_reset" if kind == Kind.RESET else "post.submit_for_approval",
        workspace=post.workspace,
        obj=post,
        summary=post.text[:120],
        data={"held": held, "scheduled_at": post.scheduled_at.isoformat() if post.scheduled_at else None},
    )
    _send_after_commit(signals.approval_requested, post, actor=actor)
    return True


# --- Hooks the publishing actions call (inside their transaction, post row locked) ---------------


def on_create(actor: Actor, post: Post) -> None:
    """Called by `do_create_post` for a post created with a time in a workspace that requires
    approval: its deliveries were created without a due time; record the submission."""
    _event(post, Kind.SUBMITTED, actor)
    audit(
        actor,
        "post.submit_for_approval",
        workspace=post.workspace,
        obj=post,
        summary=post.text[:120],
        data={"scheduled_at": post.scheduled_at.isoformat() if post.scheduled_at else None},
    )
    _send_after_commit(signals.approval_requested, post, actor=actor)


def reset_after_edit(actor: Actor, post: Post, changed: list[str], *, at: dt.datetime | None = None) -> bool:
    """After an edit of what goes out (text, link, media, channels, time): a post that is
    scheduled (approved) in a workspace that requires approval goes back to waiting for approval
    (RESET event). A post already waiting keeps waiting; `at` becomes its wanted time. Returns
    True when the post is (still) held for approval. The caller holds the post's row lock."""
    if post.status in HELD:
        if at is not None:
            Post.objects.filter(pk=post.pk).update(scheduled_at=at, updated_at=timezone.now())
            post.scheduled_at = at
        return True
    if post.status == Post.Status.DRAFT or not approval_required(post.workspace):
        return False
    comment = _("Changed: %(fields)s") % {"fields": ", ".join(changed)}
    return _hold(actor, post, kind=Kind.RESET, comment=comment, at=at)


def refuse_unapproved(post: Post) -> None:
    """Raise ActionError when publishing the post now would skip its approval (for
    `do_publish_now` and `do_retry_delivery`)."""
    if post.status in HELD:
        raise ActionError(_("This post is waiting for approval: it can only be published once it is approved."))
    if post.status == Post.Status.DRAFT and approval_required(post.workspace) and not is_approved(post):
        raise ActionError(_("Posts in this workspace need approval. Submit the post for approval instead."))


# --- The approval flow ---------------------------------------------------------------------------


@transaction.atomic
def do_submit_for_approval(
    actor: Actor,
    post: Post,
    scheduled_at: dt.datetime | None = None,
    *,
    comment: str = "",
    now: dt.datetime | None = None,
) -> Post:
    """Ask for approval of a draft (or of a post whose changes were requested). `scheduled_at` is
    the wanted time (aware, or a wall-clock time in the workspace's zone); None means "publish
    as soon as it is approved". The deliveries keep `due_at=NULL` until approval."""
    workspace = post.workspace
    require_perm(actor, workspace, Perm.EDIT)
    now = now or timezone.now()
    comment = _clean_comment(comment)
    at = actions._to_aware(scheduled_at, workspace) if scheduled_at is not None else None
    if at is not None and at <= now:
        raise ActionError(_("This time has passed. Choose a later time."))
    post = _lock(post)
    if post.status not in (Post.Status.DRAFT, Post.Status.CHANGES_REQUESTED):
        if post.status == Post.Status.PENDING_APPROVAL:
            raise ActionError(_("This post is already waiting for approval."))
        raise ActionError(
            _("Only a draft can be submitted for approval; this post is %(status)s.")
            % {"status": post.get_status_display()}
        )
    _check_texts(post)
    Delivery.objects.filter(post_id=post.pk, state=State.SCHEDULED).update(due_at=None)
    Post.objects.filter(pk=post.pk).update(status=Post.Status.PENDING_APPROVAL, scheduled_at=at, updated_at=now)
    post.status, post.scheduled_at = Post.Status.PENDING_APPROVAL, at
    _event(post, Kind.SUBMITTED, actor, comment, now=now)
    audit(
        actor,
        "post.submit_for_approval",
        workspace=workspace,
        obj=post,
        summary=post.text[:120],
        data={"scheduled_at": at.isoformat() if at else None},
    )
    _send_after_commit(signals.approval_requested, post, actor=actor)
    return post


@transaction.atomic
def do_approve(
    who: Reviewer,
    post: Post,
    comment: str = "",
    *,
    publish_now: bool = False,
    new_time: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Post:
    """Approve a post waiting for approval: every waiting delivery gets the wanted time as its due
    time. When the wanted time has passed, the approver must choose: `publish_now`, or
    `new_time` (aware, or wall-clock in the workspace's zone); without a choice this raises
    `ApprovalTimePassed` and nothing changes. Without a wanted time the post goes out at once."""
    now = now or timezone.now()
    comment = _clean_comment(comment)
    post = _lock(post)
    actor = _check_reviewer(who, post, now)
    _refuse_unless_pending(post)
    if new_time is not None:
        due = actions._to_aware(new_time, post.workspace)
        if due <= now:
            raise ActionError(_("This time has passed. Choose a later time."))
    elif publish_now or post.scheduled_at is None:
        due = now
    elif post.scheduled_at <= now:
        local = timezone.localtime(post.scheduled_at, post.workspace.tz)
        raise ApprovalTimePassed(
            _("The wanted time, %(when)s, has passed. Choose “Publish now” or a new time.")
            % {"when": local.strftime("%Y-%m-%d %H:%M")}
        )
    else:
        due = post.scheduled_at
    count = Delivery.objects.filter(post_id=post.pk, state=State.SCHEDULED, due_at__isnull=True).update(due_at=due)
    Post.objects.filter(pk=post.pk).update(scheduled_at=due, updated_at=now)
    status = publisher.refresh_post_status(post.pk)
    post.scheduled_at, post.status = due, status
    _event(post, Kind.APPROVED, who, comment, now=now)
    _use_link(who, now)
    audit(
        actor,
        "post.approve",
        workspace=post.workspace,
        obj=post,
        summary=post.text[:120],
        data={
            "due_at": due.isoformat(),
            "deliveries": count,
            "publish_now": publish_now,
            "via_link": who.link.pk if isinstance(who, LinkReviewer) else None,
        },
    )
    _send_after_commit(signals.approval_decided, post, actor=actor, kind=Kind.APPROVED.value, comment=comment)
    publisher.notify_due()
    return post


@transaction.atomic
def do_request_changes(who: Reviewer, post: Post, comment: str, *, now: dt.datetime | None = None) -> Post:
    """Send a post back to its author with a comment (required); it stays off the networks."""
    now = now or timezone.now()
    comment = _clean_comment(comment)
    if not comment:
        raise ActionError(_("Please say what should change."))
    post = _lock(post)
    actor = _check_reviewer(who, post, now)
    _refuse_unless_pending(post)
    Post.objects.filter(pk=post.pk).update(status=Post.Status.CHANGES_REQUESTED, updated_at=now)
    post.status = Post.Status.CHANGES_REQUESTED
    _event(post, Kind.CHANGES_REQUESTED, who, comment, now=now)
    _use_link(who, now)
    audit(
        actor,
        "post.request_changes",
        workspace=post.workspace,
        obj=post,
        summary=comment[:120],
        data={"via_link": who.link.pk if isinstance(who, LinkReviewer) else None},
    )
    _send_after_commit(signals.approval_decided, post, actor=actor, kind=Kind.CHANGES_REQUESTED.value, comment=comment)
    return post


@transaction.atomic
def do_comment(who: Reviewer, post: Post, comment: str, *, now: dt.datetime | None = None) -> ApprovalEvent:
    """A comment in the post's approval history, from a member with `Perm.COMMENT` (the author
    too) or through a review link that has not been used for a decision yet."""
    now = now or timezone.now()
    comment = _clean_comment(comment)
    if not comment:
        raise ActionError(_("Please write a comment."))
    if isinstance(who, LinkReviewer):
        actor = _check_reviewer(who, post, now)
    else:
        require_perm(who, post.workspace, Perm.COMMENT)
        actor = who
    event = _event(post, Kind.COMMENT, who, comment, now=now)
    audit(actor, "post.approval_comment", workspace=post.workspace, obj=post, summary=comment[:120])
    return event


@transaction.atomic
def do_withdraw(actor: Actor, post: Post, *, now: dt.datetime | None = None) -> Post:
    """Take a post out of approval, back to a draft without a time (the author, or another
    member who may edit)."""
    require_perm(actor, post.workspace, Perm.EDIT)
    now = now or timezone.now()
    post = _lock(post)
    if post.status not in HELD:
        raise ActionError(_("This post is not waiting for approval."))
    before = post.scheduled_at
    Post.objects.filter(pk=post.pk).update(status=Post.Status.DRAFT, scheduled_at=None, updated_at=now)
    post.status, post.scheduled_at = Post.Status.DRAFT, None
    _event(post, Kind.WITHDRAWN, actor, now=now)
    audit(
        actor,
        "post.withdraw_approval",
        workspace=post.workspace,
        obj=post,
        summary=post.text[:120],
        data={"scheduled_at": before.isoformat() if before else None},
    )
    return post


# --- Review links ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewLinkCreated:
    """The result of making a link: the URL is known only now (only the token's hash is stored)."""

    link: ApprovalLink
    token: str
    url: str
    mailed: bool


def review_url(token: str) -> str:
    return settings.BASE_URL + reverse("publishing:review", kwargs={"token": token})


def _mail_review_link(actor: Actor, link: ApprovalLink, url: str) -> bool:
    post = link.post
    workspace = post.workspace
    sender = member_name(actor.user) or actor.label
    with translation.override(workspace.language), timezone.override(workspace.tz):
        subject = _("%(sender)s asks you to approve a post of %(workspace)s") % {
            "sender": sender,
            "workspace": workspace.name,
        }
        body = render_to_string(
            "publishing/email/review_link.txt",
            {"link": link, "post": post, "workspace": workspace, "sender": sender, "url": url},
        )
    try:
        send_mail(subject, body, None, [link.reviewer_email])
    except Exception:  # SMTP down: the member still has the link to pass on
        log.exception("Could not send the review link e-mail for link %s", link.pk)
        return False
    return True


def do_create_review_link(
    actor: Actor,
    post: Post,
    reviewer_name: str = "",
    reviewer_email: str = "",
    *,
    send_email: bool = True,
    now: dt.datetime | None = None,
) -> ReviewLinkCreated:
    """A review link for someone without an account. The token is returned once, stored only as a
    hash; the link expires after the workspace's `link_days`. With an e-mail address (and
    `send_email`), the link is mailed after the transaction committed."""
    reviewer_name = reviewer_name.strip()[:NAME_MAX]
    reviewer_email = reviewer_email.strip()
    token = secrets.token_urlsafe(32)
    now = now or timezone.now()
    with transaction.atomic():
        require_perm(actor, post.workspace, Perm.EDIT)
        post = _lock(post)
        if post.status != Post.Status.PENDING_APPROVAL:
            raise ActionError(_("Submit the post for approval before you share a review link."))
        days = approval_settings(post.workspace).link_days
        link = ApprovalLink.objects.create(
            post=post,
            token_hash=hash_token(token),
            reviewer_name=reviewer_name,
            reviewer_email=reviewer_email,
            created_by=_user_or_none(actor),
            created_at=now,
            expires_at=now + dt.timedelta(days=days),
        )
        audit(
            actor,
            "approval_link.create",
            workspace=post.workspace,
            obj=link,
            summary=reviewer_name or reviewer_email,
            data={"post": post.pk, "name": reviewer_name, "email": reviewer_email, "days": days},
        )
    url = review_url(token)
    mailed = bool(reviewer_email) and send_email and _mail_review_link(actor, link, url)
    return ReviewLinkCreated(link=link, token=token, url=url, mailed=mailed)


@transaction.atomic
def do_revoke_review_link(actor: Actor, link: ApprovalLink, *, now: dt.datetime | None = None) -> bool:
    """Stop a review link at once; False when it was revoked already."""
    require_perm(actor, link.post.workspace, Perm.EDIT)
    revoked = ApprovalLink.objects.filter(pk=link.pk, revoked_at=None).update(revoked_at=now or timezone.now())
    if revoked:
        audit(
            actor,
            "approval_link.revoke",
            workspace=link.post.workspace,
            obj=link,
            summary=link.reviewer_name or link.reviewer_email,
            data={"post": link.post_id},
        )
    return bool(revoked)


# --- Reading, for the pages ----------------------------------------------------------------------


def waiting_posts(workspace: Workspace, status: str = Post.Status.PENDING_APPROVAL) -> Any:
    """Posts waiting for approval (or, with `status`, sent back for changes), oldest submission
    first, with author, channels and when they were last submitted: three queries however many
    there are."""
    return (
        Post.objects.filter(workspace=workspace, status=status)
        .select_related("author")
        .annotate(submitted_at=Max("approval_events__created_at", filter=Q(approval_events__kind=Kind.SUBMITTED)))
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.exclude(state=State.CANCELLED)
                .select_related("channel")
                .order_by("channel__display_name"),
            )
        )
        .order_by("submitted_at", "pk")
    )


def pending_count(workspace: Workspace) -> int:
    return Post.objects.filter(workspace=workspace, status=Post.Status.PENDING_APPROVAL).count()


NAV_CACHE_SECONDS = 60


def _nav_key(workspace_id: int) -> str:
    return f"stammtisch:approvals-nav:{workspace_id}"


def nav_state(workspace: Workspace) -> tuple[bool, int]:
    """(approval required, posts waiting) for the navigation on every page. Cached for a minute:
    counting scans the workspace's posts (30 to 50 ms at 100,000 posts); every approval event
    and settings change forgets it once committed, so this process shows changes at once."""
    key = _nav_key(workspace.pk)
    cached = cache.get(key)
    if cached is None:
        cached = (approval_required(workspace), pending_count(workspace))
        cache.set(key, cached, NAV_CACHE_SECONDS)
    return cast(tuple[bool, int], tuple(cached))


def _forget_nav(workspace_id: int) -> None:
    transaction.on_commit(lambda: cache.delete(_nav_key(workspace_id)))


def history(post: Post) -> list[ApprovalEvent]:
    return list(post.approval_events.select_related("actor").order_by("created_at", "pk"))


def event_actor_name(event: ApprovalEvent) -> str:
    if event.actor is not None:
        return member_name(event.actor)
    if event.via_link_id is not None:
        return _link_label(event.actor_label or _("Reviewer"))
    return event.actor_label or _("someone")
