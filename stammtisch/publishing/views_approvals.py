"""Approval pages (docs/approvals.md): the review queue, the panel on the post page and its
forms, review links, the workspace's approval settings, and the public review page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from stammtisch.core.access import public_view, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.publishing import approvals, composer
from stammtisch.publishing.access import get_post_for_member
from stammtisch.publishing.approval_forms import (
    ApprovalSettingsForm,
    DecisionForm,
    LinkDecisionForm,
    ReviewLinkForm,
    SubmitForm,
)
from stammtisch.publishing.models import ApprovalEvent, ApprovalLink, Delivery, Post

# Unknown, expired and revoked review links answer alike (404); an address that keeps guessing
# gets 429 for a while. Tokens have 256 random bits: this only keeps the logs quiet.
REVIEW_MISSES_ALLOWED = 30
REVIEW_MISS_WINDOW = 600  # seconds


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    with timezone.override(workspace.tz):
        return render(request, template, {"workspace": workspace, **context}, status=status)


def _back_to_post(post: Post) -> HttpResponse:
    return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)


def _local_input(at: dt.datetime | None, workspace: Any) -> dt.datetime | None:
    return timezone.localtime(at, workspace.tz).replace(tzinfo=None) if at is not None else None


@dataclass(frozen=True)
class LinkRow:
    link: ApprovalLink
    state: str  # active, used, expired, revoked
    label: str


def _link_rows(post: Post, now: dt.datetime) -> list[LinkRow]:
    rows = []
    for link in post.approval_links.order_by("-created_at", "-pk"):
        if link.revoked_at is not None:
            state, label = "revoked", _("revoked")
        elif link.expires_at <= now:
            state, label = "expired", _("expired")
        elif link.used_at is not None:
            state, label = "used", _("decision made")
        else:
            state, label = "active", _("active")
        rows.append(LinkRow(link, state, label))
    return rows


def panel_context(request: HttpRequest, post: Post) -> dict[str, Any]:
    """What the approval panel on the post page shows (`publishing/_approval_panel.html`)."""
    workspace = post.workspace
    membership = request.membership  # type: ignore[attr-defined]
    actor = Actor.from_request(request)
    now = timezone.now()
    can_edit = membership.can(Perm.EDIT)
    held = post.status in approvals.HELD
    pending = post.status == Post.Status.PENDING_APPROVAL
    required = approvals.approval_required(workspace)
    events = approvals.history(post)
    time_passed = approvals.wanted_time_passed(post, now)
    return {
        "approval_required": required,
        "approval_history": [(event, approvals.event_actor_name(event)) for event in events],
        "approval_can_submit": can_edit and post.status in (Post.Status.DRAFT, Post.Status.CHANGES_REQUESTED),
        "approval_can_decide": pending and approvals.can_decide(actor, post),
        "approval_is_author": pending and post.author_id == request.user.pk,
        "approval_can_comment": membership.can(Perm.COMMENT) and (held or bool(events)),
        "approval_can_withdraw": can_edit and held,
        "approval_time_passed": time_passed,
        "approval_links": _link_rows(post, now) if can_edit and (pending or events) else [],
        "approval_can_link": can_edit and pending,
        "approval_blocks_publish": held or (required and post.status == Post.Status.DRAFT),
        "submit_form": SubmitForm(
            initial={"scheduled_local": _local_input(post.scheduled_at, workspace)},
            zone=workspace.time_zone,
            prefix="submit",
        ),
        "decision_form": DecisionForm(),  # no timing chosen in advance: a late post is never published silently
        "link_form": ReviewLinkForm(prefix="link"),
    }


# --- The review queue -----------------------------------------------------------------------------


@workspace_view(Perm.COMMENT)
def approvals_queue(request: HttpRequest) -> HttpResponse:
    """Posts waiting for approval, oldest submission first; and those sent back for changes."""
    workspace = request.workspace  # type: ignore[attr-defined]
    waiting = list(approvals.waiting_posts(workspace))
    returned = list(approvals.waiting_posts(workspace, status=Post.Status.CHANGES_REQUESTED))
    now = timezone.now()
    return _render(
        request,
        "publishing/approvals_queue.html",
        {
            "nav": "approvals",
            "waiting": waiting,
            "returned": returned,
            "now": now,
            "required": approvals.approval_required(workspace),
            "user_id": request.user.pk,
        },
    )


# --- The post page's forms ------------------------------------------------------------------------


@require_POST
@workspace_view(Perm.EDIT)
def post_submit(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    form = SubmitForm(request.POST, zone=post.workspace.time_zone, prefix="submit")
    if not form.is_valid():
        messages.error(request, _("Choose a valid date and time, or leave it empty."))
        return _back_to_post(post)
    try:
        approvals.do_submit_for_approval(
            Actor.from_request(request),
            post,
            form.cleaned_data["scheduled_local"],
            comment=form.cleaned_data["comment"],
        )
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The post is submitted for approval."))
    return _back_to_post(post)


def _decide(request: HttpRequest, who: approvals.Reviewer, post: Post, form: DecisionForm) -> str | None:
    """Carry out a valid decision form; the success message, or None (an error was added)."""
    data = form.cleaned_data
    decision = data["decision"]
    try:
        if decision == DecisionForm.APPROVE:
            timing = data.get("timing") or ""
            approvals.do_approve(
                who,
                post,
                data["comment"],
                publish_now=timing == DecisionForm.TIMING_NOW and approvals.wanted_time_passed(post),
                new_time=data.get("new_time") if timing == DecisionForm.TIMING_NEW else None,
            )
            return _("Approved. The post will be published as planned.")
        if decision == DecisionForm.CHANGES:
            approvals.do_request_changes(who, post, data["comment"])
            return _("Changes requested. The author has been told.")
        approvals.do_comment(who, post, data["comment"])
        return _("Comment added.")
    except ActionError as exc:
        form.add_error(None, exc.message)
        return None


@require_POST
@workspace_view(Perm.COMMENT)
def post_decide(request: HttpRequest, post_id: int) -> HttpResponse:
    """Approve, request changes or comment (the panel's form, and "Approve" in the queue)."""
    post = get_post_for_member(request, post_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _back_to_post(post)
    done = _decide(request, Actor.from_request(request), post, form)
    if done is None:
        for error in form.non_field_errors():
            messages.error(request, str(error))
        return _back_to_post(post)
    messages.success(request, done)
    if request.POST.get("next") == "queue":
        return redirect("publishing:approvals", slug=post.workspace.slug)
    return _back_to_post(post)


@require_POST
@workspace_view(Perm.EDIT)
def post_withdraw(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    try:
        approvals.do_withdraw(Actor.from_request(request), post)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The post is back to a draft; it will not be published."))
    return _back_to_post(post)


@never_cache
@require_POST
@workspace_view(Perm.EDIT)
def review_link_create(request: HttpRequest, post_id: int) -> HttpResponse:
    """Make a review link; its address is shown once, in this response, and never stored."""
    post = get_post_for_member(request, post_id)
    form = ReviewLinkForm(request.POST, prefix="link")
    if not form.is_valid():
        for error in [*form.non_field_errors(), *form["reviewer_email"].errors]:
            messages.error(request, error)
        return _back_to_post(post)
    try:
        made = approvals.do_create_review_link(
            Actor.from_request(request),
            post,
            form.cleaned_data["reviewer_name"],
            form.cleaned_data["reviewer_email"],
        )
    except ActionError as exc:
        messages.error(request, exc.message)
        return _back_to_post(post)
    return _render(request, "publishing/review_link_created.html", {"nav": "calendar", "post": post, "made": made})


@require_POST
@workspace_view(Perm.EDIT)
def review_link_revoke(request: HttpRequest, post_id: int, link_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    link = get_object_or_404(ApprovalLink.objects.select_related("post__workspace"), pk=link_id, post=post)
    if approvals.do_revoke_review_link(Actor.from_request(request), link):
        messages.success(request, _("The review link is revoked; it no longer works."))
    else:
        messages.info(request, _("This review link was already revoked."))
    return _back_to_post(post)


# --- Settings ---------------------------------------------------------------------------------------


@workspace_view(Perm.MANAGE)
def approval_settings(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    current = approvals.approval_settings(workspace)
    form = ApprovalSettingsForm(
        request.POST or None, initial={"required": current.required, "link_days": current.link_days}
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = approvals.do_set_approval_settings(
                Actor.from_request(request),
                workspace,
                required=form.cleaned_data["required"],
                link_days=form.cleaned_data["link_days"],
                hold_scheduled=form.cleaned_data["hold_scheduled"],
            )
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Settings saved.") if changed else _("Nothing changed."))
            return redirect("publishing:approval_settings", slug=workspace.slug)
    return _render(
        request,
        "publishing/approval_settings.html",
        {
            "nav": "settings",
            "tab": "approvals",
            "form": form,
            "current": current,
            "unapproved": approvals.scheduled_unapproved(workspace),
        },
    )


# --- The public review page ------------------------------------------------------------------------


def _client_key(request: HttpRequest) -> str:
    return f"stammtisch:review-miss:{request.META.get('REMOTE_ADDR') or 'unknown'}"


def _invalid_link(request: HttpRequest, status: int = 404) -> HttpResponse:
    return render(request, "publishing/review_invalid.html", {"status": status}, status=status)


def _count_miss(request: HttpRequest) -> None:
    key = _client_key(request)
    if cache.add(key, 1, REVIEW_MISS_WINDOW):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, REVIEW_MISS_WINDOW)


@never_cache
@public_view
def review(request: HttpRequest, token: str) -> HttpResponse:
    """The post as each of its channels will show it, the wanted time, the history, and (while
    the post waits and the link has not been used) approve / request changes with a name and a
    comment. No account needed: the link is the credential. Unknown, expired and revoked links
    answer with the same 404 page."""
    if (cache.get(_client_key(request)) or 0) >= REVIEW_MISSES_ALLOWED:
        return _invalid_link(request, status=429)
    link = approvals.find_link(token)
    if link is None:
        _count_miss(request)
        return _invalid_link(request)
    post = link.post
    workspace = post.workspace
    form = LinkDecisionForm(
        request.POST or None,
        initial={"name": link.reviewer_name},
    )
    if request.method == "POST" and form.is_valid():
        who = approvals.LinkReviewer(
            link=link,
            name=form.cleaned_data["name"],
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        done = _decide(request, who, post, form)
        if done is not None:
            messages.success(request, done)
            return redirect("publishing:review", token=token)
    link.refresh_from_db()
    post.refresh_from_db()
    deliveries = list(
        Delivery.objects.filter(post_id=post.pk)
        .exclude(state=Delivery.State.CANCELLED)
        .select_related("channel")
        .order_by("channel__display_name")
    )
    checks = [composer.check_channel(delivery.channel, delivery.text) for delivery in deliveries]
    events: list[ApprovalEvent] = approvals.history(post)
    context = {
        "link": link,
        "post": post,
        "review_workspace": workspace,
        "checks": checks,
        "history": [(event, approvals.event_actor_name(event)) for event in events],
        "form": form,
        "can_decide": post.status == Post.Status.PENDING_APPROVAL and link.used_at is None,
        "time_passed": approvals.wanted_time_passed(post),
        "zone": workspace.time_zone,
        "base_url": settings.BASE_URL,
    }
    with timezone.override(workspace.tz):
        response = render(request, "publishing/review.html", context)
    response["Referrer-Policy"] = "no-referrer"  # the token is in the address
    response["X-Robots-Tag"] = "noindex"
    return response
