from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.publishing.forms import LOCAL_INPUT_FORMATS, LocalDateTimeField, local_time_problem, local_to_utc

FIGURE_LABELS = {
    "impressions": _("Impressions"),
    "likes": _("Likes"),
    "comments": _("Comments"),
    "shares": _("Shares"),
    "clicks": _("Clicks"),
}


def _count(label: Any) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, min_value=0, max_value=10**12)


class EnterMetricsForm(forms.Form):
    """Figures a person read on the network (XING) for one post, and when."""

    observed_at = LocalDateTimeField(
        label=_("As of"),
        input_formats=LOCAL_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("When you read the figures, in the workspace's time zone."),
    )
    impressions = _count(FIGURE_LABELS["impressions"])
    likes = _count(FIGURE_LABELS["likes"])
    comments = _count(FIGURE_LABELS["comments"])
    shares = _count(FIGURE_LABELS["shares"])
    clicks = _count(FIGURE_LABELS["clicks"])

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_observed_at(self) -> dt.datetime:
        local: dt.datetime = self.cleaned_data["observed_at"]
        try:
            return local_to_utc(local, self.workspace.tz).astimezone(dt.UTC)
        except ValueError as exc:
            raise forms.ValidationError(local_time_problem(exc, self.workspace.time_zone)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and all(cleaned.get(name) is None for name in FIGURE_LABELS):
            raise forms.ValidationError(_("Enter at least one figure."))
        return cleaned

    @property
    def values(self) -> dict[str, int | None]:
        return {name: self.cleaned_data.get(name) for name in FIGURE_LABELS}


class UploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
