from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.core.http import UnsafeURL, check_public_url
from stammtisch.networks.mastodon.api import InvalidInstance, normalise_instance


class ConnectMastodonForm(forms.Form):
    instance = forms.CharField(
        label=_("Your Mastodon instance"),
        max_length=253,
        help_text=_("The server your account is on, such as mastodon.social or norden.social."),
        widget=forms.TextInput(attrs={"autocomplete": "url", "spellcheck": "false", "autocapitalize": "none"}),
    )

    def clean_instance(self) -> str:
        try:
            instance = normalise_instance(self.cleaned_data["instance"])
        except InvalidInstance:
            raise forms.ValidationError(
                _("Please give the instance's address only, such as mastodon.social.")
            ) from None
        try:
            check_public_url(instance)
        except UnsafeURL:
            raise forms.ValidationError(
                _("“%(instance)s” cannot be reached from this server, or it points to a private address.")
                % {"instance": instance.removeprefix("https://")}
            ) from None
        return instance
