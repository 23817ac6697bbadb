from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.notifications.kinds import EmailMode, Kind


class PreferencesForm(forms.Form):
    """One workspace's notification settings: per kind, in the app (yes/no) and by e-mail."""

    def __init__(self, *args: Any, kinds: list[Kind], current: dict[str, tuple[bool, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = kinds
        for kind in kinds:
            in_app, email = current[kind.key]
            self.fields[f"{kind.key}-in_app"] = forms.BooleanField(
                label=_("In the app"), required=False, initial=in_app
            )
            self.fields[f"{kind.key}-email"] = forms.ChoiceField(
                label=_("By e-mail"), choices=EmailMode.choices, initial=email
            )

    def rows(self) -> list[tuple[Kind, forms.BoundField, forms.BoundField]]:
        return [(kind, self[f"{kind.key}-in_app"], self[f"{kind.key}-email"]) for kind in self.kinds]

    def choices(self) -> dict[str, tuple[bool, str]]:
        return {
            kind.key: (bool(self.cleaned_data[f"{kind.key}-in_app"]), self.cleaned_data[f"{kind.key}-email"])
            for kind in self.kinds
        }
