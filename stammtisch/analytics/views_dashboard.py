"""The dashboards: content mix and pillars against their targets, the value/promotion mix,
cadence adherence and the best time to post (analytics/dashboard.py); the channels and one
channel (analytics/channels.py); the top and worst posts (analytics/ranking.py). All read
rollups only. Every table of a page is also served as CSV or XLSX by the page itself with
`?export=<table>&format=csv|xlsx` (analytics/tables.py)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from stammtisch.analytics import channels as channel_figures
from stammtisch.analytics import dashboard, periods, ranking, tables
from stammtisch.core.access import WorkspaceRequest, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.publishing import queue
from stammtisch.strategy.actions import mix_target
from stammtisch.strategy.models import Cadence, ContentPillar


def _today(request: WorkspaceRequest) -> dt.date:
    return timezone.localtime(timezone.now(), request.workspace.tz).date()


@workspace_view(Perm.VIEW)
@require_GET
def overview(request: WorkspaceRequest) -> HttpResponse:
    workspace = request.workspace
    today = _today(request)
    range_days = dashboard.parse_range(request.GET.get("days"))
    first = today - dt.timedelta(days=range_days - 1)
    target = mix_target(workspace)
    mix = dashboard.content_mix(
        workspace, list(ContentPillar.objects.filter(workspace=workspace)), target.min_value_share, first, today
    )
    cadences = list(
        Cadence.objects.filter(workspace=workspace).select_related("channel").order_by("channel__display_name")
    )
    heatmap = dashboard.best_time(workspace, first, today)
    cadence = dashboard.cadence_adherence(workspace, cadences, today)
    page_tables = dashboard.overview_tables(mix, cadence, heatmap)
    if exported := tables.export_response(request, page_tables, f"dashboard-{first}-{today}"):
        return exported
    pillar_chart = {
        "labels": [row.label for row in mix["pillars"]],
        "actual": [row.share for row in mix["pillars"]],
        "target": [row.target for row in mix["pillars"]],
        "colours": [row.colour for row in mix["pillars"]],
    }
    return render(
        request,
        "analytics/dashboard.html",
        {
            "nav": "goals",
            "subnav": "dashboard",
            "range_days": range_days,
            "ranges": dashboard.RANGES,
            "first": first,
            "today": today,
            "mix": mix,
            "pillar_chart": pillar_chart,
            "cadence": cadence,
            "tables": {table.name: table for table in page_tables},
            "heatmap": heatmap,
            "heat_rows": [(queue.weekday_name(weekday), cells) for weekday, cells in heatmap.rows()],
            "top": [(queue.slot_label((w, dt.time(h, 0))), rate, n) for w, h, rate, n in heatmap.top],
            "hours": range(24),
            "min_posts": dashboard.BESTTIME_MIN_POSTS,
            "min_cell": dashboard.BESTTIME_MIN_CELL,
            "channels": Channel.objects.filter(workspace=workspace).order_by("display_name"),
            "can_edit": request.membership.can(Perm.EDIT),
            "refreshed_at": dashboard.last_refresh(workspace),
        },
    )


def _range(request: WorkspaceRequest) -> tuple[int, dt.date, dt.date]:
    today = _today(request)
    range_days = dashboard.parse_range(request.GET.get("days"))
    return range_days, today - dt.timedelta(days=range_days - 1), today


def get_channel_for_member(request: WorkspaceRequest, channel_id: int) -> Channel:
    """A channel of the request's workspace; 404 otherwise."""
    return get_object_or_404(Channel, pk=channel_id, workspace=request.workspace)


@workspace_view(Perm.VIEW)
@require_GET
def channels(request: WorkspaceRequest) -> HttpResponse:
    """Every channel with its figures over the range: one row per channel."""
    workspace = request.workspace
    range_days, first, today = _range(request)
    overview = channel_figures.channel_overview(workspace, first, today)
    if exported := tables.export_response(request, overview.tables, f"channels-{first}-{today}"):
        return exported
    return render(
        request,
        "analytics/channels.html",
        {
            "nav": "goals",
            "subnav": "channels",
            "range_days": range_days,
            "ranges": dashboard.RANGES,
            "first": first,
            "today": today,
            "overview": overview,
            "table": overview.tables[0],
            "refreshed_at": dashboard.last_refresh(workspace),
        },
    )


@workspace_view(Perm.VIEW)
@require_GET
def channel(request: WorkspaceRequest, channel_id: int) -> HttpResponse:
    """One channel: followers, posts, engagement rate, clicks, conversions, response times and
    best time over the range, month over month, its top and worst posts."""
    workspace = request.workspace
    item = get_channel_for_member(request, channel_id)
    range_days, first, today = _range(request)
    report = channel_figures.channel_report(workspace, item, first, today, today)
    stem = f"channel-{item.pk}-{first}-{today}"
    if exported := tables.export_response(request, report.tables, stem):
        return exported
    heat = report.heatmap
    return render(
        request,
        "analytics/channel.html",
        {
            "nav": "goals",
            "subnav": "channels",
            "channel": item,
            "range_days": range_days,
            "ranges": dashboard.RANGES,
            "first": first,
            "today": today,
            "report": report,
            "grain": periods.GRAIN_LABELS[report.grain],
            "tables": {table.name: table for table in report.tables},
            "top": [(queue.slot_label((w, dt.time(h, 0))), rate, n) for w, h, rate, n in heat.top],
            "min_posts": dashboard.BESTTIME_MIN_POSTS,
            "refreshed_at": dashboard.last_refresh(workspace),
        },
    )


@workspace_view(Perm.VIEW)
@require_GET
def posts(request: WorkspaceRequest) -> HttpResponse:
    """The top posts of the range by engagement rate, link clicks and conversions, and those that
    did worst; of all channels or of one (`?channel=<id>`)."""
    workspace = request.workspace
    range_days, first, today = _range(request)
    chosen = None
    if raw := request.GET.get("channel", ""):
        try:
            chosen = get_channel_for_member(request, int(raw))
        except ValueError:
            return HttpResponseBadRequest(_("Choose a channel."))
    result = ranking.post_ranking(workspace, first, today, today, channel=chosen)
    stem = f"posts-{first}-{today}" + (f"-channel-{chosen.pk}" if chosen else "")
    if exported := tables.export_response(request, result.tables, stem):
        return exported
    return render(
        request,
        "analytics/posts.html",
        {
            "nav": "goals",
            "subnav": "posts",
            "range_days": range_days,
            "ranges": dashboard.RANGES,
            "first": first,
            "today": today,
            "ranking": result,
            "chosen": chosen,
            "channels": Channel.objects.filter(workspace=workspace).order_by("display_name", "pk"),
            "min_impressions": ranking.RANK_MIN_IMPRESSIONS,
            "refreshed_at": dashboard.last_refresh(workspace),
        },
    )


@workspace_view(Perm.EDIT)
@require_POST
def best_time_slots(request: WorkspaceRequest) -> HttpResponse:
    """Add the best rated hours of the heatmap to a channel's queue (publishing/queue.py)."""
    workspace = request.workspace
    back = redirect("analytics:dashboard", slug=workspace.slug)
    try:
        channel_id = int(request.POST.get("channel", ""))
    except ValueError:
        messages.error(request, _("Choose a channel."))
        return back
    channel = get_object_or_404(Channel, pk=channel_id, workspace=workspace)
    today = _today(request)
    range_days = dashboard.parse_range(request.POST.get("days"))
    heatmap = dashboard.best_time(workspace, today - dt.timedelta(days=range_days - 1), today)
    if not heatmap.top:
        messages.error(request, _("There is not enough data yet to suggest posting times."))
        return back
    slots = [(weekday, dt.time(hour, 0)) for weekday, hour, _rate, _n in heatmap.top]
    try:
        queue.do_add_slots(Actor.from_request(request), channel, slots)
    except ActionError as error:
        messages.error(request, error.message)
        return back
    messages.success(
        request,
        _("Added %(slots)s to the queue of %(channel)s.")
        % {"slots": ", ".join(queue.slot_label(slot) for slot in slots), "channel": channel.display_name},
    )
    return back
