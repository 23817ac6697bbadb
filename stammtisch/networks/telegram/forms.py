from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.networks.telegram import api


class ConnectTelegramForm(forms.Form):
    bot_token = forms.CharField(
        label=_("Bot token"),
        max_length=200,
        strip=True,
        help_text=_(
            "From @BotFather: /newbot, or /token for an existing bot. It is stored encrypted and never shown again."
        ),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    channel = forms.CharField(
        label=_("Channel"),
        max_length=100,
        help_text=_("The channel's @name, its t.me link, or for a private channel its numeric id (-100…)."),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )

    def clean_bot_token(self) -> str:
        token: str = self.cleaned_data["bot_token"]
        if not api.valid_token(token):
            raise forms.ValidationError(_("This does not look like a bot token (it looks like 123456789:AAH…)."))
        return token

    def clean_channel(self) -> str | int:
        try:
            return api.chat_ref(self.cleaned_data["channel"])
        except ValueError:
            raise forms.ValidationError(
                _("Please give the channel as @name, as a t.me link or as its numeric id.")
            ) from None
