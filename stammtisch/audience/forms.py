from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from stammtisch.audience.actions import parse_tags
from stammtisch.audience.models import Consent, Referral, Stage
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import CONNECTORS

LANGUAGE_CHOICES = [("", _("Unknown")), *settings.LANGUAGES]


def network_choices() -> list[tuple[str, str]]:
    return [("", "-"), *[(key, str(label)) for key, (label, _path) in CONNECTORS.items()]]


class FilterForm(forms.Form):
    """The people list's filters; an invalid value drops only its own filter."""

    SEEN = [
        ("", _("any time")),
        ("7", _("in the last 7 days")),
        ("30", _("in the last 30 days")),
        ("90", _("in the last 90 days")),
        ("old", _("more than 90 days ago")),
    ]

    q = forms.CharField(label=_("Name or handle"), required=False, max_length=100)
    stage = forms.ChoiceField(label=_("Stage"), required=False, choices=[("", _("All")), *Stage.choices])
    min_score = forms.FloatField(label=_("Score from"), required=False, min_value=0)
    max_score = forms.FloatField(label=_("Score to"), required=False, min_value=0)
    network = forms.ChoiceField(label=_("Network"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False, choices=[("", _("All")), *settings.LANGUAGES])
    tag = forms.ChoiceField(label=_("Tag"), required=False)
    sentiment = forms.ChoiceField(
        label=_("Sentiment (90 days)"),
        required=False,
        choices=[("", _("All")), ("positive", _("Positive")), ("neutral", _("Neutral")), ("negative", _("Negative"))],
    )
    seen = forms.ChoiceField(label=_("Last seen"), required=False, choices=SEEN)

    def __init__(self, *args: Any, tags: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["network"]).choices = [("", _("All")), *network_choices()[1:]]
        cast(forms.ChoiceField, self.fields["tag"]).choices = [("", _("All"))] + [(name, name) for name in tags]


class SegmentForm(forms.Form):
    """Save the people list's current filters as a segment (the filter values come along as
    hidden fields and are read with `FilterForm`)."""

    name = forms.CharField(label=_("Name of the segment"), max_length=100)


class PersonForm(forms.Form):
    display_name = forms.CharField(label=_("Name"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES, required=False)
    consent = forms.ChoiceField(label=_("Consent to be contacted"), choices=Consent.choices, initial=Consent.UNKNOWN)
    tags = forms.CharField(
        label=_("Tags"), required=False, max_length=1000, help_text=_("Separated by commas, e.g. regular, vegan")
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def clean_tags(self) -> list[str]:
        return parse_tags(self.cleaned_data["tags"])


class NewPersonForm(PersonForm):
    display_name = forms.CharField(label=_("Name"), max_length=200)
    network = forms.ChoiceField(label=_("Network (optional)"), required=False)
    handle = forms.CharField(label=_("Handle there (optional)"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["network"]).choices = network_choices()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("network")) != bool(data.get("handle", "").strip().lstrip("@")):
            raise forms.ValidationError(_("Give both a network and a handle, or neither."))
        return data


class MergeForm(forms.Form):
    other = forms.IntegerField(label=_("Number of the other person"), min_value=1)


class SplitForm(forms.Form):
    identities = forms.TypedMultipleChoiceField(label=_("Identities to move"), coerce=int)

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["identities"]).choices = choices


class RetentionForm(forms.Form):
    retention_months = forms.IntegerField(
        label=_("Erase people inactive for more than (months)"),
        required=False,
        min_value=1,
        max_value=120,
        help_text=_("Leave empty to keep people until you erase them."),
    )


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


class ReferralForm(forms.Form):
    """Where a new referral link leads: a page of the website (its address), a channel's profile
    page (the channel) or the link-in-bio page."""

    target_kind = forms.ChoiceField(
        label=_("The link leads to"), choices=Referral.Target.choices, initial=Referral.Target.WEBSITE
    )
    target = forms.URLField(
        label=_("Address of the page"),
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text=_("Only for a page of the website, e.g. https://example.com/reservation"),
    )
    channel = forms.ModelChoiceField(label=_("Channel"), queryset=Channel.objects.none(), required=False)

    def __init__(self, *args: Any, workspace: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["channel"]).queryset = Channel.objects.filter(
            workspace=workspace
        ).order_by("network", "display_name", "pk")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("target_kind")
        if kind == Referral.Target.WEBSITE and not data.get("target"):
            self.add_error("target", _("Enter the address of the page."))
        if kind == Referral.Target.CHANNEL and not data.get("channel"):
            self.add_error("channel", _("Choose the channel."))
        return data
