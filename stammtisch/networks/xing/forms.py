from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

XING_HOSTS = ("xing.com", "www.xing.com")


def xing_url(value: str) -> str:
    """An https address on xing.com, or a ValidationError. Stammtisch never fetches it."""
    value = value.strip()
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not (host in XING_HOSTS or host.endswith(".xing.com")):
        raise forms.ValidationError(_("Please paste an address on xing.com (it starts with https://www.xing.com/)."))
    if parts.username or parts.password or parts.port not in (None, 443):
        raise forms.ValidationError(_("Please paste the address as XING shows it in the browser."))
    return f"https://{host}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


class AddXingChannelForm(forms.Form):
    url = forms.CharField(
        label=_("Address of the profile or company page"),
        max_length=300,
        help_text=_(
            "For example https://www.xing.com/profile/Max_Mustermann or https://www.xing.com/pages/cafe-koenigsbau"
        ),
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )
    display_name = forms.CharField(
        label=_("Name"), max_length=200, help_text=_("How the channel is shown in Stammtisch.")
    )

    def clean_url(self) -> str:
        url = xing_url(self.cleaned_data["url"])
        path = [part for part in urlsplit(url).path.split("/") if part]
        if len(path) < 2 or path[0] not in ("profile", "pages", "companies"):
            raise forms.ValidationError(
                _("This is not the address of a XING profile (…/profile/Name) or company page (…/pages/name).")
            )
        return f"https://www.xing.com/{path[0]}/{path[1]}"

    @property
    def handle(self) -> str:
        """ "profile/Max_Mustermann" or "pages/cafe-koenigsbau": unique per account."""
        return "/".join(urlsplit(self.cleaned_data["url"]).path.strip("/").split("/")[:2])


class ConfirmAssistedForm(forms.Form):
    url = forms.CharField(
        label=_("Address of your post on XING"),
        max_length=500,
        help_text=_("On XING, open the post (click its time stamp) and copy the address from the browser."),
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )

    def clean_url(self) -> str:
        return xing_url(self.cleaned_data["url"])
