"""Forms of the SEO pages: uploading a Search Console file, deleting imported figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


def _day(label: Any, help_text: Any = "") -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=help_text,
    )


class SearchConsoleUploadForm(forms.Form):
    """A Search Console CSV file and, for a file without dates, the date range it covers."""

    file = forms.FileField(label=_("Search Console CSV file"))
    first_day = _day(
        _("First day"), _("Only for files without a date column (Pages.csv, Queries.csv): the start of its range.")
    )
    last_day = _day(_("Last day"), _("The end of the range you chose in Search Console."))

    @property
    def period(self) -> tuple[dt.date | None, dt.date | None]:
        return self.cleaned_data.get("first_day"), self.cleaned_data.get("last_day")


class SearchConsoleDeleteForm(forms.Form):
    first_day = _day(_("From"))
    last_day = _day(_("To"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and (cleaned.get("first_day") is None or cleaned.get("last_day") is None):
            raise forms.ValidationError(_("Enter the first and the last day."))
        return cleaned
