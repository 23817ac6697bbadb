from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from stammtisch.reports import periods
from stammtisch.reports.actions import MAX_SHARE_DAYS
from stammtisch.reports.models import Kind

RECENT_WEEKS = 12
RECENT_MONTHS = 12


class GenerateForm(forms.Form):
    """Which complete week or month, in which language."""

    period = forms.ChoiceField(label=_("Period"))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        weeks = periods.recent(Kind.WEEK, today, RECENT_WEEKS)
        months = periods.recent(Kind.MONTH, today, RECENT_MONTHS)
        cast(forms.ChoiceField, self.fields["period"]).choices = [
            (str(_("Weeks")), [(p.key, p.label()) for p in weeks]),
            (str(_("Months")), [(p.key, p.label()) for p in months]),
        ]
        self.fields["period"].initial = weeks[0].key

    def clean_period(self) -> periods.Period:
        period = periods.parse_key(self.cleaned_data["period"])
        if period is None:
            raise forms.ValidationError(_("Choose one of the periods offered."))
        return period


class ScheduleForm(forms.Form):
    kind = forms.ChoiceField(label=_("How often"), choices=Kind.choices)
    recipients = forms.CharField(
        label=_("Recipients"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        help_text=_("E-mail addresses of the stakeholders, separated by commas or one a line."),
    )
    language = forms.ChoiceField(label=_("Language of the report"), choices=settings.LANGUAGES)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class ShareForm(forms.Form):
    expires_days = forms.IntegerField(
        label=_("Expires after (days)"),
        required=False,
        min_value=1,
        max_value=MAX_SHARE_DAYS,
        help_text=_("Leave empty for a link that works until it is revoked."),
    )
