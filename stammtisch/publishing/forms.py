from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.forms.fields import BaseTemporalField
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel
from stammtisch.publishing import composer
from stammtisch.publishing.models import Post

VARIANT_PREFIX = "variant_"


def local_to_utc(local: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """A wall-clock time in `tz` as an aware datetime; ValueError when the time does not exist
    (spring forward) or exists twice (fall back) on a DST change day, instead of silently
    shifting it. (The publishing issue replaces the error with a choice between the two.)"""
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
        if round_trip != local:
            raise ValueError("nonexistent")
        raise ValueError("ambiguous")
    return first


def local_time_problem(exc: ValueError, zone: str) -> str:
    """The message for a `local_to_utc` refusal; the composer and rescheduling share it."""
    if str(exc) == "nonexistent":
        return _("This time does not exist in %(zone)s (the clocks go forward). Choose another time.") % {"zone": zone}
    return _("This time occurs twice in %(zone)s (the clocks go back). Choose another time.") % {"zone": zone}


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock date and time, left naive: the form places it in the workspace's zone."""

    def to_python(self, value: Any) -> dt.datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None)
        result: dt.datetime | None = BaseTemporalField.to_python(self, str(value).strip())
        return result

    def strptime(self, value: str, format: str) -> dt.datetime:
        return dt.datetime.strptime(value, format)


class ComposeForm(forms.Form):
    WHEN_NOW = "now"
    WHEN_SCHEDULE = "schedule"
    WHEN_DRAFT = "draft"

    text = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 6}), max_length=63206)
    channels = forms.ModelMultipleChoiceField(
        label=_("Channels"),
        queryset=Channel.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    link = forms.URLField(label=_("Link"), required=False, max_length=2000, assume_scheme="https")
    pillar = forms.CharField(
        label=_("Content pillar"),
        required=False,
        max_length=60,
        help_text=_("A free label such as “Recipes” or “Events”."),
    )
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Post.Purpose.choices, initial=Post.Purpose.VALUE)
    when = forms.ChoiceField(
        label=_("When"),
        choices=[
            (WHEN_NOW, _("Publish now")),
            (WHEN_SCHEDULE, _("Schedule")),
            (WHEN_DRAFT, _("Save as draft")),
        ],
        initial=WHEN_SCHEDULE,
        widget=forms.RadioSelect,
    )
    scheduled_local = LocalDateTimeField(
        label=_("Date and time"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        channels = self.fields["channels"]
        assert isinstance(channels, forms.ModelMultipleChoiceField)
        channels.queryset = Channel.objects.filter(workspace=workspace)
        # One optional text per channel: empty means the post's text (shown only for the
        # channels that are ticked, see compose.html).
        self.channel_list = list(channels.queryset)
        for channel in self.channel_list:
            self.fields[f"{VARIANT_PREFIX}{channel.pk}"] = forms.CharField(
                label=_("Text for %(channel)s") % {"channel": channel.display_name},
                required=False,
                max_length=63206,
                strip=False,
                widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("Empty: the text above is used.")}),
            )
        self.checks: list[composer.ChannelCheck] = []
        self.fields["scheduled_local"].help_text = _("In the time zone of the workspace, %(zone)s.") % {
            "zone": workspace.time_zone
        }

    def clean_scheduled_local(self) -> dt.datetime | None:
        value: dt.datetime | None = self.cleaned_data.get("scheduled_local")
        if value is None:
            return None
        try:
            return local_to_utc(value, self.workspace.tz)
        except ValueError as exc:
            raise forms.ValidationError(local_time_problem(exc, self.workspace.time_zone)) from None

    def channel_rows(self) -> list[tuple[Channel, bool, forms.BoundField]]:
        """(channel, ticked, its text field) for the composer's channel list."""
        ticked = {str(value) for value in self["channels"].value() or []}
        return [
            (channel, str(channel.pk) in ticked, self[f"{VARIANT_PREFIX}{channel.pk}"]) for channel in self.channel_list
        ]

    def variants(self) -> dict[int, str]:
        """The channels' own texts that are not empty, by channel id (after `is_valid`)."""
        variants = {}
        for channel in self.channel_list:
            value = self.cleaned_data.get(f"{VARIANT_PREFIX}{channel.pk}") or ""
            if value.strip():
                variants[channel.pk] = value
        return variants

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        when = data.get("when")
        if when in (self.WHEN_NOW, self.WHEN_SCHEDULE) and not data.get("channels"):
            self.add_error("channels", _("Choose at least one channel."))
        if data.get("text") and data.get("channels"):
            self.checks = composer.check_channels(data["channels"], data["text"], self.variants())
        invalid = composer.failing(self.checks)
        if invalid and when in (self.WHEN_NOW, self.WHEN_SCHEDULE):
            # Publishing or scheduling a text a network refuses only fails later: say so now, per
            # channel. A draft may be saved as it is (the view says which channels it misses).
            self.add_error(
                None,
                _("The text does not fit every channel yet. Shorten it, or save the post as a draft."),
            )
            for check in invalid:
                self.add_error(f"{VARIANT_PREFIX}{check.channel.pk}", composer.problem_summary(check))
        if when == self.WHEN_SCHEDULE and "scheduled_local" not in self.errors:
            at = data.get("scheduled_local")
            if at is None:
                self.add_error("scheduled_local", _("Choose when to publish."))
            elif at <= timezone.now():
                self.add_error(
                    "scheduled_local",
                    _("This time has passed. Choose a later time, or “Publish now”."),
                )
        return data


LOCAL_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


class RescheduleForm(forms.Form):
    """The new wall-clock time of a post, in the workspace's zone (the calendar's drag and drop
    and the "Move" form on the post page). DST gaps and overlaps are refused by the action."""

    when = LocalDateTimeField(
        label=_("New date and time"),
        input_formats=LOCAL_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class PostEditForm(forms.Form):
    """What can change on a post that has not gone out yet (the time moves with RescheduleForm)."""

    text = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 6}), max_length=63206)
    link = forms.URLField(label=_("Link"), required=False, max_length=2000, assume_scheme="https")
    pillar = forms.CharField(label=_("Content pillar"), required=False, max_length=60)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Post.Purpose.choices)


class CalendarFilterForm(forms.Form):
    """The calendar's filter bar: a plain GET form, so it works without JavaScript."""

    VIEWS = [("month", _("Month")), ("week", _("Week")), ("list", _("List"))]

    view = forms.ChoiceField(label=_("View"), choices=VIEWS, required=False)
    date = forms.DateField(label=_("Date"), required=False, input_formats=["%Y-%m-%d"])
    channel = forms.TypedChoiceField(label=_("Channel"), coerce=int, empty_value=None, required=False)
    pillar = forms.ChoiceField(label=_("Content pillar"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, *args: Any, channels: list[Channel], pillars: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Choices come from the lists the view loaded anyway: no query of their own.
        channel = self.fields["channel"]
        assert isinstance(channel, forms.ChoiceField)
        channel.choices = [("", _("All channels")), *[(c.pk, str(c.display_name)) for c in channels]]
        pillar = self.fields["pillar"]
        assert isinstance(pillar, forms.ChoiceField)
        pillar.choices = [("", _("All pillars")), *[(p, p) for p in pillars]]
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [("", _("All statuses")), *Post.Status.choices]
