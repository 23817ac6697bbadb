from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from stammtisch.core.access import account_view, public_view, workspace_view
from stammtisch.core.actions import Actor, do_create_workspace
from stammtisch.core.forms import WorkspaceCreateForm
from stammtisch.core.models import Membership

# Sections of the navigation whose issue has not been built yet; each says so plainly.
PLANNED_SECTIONS = {
    "inbox": (
        gettext_lazy("Inbox"),
        gettext_lazy(
            "The unified inbox for comments, mentions and messages from every channel, with "
            "replies, assignment and response times."
        ),
    ),
    "people": (
        gettext_lazy("People"),
        gettext_lazy(
            "Every follower as an individual: profiles across networks, history, loyalty score, "
            "segments, offline contacts and GDPR export and erasure."
        ),
    ),
    "links": (
        gettext_lazy("Links"),
        gettext_lazy(
            "Short links with UTM parameters, first-party click and conversion tracking, QR codes "
            "and website embeds."
        ),
    ),
    "goals": (
        gettext_lazy("Goals & Analytics"),
        gettext_lazy(
            "Goals with KPIs, targets and deadlines, dashboards over weeks and months, best time to "
            "post and reports."
        ),
    ),
}


@account_view
def home(request: HttpRequest) -> HttpResponse:
    """Go to the workspace used last, else the first one, else offer to create one."""
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    last = request.session.get("workspace")
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
        {"section": section, "title": title, "description": description},
    )


@public_view
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True, "version": settings.STAMMTISCH_VERSION})
