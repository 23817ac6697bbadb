"""Goals, content pillars, the value/promotion mix and cadences: every member reads them,
editors and above change them. Figures come from daily rollups (analytics/dashboard.py)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.analytics import dashboard, periods, tables
from stammtisch.analytics.kpis import KPIS, kpis_for
from stammtisch.core.access import WorkspaceRequest, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.strategy import actions, helped
from stammtisch.strategy.forms import CadenceForm, GoalForm, MixForm, PillarForm
from stammtisch.strategy.models import Cadence, ContentPillar, Goal


def get_goal_for_member(request: WorkspaceRequest, goal_id: int) -> Goal:
    """A goal of the request's workspace; 404 otherwise."""
    return get_object_or_404(Goal.objects.select_related("workspace"), pk=goal_id, workspace=request.workspace)


def get_pillar_for_member(request: WorkspaceRequest, pillar_id: int) -> ContentPillar:
    """A content pillar of the request's workspace; 404 otherwise."""
    return get_object_or_404(
        ContentPillar.objects.select_related("workspace"), pk=pillar_id, workspace=request.workspace
    )


def _can_edit(request: WorkspaceRequest) -> bool:
    return request.membership.can(Perm.EDIT)


@workspace_view(Perm.VIEW)
@require_GET
def goals(request: WorkspaceRequest) -> HttpResponse:
    """The strategy at a glance: every goal with its progress, the pillars, the mix target and
    the cadences, with links to the dashboard."""
    workspace = request.workspace
    today = actions.today_in(workspace)
    rows = [
        (goal, dashboard.goal_status(goal, today, range_days=30)) for goal in Goal.objects.filter(workspace=workspace)
    ]
    cadences = Cadence.objects.filter(workspace=workspace).select_related("channel").order_by("channel__display_name")
    return render(
        request,
        "strategy/goals.html",
        {
            "nav": "goals",
            "subnav": "goals",
            "rows": rows,
            "today": today,
            "pillars": ContentPillar.objects.filter(workspace=workspace),
            "mix": actions.mix_target(workspace),
            "cadences": cadences,
            "can_edit": _can_edit(request),
            "refreshed_at": dashboard.last_refresh(workspace),
        },
    )


@workspace_view(Perm.VIEW)
@require_GET
def goal(request: WorkspaceRequest, goal_id: int) -> HttpResponse:
    """One goal: where it stands, its trend, the forecast and month over month."""
    item = get_goal_for_member(request, goal_id)
    today = actions.today_in(request.workspace)
    range_days = dashboard.parse_range(request.GET.get("days"))
    status = dashboard.goal_status(item, today, range_days=range_days, grain=periods.grain_for(range_days))
    ranked = helped.for_goal(item)  # strategy/_helped.html
    # CSV and XLSX: ?export=trend|helped&format=csv|xlsx
    goal_tables = [*dashboard.goal_tables(status), ranked.table(request.workspace)]
    if exported := tables.export_response(request, goal_tables, f"goal-{item.pk}-{today}"):
        return exported
    return render(
        request,
        "strategy/goal.html",
        {
            "nav": "goals",
            "goal": item,
            "status": status,
            "today": today,
            "range_days": range_days,
            "ranges": dashboard.RANGES,
            "trend_table": goal_tables[0],
            "subnav": "goals",
            "forecast_days": dashboard.FORECAST_DAYS,
            "can_edit": _can_edit(request),
            "refreshed_at": dashboard.last_refresh(request.workspace),
            "helped": ranked,
        },
    )


def _goal_page(request: WorkspaceRequest, form: GoalForm, item: Goal | None) -> HttpResponse:
    kpis = [kpi for kpi in KPIS.values()]
    return render(
        request,
        "strategy/goal_form.html",
        {
            "nav": "goals",
            "form": form,
            "goal": item,
            "kpis": kpis,
            "by_kind": {k: kpis_for(k) for k in Goal.Kind.values},
        },
    )


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def goal_create(request: WorkspaceRequest) -> HttpResponse:
    today = actions.today_in(request.workspace)
    form = GoalForm(request.POST or None, initial={"start": today, "kind": request.GET.get("kind", "image")})
    if request.method == "POST" and form.is_valid():
        try:
            item = actions.do_create_goal(Actor.from_request(request), request.workspace, **form.cleaned_data)
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Goal “%(name)s” created.") % {"name": item.name})
            return redirect("strategy:goal", slug=request.workspace.slug, goal_id=item.pk)
    return _goal_page(request, form, None)


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def goal_edit(request: WorkspaceRequest, goal_id: int) -> HttpResponse:
    item = get_goal_for_member(request, goal_id)
    initial = {name: getattr(item, name) for name in actions.GOAL_FIELDS}
    form = GoalForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_update_goal(Actor.from_request(request), item, **form.cleaned_data)
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Goal saved."))
            return redirect("strategy:goal", slug=request.workspace.slug, goal_id=item.pk)
    return _goal_page(request, form, item)


@workspace_view(Perm.EDIT)
@require_POST
def goal_delete(request: WorkspaceRequest, goal_id: int) -> HttpResponse:
    item = get_goal_for_member(request, goal_id)
    actions.do_delete_goal(Actor.from_request(request), item)
    messages.success(request, _("Goal “%(name)s” deleted.") % {"name": item.name})
    return redirect("strategy:goals", slug=request.workspace.slug)


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def pillar_create(request: WorkspaceRequest) -> HttpResponse:
    return _pillar_page(request, None)


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def pillar_edit(request: WorkspaceRequest, pillar_id: int) -> HttpResponse:
    return _pillar_page(request, get_pillar_for_member(request, pillar_id))


def _pillar_page(request: WorkspaceRequest, pillar: ContentPillar | None) -> HttpResponse:
    initial = {"name": pillar.name, "target_share": pillar.target_share, "colour": pillar.colour} if pillar else None
    form = PillarForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_save_pillar(Actor.from_request(request), request.workspace, pillar=pillar, **form.cleaned_data)
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Content pillar saved."))
            return redirect("strategy:goals", slug=request.workspace.slug)
    labels = (
        request.workspace.posts.exclude(pillar="").values_list("pillar", flat=True).distinct().order_by("pillar")[:50]
    )
    return render(
        request, "strategy/pillar_form.html", {"nav": "goals", "form": form, "pillar": pillar, "labels": labels}
    )


@workspace_view(Perm.EDIT)
@require_POST
def pillar_delete(request: WorkspaceRequest, pillar_id: int) -> HttpResponse:
    pillar = get_pillar_for_member(request, pillar_id)
    actions.do_delete_pillar(Actor.from_request(request), pillar)
    messages.success(request, _("Content pillar “%(name)s” deleted.") % {"name": pillar.name})
    return redirect("strategy:goals", slug=request.workspace.slug)


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def mix(request: WorkspaceRequest) -> HttpResponse:
    current = actions.mix_target(request.workspace)
    form = MixForm(request.POST or None, initial={"min_value_share": current.min_value_share})
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_set_mix_target(
                Actor.from_request(request), request.workspace, form.cleaned_data["min_value_share"]
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Mix target saved."))
            return redirect("strategy:goals", slug=request.workspace.slug)
    return render(
        request, "strategy/simple_form.html", {"nav": "goals", "form": form, "title": _("Value and promotion mix")}
    )


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def cadence(request: WorkspaceRequest) -> HttpResponse:
    workspace = request.workspace
    channels = list(Channel.objects.filter(workspace=workspace).order_by("display_name"))
    current = dict(Cadence.objects.filter(workspace=workspace).values_list("channel_id", "posts_per_week"))
    form = CadenceForm(request.POST or None, channels=channels, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_set_cadence(Actor.from_request(request), workspace, form.per_channel())
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Cadence saved."))
            return redirect("strategy:goals", slug=workspace.slug)
    return render(
        request,
        "strategy/simple_form.html",
        {
            "nav": "goals",
            "form": form,
            "title": _("Cadence per channel"),
            "help": _("Posts per week each channel should get; leave a channel empty for no target."),
        },
    )
