from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.publishing import actions
from stammtisch.publishing.access import get_delivery_for_member, get_post_for_member
from stammtisch.publishing.forms import ComposeForm
from stammtisch.publishing.models import Delivery, Post

CALENDAR_LIMIT = 300


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """Render in the workspace's time zone: every time shown is the workspace's local time."""
    workspace = request.workspace  # type: ignore[attr-defined]
    context = {"workspace": workspace, "can_edit": request.membership.can(Perm.EDIT), **context}  # type: ignore[attr-defined]
    with timezone.override(workspace.tz):
        return render(request, template, context)


def _with_deliveries(posts: Any) -> Any:
    return posts.prefetch_related(
        Prefetch(
            "deliveries",
            queryset=Delivery.objects.select_related("channel").order_by("channel__display_name"),
        )
    )


@workspace_view(Perm.VIEW)
def calendar(request: HttpRequest) -> HttpResponse:
    """For now an honest list by day; month and week views come with the publishing issue."""
    workspace = request.workspace  # type: ignore[attr-defined]
    tz = workspace.tz
    posts = _with_deliveries(Post.objects.filter(workspace=workspace))
    drafts = list(posts.filter(scheduled_at__isnull=True).order_by("-created_at")[:CALENDAR_LIMIT])
    now = timezone.now()
    upcoming = list(posts.filter(scheduled_at__gt=now).order_by("scheduled_at")[:CALENDAR_LIMIT])
    past = list(posts.filter(scheduled_at__lte=now).order_by("-scheduled_at")[:CALENDAR_LIMIT])

    def by_day(items: list[Post]) -> list[tuple[dt.date, list[Post]]]:
        days: dict[dt.date, list[Post]] = defaultdict(list)
        for post in items:
            assert post.scheduled_at is not None
            days[post.scheduled_at.astimezone(tz).date()].append(post)
        return list(days.items())

    return _render(
        request,
        "publishing/calendar.html",
        {
            "nav": "calendar",
            "drafts": drafts,
            "upcoming": by_day(upcoming),
            "past": by_day(past),
            "limited": len(past) == CALENDAR_LIMIT,
            "limit": CALENDAR_LIMIT,
        },
    )


@workspace_view(Perm.EDIT)
def compose(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = ComposeForm(request.POST or None, workspace=workspace)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actor = Actor.from_request(request)
        when = data["when"]
        try:
            post = actions.do_create_post(
                actor,
                workspace,
                text=data["text"],
                channels=data["channels"],
                scheduled_at=data["scheduled_local"] if when == ComposeForm.WHEN_SCHEDULE else None,
                link=data["link"],
                pillar=data["pillar"],
                purpose=data["purpose"],
            )
            if when == ComposeForm.WHEN_NOW:
                actions.do_publish_now(actor, post)
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            if when == ComposeForm.WHEN_NOW:
                messages.success(request, _("The post is being published."))
            elif when == ComposeForm.WHEN_SCHEDULE:
                messages.success(request, _("The post is scheduled."))
            else:
                messages.success(request, _("The draft is saved."))
            return redirect("publishing:post", slug=workspace.slug, post_id=post.pk)
    channel_count = Channel.objects.filter(workspace=workspace).count()
    return _render(
        request,
        "publishing/compose.html",
        {"nav": "compose", "form": form, "channel_count": channel_count},
    )


@workspace_view(Perm.VIEW)
def post_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    deliveries = (
        post.deliveries.select_related("channel").prefetch_related("attempt_log").order_by("channel__display_name")
    )
    return _render(
        request,
        "publishing/post_detail.html",
        {
            "nav": "calendar",
            "post": post,
            "deliveries": deliveries,
            "can_cancel": any(d.state in actions.publisher.PENDING_STATES for d in deliveries),
            "can_publish_now": any(d.state in actions.publisher.PENDING_STATES for d in deliveries),
        },
    )


@require_POST
@workspace_view(Perm.EDIT)
def post_publish_now(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    try:
        actions.do_publish_now(Actor.from_request(request), post)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The post is being published."))
    return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)


@require_POST
@workspace_view(Perm.EDIT)
def post_cancel(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    cancelled, in_flight = actions.do_cancel_post(Actor.from_request(request), post)
    if cancelled:
        messages.success(request, _("Cancelled on %(count)d channel(s).") % {"count": cancelled})
    if in_flight:
        messages.warning(
            request,
            _(
                "%(count)d channel(s) were already being published and could not be cancelled; "
                "their outcome shows here shortly."
            )
            % {"count": in_flight},
        )
    if not cancelled and not in_flight:
        messages.error(request, _("Nothing left to cancel."))
    return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)


@require_POST
@workspace_view(Perm.EDIT)
def delivery_retry(request: HttpRequest, post_id: int, delivery_id: int) -> HttpResponse:
    delivery = get_delivery_for_member(request, post_id, delivery_id)
    try:
        actions.do_retry_delivery(Actor.from_request(request), delivery)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Trying %(channel)s again.") % {"channel": delivery.channel.display_name})
    return redirect("publishing:post", slug=delivery.post.workspace.slug, post_id=post_id)
