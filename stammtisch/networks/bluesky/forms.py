from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.core.http import UnsafeURL, check_public_url
from stammtisch.networks.bluesky import api, identity


class ConnectBlueskyForm(forms.Form):
    identifier = forms.CharField(
        label=_("Handle or e-mail address"),
        max_length=253,
        help_text=_("For example cafe-koenigsbau.bsky.social, your own domain, or the account's e-mail address."),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none", "autocomplete": "username"}),
    )
    app_password = forms.CharField(
        label=_("App password"),
        max_length=100,
        strip=True,
        help_text=_(
            "Create one in Bluesky under Settings → Privacy and security → App passwords. "
            "Stammtisch uses it once to sign in and does not store it."
        ),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    pds_url = forms.CharField(
        label=_("Server (PDS)"),
        max_length=200,
        required=False,
        help_text=_("Leave empty for accounts on bsky.social. Only for a self-hosted Personal Data Server."),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none", "placeholder": api.DEFAULT_PDS}),
    )

    def clean_identifier(self) -> str:
        value: str = self.cleaned_data["identifier"].strip().removeprefix("@")
        if not value or any(ch.isspace() for ch in value):
            raise forms.ValidationError(_("Please give your handle (name.bsky.social) or your e-mail address."))
        return value

    def clean_app_password(self) -> str:
        value: str = self.cleaned_data["app_password"].strip().lower()
        if not api.APP_PASSWORD.match(value):
            raise forms.ValidationError(
                _(
                    "This is not an app password (they look like abcd-efgh-ijkl-mnop). "
                    "Please do not enter your account password here."
                )
            )
        return value

    def clean_pds_url(self) -> str:
        try:
            pds = api.normalize_pds(self.cleaned_data.get("pds_url") or "")
        except ValueError:
            raise forms.ValidationError(_("Please give the server as https://host, without a path.")) from None
        if pds != api.DEFAULT_PDS:
            try:
                check_public_url(pds)
            except UnsafeURL as error:
                raise forms.ValidationError(str(error)) from None
        return pds


class ConnectBlueskyOAuthForm(forms.Form):
    """Sign in with Bluesky (AT Protocol OAuth): who the account is, or which server it lives on.
    Cleaned: ("handle" | "did" | "server", value)."""

    account = forms.CharField(
        label=_("Handle or server"),
        max_length=253,
        help_text=_(
            "For example cafe-koenigsbau.bsky.social or your own domain. "
            "If you do not remember your handle, the address of your server, such as https://bsky.social."
        ),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none", "autocomplete": "username"}),
    )

    def clean_account(self) -> tuple[str, str]:
        try:
            return identity.parse_identifier(self.cleaned_data["account"])
        except identity.ResolveError as error:
            raise forms.ValidationError(error.message) from None
