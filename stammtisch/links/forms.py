from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from stammtisch.links import utm
from stammtisch.links.models import LinkSettings
from stammtisch.publishing.models import Post

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class LinkForm(forms.Form):
    """The UTM builder: a target and its UTM parameters, placement and expiry."""

    target = forms.CharField(
        label=_("Target address"),
        max_length=2000,
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    post = forms.ModelChoiceField(
        label=_("Promote a post"),
        queryset=Post.objects.none(),
        required=False,
        help_text=_("Optional: a post with a link. Its link is the target when the address is left empty."),
    )
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    utm_source = forms.CharField(
        label="utm_source",
        max_length=100,
        required=False,
        help_text=_("Where the visitors come from: flyer, website, newsletter …"),
    )
    utm_medium = forms.CharField(
        label="utm_medium",
        max_length=100,
        required=False,
        help_text=_("The kind of channel: print, embed, email, social …"),
    )
    utm_campaign = forms.CharField(label="utm_campaign", max_length=200, required=False)
    utm_content = forms.CharField(label="utm_content", max_length=200, required=False)
    utm_term = forms.CharField(label="utm_term", max_length=200, required=False)
    expires_at = forms.DateTimeField(
        label=_("Expires"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Empty: never. After this time the link answers with a friendly “not found” page."),
    )
    in_bio = forms.BooleanField(label=_("Show on the link-in-bio page"), required=False)
    in_promo = forms.BooleanField(label=_("Show in the website promo block"), required=False)

    def __init__(self, *args: Any, workspace: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if workspace is not None:
            field = self.fields["post"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = Post.objects.filter(workspace=workspace).exclude(link="").order_by("-created_at")[:100]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("target") and data.get("post") is not None:
            data["target"] = data["post"].link
        if not data.get("target"):
            self.add_error("target", _("Enter the address the link leads to."))
        return data


def _colour(value: str) -> str:
    if not COLOUR.match(value or ""):
        raise ValidationError(_("Enter a colour as #rrggbb."))
    return value.lower()


def _template(value: str) -> str:
    return utm.check_template(value)


class LinkSettingsForm(forms.ModelForm):
    class Meta:
        model = LinkSettings
        fields = [
            "utm_campaign_template",
            "utm_content_template",
            "qr_dark",
            "qr_light",
            "attribution_days",
            "append_click_id",
            "bio_title",
            "bio_intro",
            "bio_public",
        ]
        widgets = {
            "qr_dark": forms.TextInput(attrs={"type": "color"}),
            "qr_light": forms.TextInput(attrs={"type": "color"}),
        }
        help_texts = {
            "utm_campaign_template": _(
                "Variables: {post_id} {pillar} {channel} {network} {goal} {purpose}. {goal} is the post's "
                "goal as a slug; without a goal, a blog feed's campaign or else the purpose."
            ),
            "utm_content_template": _(
                "Variables: {post_id} {pillar} {channel} {network} {goal} {purpose}. {goal} is the post's "
                "goal as a slug; without a goal, a blog feed's campaign or else the purpose."
            ),
            "attribution_days": _("A conversion counts for a click this many days old at most."),
        }

    def clean_utm_campaign_template(self) -> str:
        return _template(self.cleaned_data["utm_campaign_template"])

    def clean_utm_content_template(self) -> str:
        return _template(self.cleaned_data["utm_content_template"])

    def clean_qr_dark(self) -> str:
        return _colour(self.cleaned_data["qr_dark"])

    def clean_qr_light(self) -> str:
        return _colour(self.cleaned_data["qr_light"])

    def clean_attribution_days(self) -> int:
        days = int(self.cleaned_data["attribution_days"])
        if not 1 <= days <= 365:
            raise ValidationError(_("Choose from 1 to 365 days."))
        return days
