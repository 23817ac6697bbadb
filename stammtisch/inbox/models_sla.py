"""A workspace's inbox settings: the response-time SLA and the business calendar it is counted in
(docs/inbox.md "Response time"). Imported by `inbox/models.py`, so Django sees the model.
(`InboxSettings` in models_rules.py holds the other inbox settings, such as reply approval.)

The calendar is stored in the JSON form of `sla.BusinessCalendar.to_settings()`, so what the
settings form saves is exactly what `sla.py` reads.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.inbox import sla

DEFAULT_TARGET_HOURS = 4
DEFAULT_REGION = "DE-BW"  # Stuttgart, where the first workspaces are; changed on the settings page
WEEKDAY_HOURS = [["09:00", "18:00"]]


def default_calendar(time_zone: str = "Europe/Berlin") -> dict[str, Any]:
    """Monday to Friday 09:00-18:00 in the workspace's zone, Baden-Württemberg's holidays."""
    hours: dict[str, list[list[str]]] = {day: [list(pair) for pair in WEEKDAY_HOURS] for day in sla.DAY_KEYS[:5]}
    hours |= {"sat": [], "sun": []}
    return {"time_zone": time_zone, "hours": hours, "region": DEFAULT_REGION, "closed_dates": []}


class SlaSettings(models.Model):
    """One row per workspace, created when an owner or admin first saves the settings; until then
    `for_workspace` gives the defaults (4 business hours, Mon-Fri 9-18, DE-BW)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="sla_settings")
    sla_target_hours = models.PositiveSmallIntegerField(_("answer within (business hours)"), default=4)
    calendar = models.JSONField(_("business hours"), default=default_calendar)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("response-time settings")
        verbose_name_plural = _("response-time settings")

    def __str__(self) -> str:
        return f"SLA settings of {self.workspace_id}"

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> SlaSettings:
        found = cls.objects.filter(workspace=workspace).first()
        if found is not None:
            return found
        return cls(
            workspace=workspace, sla_target_hours=DEFAULT_TARGET_HOURS, calendar=default_calendar(workspace.time_zone)
        )

    @property
    def target_seconds(self) -> float:
        return float(self.sla_target_hours) * 3600

    def business_calendar(self) -> sla.BusinessCalendar:
        """The stored calendar; the default one if what is stored no longer validates (a holiday
        region the `holidays` package dropped, say), so the inbox never fails on it."""
        try:
            return sla.BusinessCalendar.from_settings(self.calendar)
        except sla.CalendarError:
            return sla.BusinessCalendar.from_settings(default_calendar(self.workspace.time_zone))
