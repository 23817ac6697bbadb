from __future__ import annotations

import dataclasses
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.core.access import account_view, public_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import Membership, Workspace
from stammtisch.notifications.actions import (
    do_mark_all_read,
    do_mark_read,
    do_unsubscribe,
    do_update_preferences,
    kinds_for,
    preferences_by_workspace,
    visible_notifications,
    with_defaults,
)
from stammtisch.notifications.forms import PreferencesForm
from stammtisch.notifications.kinds import KINDS
from stammtisch.notifications.mailer import ALL_KINDS, read_unsubscribe_token
from stammtisch.notifications.notify import is_internal_path

PAGE_SIZE = 30


def _memberships(request: HttpRequest) -> list[Membership]:
    return list(Membership.objects.filter(user=cast(Any, request.user)).select_related("workspace"))


def _back(request: HttpRequest) -> str:
    """Where to return after a POST: the given `next` if it is a path on this site."""
    target = request.POST.get("next", "")
    if target and is_internal_path(target) and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return target
    return reverse("notifications:list")


@account_view
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    memberships = _memberships(request)
    slug = request.GET.get("workspace", "")
    workspace = next((m.workspace for m in memberships if m.workspace.slug == slug), None)
    unread_only = request.GET.get("unread") == "1"
    rows = visible_notifications(request.user).select_related("workspace")
    if workspace is not None:
        rows = rows.filter(workspace=workspace)
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "filter_workspace": workspace,
            "unread_only": unread_only,
            "workspace_choices": [m.workspace for m in memberships],
            "here": request.get_full_path(),
        },
    )


@account_view
@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one notification read; with `open`, go on to what it is about."""
    notification = do_mark_read(request.user, notification_id)
    if request.POST.get("open") and notification.link and is_internal_path(notification.link):
        return redirect(notification.link)
    return redirect(_back(request))


@account_view
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    workspace = None
    slug = request.POST.get("workspace", "")
    if slug:
        membership = Membership.objects.filter(user=cast(Any, request.user), workspace__slug=slug).first()
        if membership is None:
            raise Http404
        workspace = membership.workspace
    count = do_mark_all_read(request.user, workspace=workspace)
    if count:
        messages.success(request, _("All notifications are marked as read."))
    return redirect(_back(request))


@account_view
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The bell with the unread count (htmx polls it every 60 seconds)."""
    return render(request, "notifications/bell.html")


@account_view
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    memberships = _memberships(request)
    posted = request.POST.get("workspace") if request.method == "POST" else None
    if posted is not None and not any(m.workspace.slug == posted for m in memberships):
        raise Http404
    saved = preferences_by_workspace(request.user)
    sections = []
    for membership in memberships:
        workspace = membership.workspace
        kinds = kinds_for(membership)
        current = with_defaults(saved.get(workspace.pk, {}))
        bound = posted == workspace.slug
        form = PreferencesForm(request.POST if bound else None, kinds=kinds, current=current, prefix=f"w{workspace.pk}")
        if bound and form.is_valid():
            try:
                changed = do_update_preferences(Actor.from_request(request), request.user, workspace, form.choices())
            except ActionError as exc:
                form.add_error(None, exc.message)
            else:
                if changed:
                    messages.success(
                        request, _("Notification settings for %(workspace)s saved.") % {"workspace": workspace.name}
                    )
                return redirect(reverse("notifications:preferences") + f"#w-{workspace.slug}")
        sections.append({"workspace": workspace, "membership": membership, "form": form})
    return render(
        request,
        "notifications/preferences.html",
        {"sections": sections, "digest_hour": settings.NOTIFICATION_DIGEST_HOUR},
    )


@public_view
@csrf_exempt  # one-click unsubscribe (RFC 8058): mail programs POST without a CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The link in every notification e-mail: the signed token is the only credential, and it
    can do nothing but switch e-mails off."""
    found = read_unsubscribe_token(token)
    user: Any = None
    workspace = None
    if found is not None:
        user_id, workspace_id, kind = found
        user = get_user_model().objects.filter(pk=user_id).first()
        workspace = Workspace.objects.filter(pk=workspace_id).first()
    if found is None or user is None or workspace is None or (kind != ALL_KINDS and kind not in KINDS):
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=400)
    labels = [str(KINDS[kind].label)] if kind != ALL_KINDS else [str(k.label) for k in KINDS.values()]
    context = {"workspace": workspace, "labels": labels, "token": token, "done": False}
    if request.method == "POST":
        actor = dataclasses.replace(Actor.from_request(request), user=user, label=user.get_username())
        do_unsubscribe(actor, user, workspace, kind)
        context["done"] = True
    return render(request, "notifications/unsubscribe.html", context)
