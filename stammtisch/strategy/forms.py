from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.analytics.kpis import KPIS
from stammtisch.networks.models import Channel
from stammtisch.strategy.models import Goal


def kpi_choices() -> list[tuple[Any, list[tuple[str, Any]]]]:
    """KPIs grouped by reason, for a select with option groups; unavailable ones left out."""
    groups = []
    for kind, label in Goal.Kind.choices:
        options = [(kpi.key, kpi.label) for kpi in KPIS.values() if kpi.kind == kind and kpi.available]
        if options:
            groups.append((label, options))
    return groups


class GoalForm(forms.Form):
    kind = forms.ChoiceField(label=_("Reason"), choices=Goal.Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=120)
    kpi = forms.ChoiceField(label=_("KPI"), help_text=_("What is measured; see the definitions below."))
    target = forms.FloatField(label=_("Target"), help_text=_("The KPI's value you want to reach."))
    baseline = forms.FloatField(
        label=_("Baseline"),
        required=False,
        help_text=_("Where you start. Empty: 0 for counts, the KPI's value on the start day for rates."),
    )
    start = forms.DateField(label=_("Start"), widget=forms.DateInput(attrs={"type": "date"}))
    deadline = forms.DateField(label=_("Deadline"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kpi = self.fields["kpi"]
        assert isinstance(kpi, forms.ChoiceField)
        kpi.choices = kpi_choices()


class PillarForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    target_share = forms.IntegerField(label=_("Target share (%)"), min_value=0, max_value=100, initial=0)
    colour = forms.CharField(
        label=_("Colour"), max_length=7, initial="#2563eb", widget=forms.TextInput(attrs={"type": "color"})
    )


class MixForm(forms.Form):
    min_value_share = forms.IntegerField(
        label=_("Minimum share of value content (%)"),
        min_value=0,
        max_value=100,
        help_text=_("Posts whose purpose is “Value content” rather than “Promotion”, for example 80 %."),
    )


class CadenceForm(forms.Form):
    """One number field per channel of the workspace: posts per week (empty: no target)."""

    def __init__(self, *args: Any, channels: list[Channel], current: dict[int, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channels = channels
        for channel in channels:
            self.fields[f"channel_{channel.pk}"] = forms.IntegerField(
                label=str(channel), required=False, min_value=0, max_value=100, initial=current.get(channel.pk)
            )

    def per_channel(self) -> dict[int, int | None]:
        return {channel.pk: self.cleaned_data.get(f"channel_{channel.pk}") for channel in self.channels}
