from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.forms.fields import BaseTemporalField
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel
from stammtisch.publishing import composer
from stammtisch.publishing import media as media_files
from stammtisch.publishing.models import MediaAsset, Post
from stammtisch.strategy.models import Goal

VARIANT_PREFIX = "variant_"


def goal_choices(workspace: Workspace, current: int | None = None) -> QuerySet[Goal]:
    """The goals a post can be given: the workspace's goals whose deadline has not passed (in its
    time zone), and the post's current goal even if it has ended, so saving keeps it."""
    today = timezone.localdate(timezone=workspace.tz)
    active = Q(deadline__gte=today) | Q(pk=current) if current else Q(deadline__gte=today)
    return Goal.objects.filter(active, workspace=workspace).order_by("deadline", "name", "pk")


def goal_field() -> forms.ModelChoiceField:
    """The optional goal select of the composer, the edit form and the post page; its queryset
    is set per workspace (`goal_choices`), so a goal of another workspace is not a valid choice."""
    return forms.ModelChoiceField(
        label=_("Goal"),
        queryset=Goal.objects.none(),
        required=False,
        empty_label=_("No goal"),
        help_text=_("The strategy goal this post works towards: its clicks and conversions count for it."),
    )


class PostGoalForm(forms.Form):
    """The goal of a post, on its own (the post page): it can change after publishing too."""

    goal = goal_field()

    def __init__(self, *args: Any, workspace: Workspace, current: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["goal"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = goal_choices(workspace, current)


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


TIME_CHOICE_FIELD = "time_choice"  # the instant picked among `local_choices`, as `choice_value`


def _utc_offset(at: dt.datetime) -> str:
    offset = at.utcoffset() or dt.timedelta(0)
    sign = "+" if offset >= dt.timedelta(0) else "-"
    hours, rest = divmod(abs(int(offset.total_seconds())) // 60, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _duration(delta: dt.timedelta) -> str:
    minutes = abs(int(delta.total_seconds())) // 60
    if minutes % 60:
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    return ngettext("%(count)d hour", "%(count)d hours", minutes // 60) % {"count": minutes // 60}


def local_choices(local: dt.datetime, tz: zoneinfo.ZoneInfo) -> list[tuple[str, dt.datetime]]:
    """The instants a wall-clock time in `tz` can mean, each with a label: one for an ordinary
    time; on a DST change day two, never a silent pick:

    - a time that occurs twice (the clocks go back; 2026-10-25 02:30 in Europe/Berlin):
      "02:30 CEST (UTC+2, first)" and "02:30 CET (UTC+1, second)";
    - a time that does not exist (the clocks go forward; 2027-03-28 02:30 in Europe/Berlin): the
      same clock time moved by the length of the gap either way, "03:30 CEST (UTC+2), 1 hour later,
      after the change" and "01:30 CET (UTC+1), 1 hour earlier, before the change".

    The datetimes are aware, in `tz`."""
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)

    def clock(at: dt.datetime) -> str:
        shown = at.strftime("%H:%M") if at.date() == local.date() else at.strftime("%Y-%m-%d %H:%M")
        return f"{shown} {at.tzname()}"

    if first.utcoffset() == second.utcoffset():
        return [(f"{clock(first)} ({_utc_offset(first)})", first)]
    if first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) == local:
        return [
            (_("%(time)s (%(offset)s, first)") % {"time": clock(first), "offset": _utc_offset(first)}, first),
            (_("%(time)s (%(offset)s, second)") % {"time": clock(second), "offset": _utc_offset(second)}, second),
        ]
    # In a gap, fold=0 reads the time with the offset before the change (an instant after the
    # gap), fold=1 with the offset after it (an instant before the gap).
    later = first.astimezone(dt.UTC).astimezone(tz)
    earlier = second.astimezone(dt.UTC).astimezone(tz)
    gap = _duration(later.replace(tzinfo=None) - local)
    values = {"gap": gap}
    return [
        (
            _("%(time)s (%(offset)s), %(gap)s later, after the change")
            % {**values, "time": clock(later), "offset": _utc_offset(later)},
            later,
        ),
        (
            _("%(time)s (%(offset)s), %(gap)s earlier, before the change")
            % {**values, "time": clock(earlier), "offset": _utc_offset(earlier)},
            earlier,
        ),
    ]


def choice_value(at: dt.datetime) -> str:
    """How a form carries an instant picked among `local_choices`: UTC, ISO 8601."""
    return at.astimezone(dt.UTC).isoformat()


def resolve_local_time(form: forms.Form, local: dt.datetime, tz: zoneinfo.ZoneInfo, zone: str) -> dt.datetime:
    """The instant `local` means, for a form's clean method. On a DST change day the instant the
    user picked (the `time_choice` field, checked against this time's own choices, so a pick made
    for another time counts for nothing); without a valid pick a ValidationError, and the
    choices in `form.time_choices` (value, label) for the template `_time_choice.html`."""
    choices = local_choices(local, tz)
    if len(choices) == 1:
        return choices[0][1]
    picked = str(form.data.get(TIME_CHOICE_FIELD, ""))
    for _label, at in choices:
        if picked == choice_value(at):
            return at
    form.time_choices = [(choice_value(at), label) for label, at in choices]  # type: ignore[attr-defined]
    values = {"time": local.strftime("%H:%M"), "zone": zone}
    try:
        local_to_utc(local, tz)
    except ValueError as exc:
        if str(exc) == "nonexistent":
            message = _(
                "%(time)s does not exist on this day in %(zone)s: the clocks go forward. Choose one of the "
                "nearest times."
            )
            raise forms.ValidationError(message % values) from None
    message = _("%(time)s occurs twice on this day in %(zone)s: the clocks go back. Choose which one.")
    raise forms.ValidationError(message % values)


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
    WHEN_QUEUE = "queue"  # the next free posting time of the ticked channels (publishing/queue.py)

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
        widget=forms.TextInput(attrs={"list": "pillar-choices"}),  # the workspace's pillars (strategy)
    )
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Post.Purpose.choices, initial=Post.Purpose.VALUE)
    goal = goal_field()
    when = forms.ChoiceField(
        label=_("When"),
        choices=[
            (WHEN_NOW, _("Publish now")),
            (WHEN_SCHEDULE, _("Schedule")),
            (WHEN_QUEUE, _("Add to queue")),
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
    first_comment = forms.CharField(
        label=_("First comment"),
        required=False,
        max_length=63206,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Posted as the first comment (or reply) under the post, where the network allows it."),
    )
    # Ids of the workspace's MediaAssets, in order: hidden inputs of the upload area
    # (publishing/_compose_media.html, views_media.py); cleaned to the assets themselves.
    # (A field named "media" shadows only the class attribute Django's form metaclass replaces
    # with the widget-assets property again: `form.media` stays that, `form["media"]` is this.)
    media = forms.Field(  # type: ignore[assignment]
        label=_("Images and video"), required=False, widget=forms.MultipleHiddenInput
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound and self.data.get("publish_now"):
            # "Publish now instead" (offered when the chosen time has passed) posts the whole
            # form again with this button: the same post, published now.
            data = self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
            data["when"] = self.WHEN_NOW
            self.data = data
        self.workspace = workspace
        self.time_choices: list[tuple[str, str]] = []  # DST change day: (value, label), see resolve_local_time
        self.time_passed = False
        channels = self.fields["channels"]
        assert isinstance(channels, forms.ModelMultipleChoiceField)
        channels.queryset = Channel.objects.filter(workspace=workspace)
        goal = self.fields["goal"]
        assert isinstance(goal, forms.ModelChoiceField)
        goal.queryset = goal_choices(workspace)
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
        # The channels that can post a first comment (compose.html marks them for first_comment.js).
        without = composer.without_first_comment(self.channel_list)
        self.first_comment_pks = {channel.pk for channel in self.channel_list if channel not in without}
        self.fields["scheduled_local"].help_text = _("In the time zone of the workspace, %(zone)s.") % {
            "zone": workspace.time_zone
        }
        from stammtisch.publishing import approvals  # here: approvals imports actions, which imports this module

        # Approvals required (docs/approvals.md): publishing and scheduling become submitting.
        self.needs_approval = approvals.approval_required(workspace)
        if self.needs_approval:
            when = self.fields["when"]
            assert isinstance(when, forms.ChoiceField)
            labels = {
                self.WHEN_NOW: _("Submit for approval: publish as soon as it is approved"),
                self.WHEN_SCHEDULE: _("Submit for approval for this time"),
            }
            current: list[tuple[str, Any]] = list(when.choices)  # type: ignore[arg-type]
            when.choices = [(key, labels.get(key, label)) for key, label in current]
            when.help_text = _("Posts in this workspace need a reviewer's approval before they go out.")

    def clean_scheduled_local(self) -> dt.datetime | None:
        value: dt.datetime | None = self.cleaned_data.get("scheduled_local")
        if value is None:
            return None
        if self.cleaned_data.get("when") != self.WHEN_SCHEDULE:
            return local_choices(value, self.workspace.tz)[0][1]  # not used: no choice asked for
        return resolve_local_time(self, value, self.workspace.tz, self.workspace.time_zone)

    def clean_media(self) -> list[MediaAsset]:
        """The chosen files, this workspace's only, in the order given; an id of a deleted file
        or of another workspace's is an error, never silently dropped."""
        raw = [str(value).strip() for value in self.cleaned_data.get("media") or [] if str(value).strip()]
        ids = media_files.parse_ids(raw)
        assets, missing = media_files.assets_for_ids(self.workspace, ids)
        if missing or len(ids) < len(set(raw)):
            raise forms.ValidationError(
                _("A chosen file was not found: it was deleted, or it is not this workspace's. Choose the files again.")
            )
        if len(assets) > media_files.MAX_MEDIA_PER_POST:
            raise forms.ValidationError(
                _("A post can have at most %(max)s files.") % {"max": media_files.MAX_MEDIA_PER_POST}
            )
        return assets

    def media_alt_texts(self) -> dict[MediaAsset, str]:
        """The descriptions typed for the chosen files (`alt_<id>`) that differ from the stored ones."""
        changed = {}
        for asset in self.cleaned_data.get("media") or []:
            typed = self.data.get(f"alt_{asset.pk}")
            if typed is not None and " ".join(typed.split()) != asset.alt_text:
                changed[asset] = typed
        return changed

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
        if when in (self.WHEN_NOW, self.WHEN_SCHEDULE, self.WHEN_QUEUE) and not data.get("channels"):
            self.add_error("channels", _("Choose at least one channel."))
        if when == self.WHEN_QUEUE and data.get("channels"):
            from stammtisch.publishing import queue  # it imports the actions, which import this module

            problem = queue.no_slots_problem(data["channels"])
            if problem:
                self.add_error("channels", problem)
        if data.get("text") and data.get("channels"):
            self.checks = composer.check_channels(
                data["channels"],
                data["text"],
                self.variants(),
                first_comment=data.get("first_comment") or "",
                media=data.get("media") or (),
            )
        invalid = composer.failing(self.checks)
        if invalid and when in (self.WHEN_NOW, self.WHEN_SCHEDULE, self.WHEN_QUEUE):
            # Publishing or scheduling a text a network refuses only fails later: say so now, per
            # channel. A draft may be saved as it is (the view says which channels it misses).
            if any(len(check.problems) > len(check.media_problems) for check in invalid):
                self.add_error(
                    None,
                    _("The text does not fit every channel yet. Shorten it, or save the post as a draft."),
                )
            if any(check.media_problems for check in invalid):
                self.add_error(
                    "media",
                    _("The images and videos do not suit every channel yet. Change them, or save the post as a draft."),
                )
            for check in invalid:
                self.add_error(f"{VARIANT_PREFIX}{check.channel.pk}", composer.problem_summary(check))
                if check.first_comment is not None and check.first_comment.problems:
                    summary = _("%(channel)s: %(problems)s") % {
                        "channel": check.channel.display_name,
                        "problems": "; ".join(check.first_comment.problems),
                    }
                    self.add_error("first_comment", summary)
        if when == self.WHEN_SCHEDULE and "scheduled_local" not in self.errors:
            at = data.get("scheduled_local")
            if at is None:
                self.add_error("scheduled_local", _("Choose when to publish."))
            elif at <= timezone.now():
                self.time_passed = True  # the template offers "Publish now instead"
                self.add_error(
                    "scheduled_local",
                    _("This time has passed. Choose a later time, or publish the post now."),
                )
        return data

    def first_comment_missing_names(self) -> list[str]:
        """The ticked channels that will not post the first comment, by name."""
        ticked = {str(value) for value in self["channels"].value() or []}
        chosen = [channel for channel in self.channel_list if str(channel.pk) in ticked]
        return [channel.display_name for channel in composer.without_first_comment(chosen)]


LOCAL_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


class RescheduleForm(forms.Form):
    """The new wall-clock time of a post, in the workspace's zone (the calendar's drag and drop
    and the "Move" form on the post page). With `workspace`, a time on a DST change day is
    resolved by the user's pick (`time_choice`) or refused with the choices; without it the time
    stays naive and the action refuses such times."""

    when = LocalDateTimeField(
        label=_("New date and time"),
        input_formats=LOCAL_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, workspace: Workspace | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.time_choices: list[tuple[str, str]] = []

    def clean_when(self) -> dt.datetime | None:
        value: dt.datetime | None = self.cleaned_data.get("when")
        if value is None or self.workspace is None:
            return value
        return resolve_local_time(self, value, self.workspace.tz, self.workspace.time_zone)


class PostEditForm(forms.Form):
    """What can change on a post that has not gone out yet (the time moves with RescheduleForm):
    the text, each of `channels`' own text (empty: the post's text), the first comment, link,
    pillar, purpose and goal (one of `workspace`'s running goals, or `current_goal`). With
    `must_fit` (a scheduled post) every channel's text must pass its network's rules, as in the
    composer; a draft may be saved as it is."""

    text = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 6}), max_length=63206)
    link = forms.URLField(label=_("Link"), required=False, max_length=2000, assume_scheme="https")
    pillar = forms.CharField(
        label=_("Content pillar"),
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"list": "pillar-choices"}),  # the workspace's pillars (strategy)
    )
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Post.Purpose.choices)
    goal = goal_field()
    first_comment = forms.CharField(
        label=_("First comment"),
        required=False,
        max_length=63206,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Posted as the first comment (or reply) under the post, where the network allows it."),
    )

    def __init__(
        self,
        *args: Any,
        channels: list[Channel] | tuple[Channel, ...] = (),
        must_fit: bool = False,
        media: list[MediaAsset] | tuple[MediaAsset, ...] = (),
        workspace: Workspace | None = None,
        current_goal: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        goal = self.fields["goal"]
        assert isinstance(goal, forms.ModelChoiceField)
        if workspace is not None:  # without a workspace no goal can be chosen
            goal.queryset = goal_choices(workspace, current_goal)
        self.channel_list = list(channels)
        self.must_fit = must_fit
        self.post_media = list(media)  # the post's files, checked with the texts
        self.checks: list[composer.ChannelCheck] = []
        for channel in self.channel_list:
            self.fields[f"{VARIANT_PREFIX}{channel.pk}"] = forms.CharField(
                label=_("Text for %(channel)s") % {"channel": channel.display_name},
                required=False,
                max_length=63206,
                strip=False,
                widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("Empty: the text above is used.")}),
            )

    def variant_fields(self) -> list[tuple[Channel, forms.BoundField]]:
        return [(channel, self[f"{VARIANT_PREFIX}{channel.pk}"]) for channel in self.channel_list]

    def first_comment_missing_names(self) -> list[str]:
        """The post's channels that will not post the first comment, by name."""
        return [channel.display_name for channel in composer.without_first_comment(self.channel_list)]

    def variants(self) -> dict[int, str]:
        """Every channel's own text by channel id, empty for "the post's text" (after `is_valid`)."""
        return {
            channel.pk: self.cleaned_data.get(f"{VARIANT_PREFIX}{channel.pk}") or "" for channel in self.channel_list
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("text") and self.channel_list:
            self.checks = composer.check_channels(
                self.channel_list,
                data["text"],
                self.variants(),
                first_comment=data.get("first_comment") or "",
                media=self.post_media,
            )
        invalid = composer.failing(self.checks)
        if invalid and self.must_fit:
            self.add_error(None, _("The text does not fit every channel. A scheduled post must fit each of them."))
            for check in invalid:
                self.add_error(f"{VARIANT_PREFIX}{check.channel.pk}", composer.problem_summary(check))
        return data


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
