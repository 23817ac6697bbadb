"""The response-time pages (docs/inbox.md "Response time"): the figures of a period per channel
and member with the conversations about to breach the SLA (everyone who reads the inbox), and
the SLA settings (owners and admins)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from stammtisch.core.access import workspace_view
from stammtisch.core.actions import Actor, audit, require_perm
from stammtisch.core.models import Membership, Workspace
from stammtisch.core.roles import Perm
from stammtisch.inbox import sla, sla_figures
from stammtisch.inbox.forms_sla import SlaSettingsForm
from stammtisch.inbox.models_sla import SlaSettings
from stammtisch.networks.models import Channel

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30


def _period(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", DEFAULT_PERIOD))
    except ValueError:
        return DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD


def _summary_row(label: str, summary: sla.SlaSummary) -> dict[str, Any]:
    rate = summary.response_rate
    return {
        "label": label,
        "conversations": summary.conversations,
        "answered": summary.answered,
        "rate": f"{rate * 100:.0f} %" if rate is not None else "\N{EN DASH}",
        "median": sla_figures.duration(summary.median_seconds),
        "mean": sla_figures.duration(summary.mean_seconds),
        "met": summary.met,
        "breached": summary.breached,
        "open": summary.running + summary.due_soon,
    }


@require_GET
@workspace_view(Perm.VIEW)
def sla_page(request: HttpRequest) -> HttpResponse:
    workspace: Workspace = request.workspace  # type: ignore[attr-defined]
    settings = SlaSettings.for_workspace(workspace)
    now = timezone.now()
    days = _period(request)
    figures = sla_figures.figures(workspace, now - dt.timedelta(days=days), now, now, settings)
    channels: dict[int | None, str] = dict(
        Channel.objects.filter(workspace=workspace).values_list("pk", "display_name")
    )
    members = {
        m.user_id: m.user.get_full_name() or m.user.get_username()
        for m in Membership.objects.filter(workspace=workspace).select_related("user")
    }
    by_channel = sorted(
        (_summary_row(channels.get(pk, str(pk)), summary) for pk, summary in figures.by_channel.items()),
        key=lambda row: str(row["label"]).lower(),
    )
    by_member = sorted(
        (
            _summary_row(members.get(pk, _("former member")) if pk is not None else _("Nobody"), summary)
            for pk, summary in figures.by_member.items()
        ),
        key=lambda row: str(row["label"]).lower(),
    )
    at_risk = [
        {
            "conversation": conversation,
            "state": status.state.value,
            "remaining": sla_figures.duration(status.remaining),
            "deadline": status.deadline,
        }
        for conversation, status in sla_figures.open_states(workspace, now, settings)
        if status.state in (sla.SlaState.BREACHED, sla.SlaState.DUE_SOON)
    ]
    context = {
        "workspace": workspace,
        "nav": "inbox",
        "days": days,
        "periods": PERIODS,
        "target_hours": settings.sla_target_hours,
        "total": _summary_row(_("All channels"), figures.total),
        "by_channel": by_channel,
        "by_member": by_member,
        "at_risk": at_risk,
        "can_manage": request.membership.can(Perm.MANAGE),  # type: ignore[attr-defined]
        "calendar": settings.business_calendar(),
    }
    return render(request, "inbox/sla.html", context)


def do_save_sla_settings(
    actor: Actor, workspace: Workspace, *, target_hours: int, calendar: dict[str, Any]
) -> SlaSettings:
    """Owners and admins set the SLA target and the business calendar."""
    require_perm(actor, workspace, Perm.MANAGE)
    with transaction.atomic():
        saved, _created = SlaSettings.objects.update_or_create(
            workspace=workspace,
            defaults={
                "sla_target_hours": target_hours,
                "calendar": calendar,
                "updated_at": timezone.now(),
                "updated_by": actor.user if actor.user is not None and actor.user.pk else None,
            },
        )
        audit(
            actor,
            "inbox.sla_settings",
            workspace=workspace,
            obj=saved,
            data={"target_hours": target_hours, "region": calendar.get("region", "")},
        )
    return saved


@require_http_methods(["GET", "POST"])
@workspace_view(Perm.MANAGE)
def sla_settings(request: HttpRequest) -> HttpResponse:
    workspace: Workspace = request.workspace  # type: ignore[attr-defined]
    current = SlaSettings.for_workspace(workspace)
    status = 200
    if request.method == "POST":
        form = SlaSettingsForm(request.POST)
        if form.is_valid():
            do_save_sla_settings(
                Actor.from_request(request),
                workspace,
                target_hours=form.cleaned_data["target_hours"],
                calendar=form.calendar,
            )
            messages.success(request, _("Response-time settings saved."))
            return redirect("inbox:sla", workspace.slug)
        status = 400
    else:
        form = SlaSettingsForm(initial=SlaSettingsForm.initial_for(current))
    year = timezone.localdate().year
    holidays = current.business_calendar().holidays_in(year, language=request.LANGUAGE_CODE[:2])
    context = {"workspace": workspace, "nav": "inbox", "form": form, "holidays": holidays, "year": year}
    return render(request, "inbox/sla_settings.html", context, status=status)
