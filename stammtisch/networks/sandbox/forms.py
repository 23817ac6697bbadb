from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.sandbox.actions import STANDS_IN_FOR, account_taken
from stammtisch.networks.sandbox.models import validate_handle


class ConnectSandboxForm(forms.Form):
    handle = forms.CharField(
        label=_("Handle"),
        max_length=40,
        help_text=_("The account's name on the Sandbox; its public page will be /sandbox/<handle>/."),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=200)
    stands_in_for = forms.ChoiceField(
        label=_("Stands in for"),
        choices=STANDS_IN_FOR,
        required=False,
        help_text=_("Only a label: which real network this test channel pretends to be."),
    )

    def __init__(self, *args: object, workspace: Workspace, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.workspace = workspace

    def clean_handle(self) -> str:
        handle: str = self.cleaned_data["handle"].strip().lower()
        validate_handle(handle)
        if account_taken(handle, self.workspace):
            raise forms.ValidationError(_("This handle belongs to another workspace. Please choose another."))
        return handle

    def clean_display_name(self) -> str:
        name: str = self.cleaned_data["display_name"].strip()
        if not name:
            raise forms.ValidationError(_("Please give the account a display name."))
        return name
