"""The response-time settings form: the SLA target and the business calendar, validated by
`sla.BusinessCalendar.from_settings` (its messages are shown as they are)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from stammtisch.inbox import sla
from stammtisch.inbox.models_sla import SlaSettings

_SEPARATORS = re.compile(r"[\s,;]+")


def hours_text(intervals: list[list[str]]) -> str:
    """[["09:00", "12:00"], ["13:00", "18:00"]] -> "09:00-12:00, 13:00-18:00"."""
    return ", ".join(f"{start}-{end}" for start, end in intervals)


def parse_hours_text(text: str) -> list[list[str]]:
    """The reverse of `hours_text`; anything odd is passed on for `sla.py` to name."""
    pairs = []
    for part in text.split(","):
        part = part.strip()
        if part:
            start, _dash, end = part.partition("-")
            pairs.append([start.strip(), end.strip()])
    return pairs


class SlaSettingsForm(forms.Form):
    target_hours = forms.IntegerField(
        label=_("Answer within (business hours)"),
        min_value=1,
        max_value=240,
        help_text=_("A conversation is over the SLA when it waited longer than this in business hours."),
    )
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, help_text=_("For example Europe/Berlin."))
    region = forms.CharField(
        label=_("Holiday region"),
        max_length=20,
        required=False,
        help_text=_(
            "Public holidays are closed: a country with an optional subdivision, for example DE-BW; empty for none."
        ),
    )
    closed_dates = forms.CharField(
        label=_("Closed dates"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Extra days closed, YYYY-MM-DD, separated by spaces or new lines (for example 2026-12-24)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for index, key in enumerate(sla.DAY_KEYS):
            self.fields[f"hours_{key}"] = forms.CharField(
                label=WEEKDAYS[index],
                required=False,
                max_length=200,
                help_text=_("For example 09:00-12:00, 13:00-18:00; empty when closed.") if index == 0 else "",
            )
        self.calendar: dict[str, Any] = {}

    @classmethod
    def initial_for(cls, settings: SlaSettings) -> dict[str, Any]:
        calendar = settings.calendar or {}
        hours = calendar.get("hours") or {}
        initial: dict[str, Any] = {
            "target_hours": settings.sla_target_hours,
            "time_zone": calendar.get("time_zone", ""),
            "region": calendar.get("region", ""),
            "closed_dates": "\n".join(calendar.get("closed_dates") or []),
        }
        for key in sla.DAY_KEYS:
            initial[f"hours_{key}"] = hours_text(hours.get(key) or [])
        return initial

    def day_fields(self) -> list[forms.BoundField]:
        return [self[f"hours_{key}"] for key in sla.DAY_KEYS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "time_zone" not in data:
            return data
        settings = {
            "time_zone": data["time_zone"].strip(),
            "hours": {key: parse_hours_text(data.get(f"hours_{key}") or "") for key in sla.DAY_KEYS},
            "region": (data.get("region") or "").strip(),
            "closed_dates": [value for value in _SEPARATORS.split(data.get("closed_dates") or "") if value],
        }
        try:
            self.calendar = sla.BusinessCalendar.from_settings(settings).to_settings()
        except sla.CalendarError as error:
            raise ValidationError(str(error)) from None
        return data
