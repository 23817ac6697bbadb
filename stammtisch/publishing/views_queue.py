"""The Queue page (each channel's weekly posting times and what fills the next two weeks), the
Evergreen page, and the buttons that add a post to the queue or recycle it (docs/queue.md).
Views parse input and call the actions in `publishing/queue.py`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.networks.access import get_channel_for_member
from stammtisch.networks.models import Channel
from stammtisch.publishing import queue
from stammtisch.publishing.access import get_post_for_member
from stammtisch.publishing.models import EvergreenPost, Post

UPCOMING_DAYS = 14
TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    context = {"workspace": workspace, "can_edit": request.membership.can(Perm.EDIT), **context}  # type: ignore[attr-defined]
    with timezone.override(workspace.tz):
        return render(request, template, context)


def _active_channels(workspace: Any) -> list[Channel]:
    return list(
        Channel.objects.filter(workspace=workspace)
        .exclude(health=Channel.Health.DISCONNECTED)
        .order_by("display_name", "pk")
    )


def get_evergreen_for_member(request: HttpRequest, evergreen_id: int) -> EvergreenPost:
    """An evergreen post of the request's workspace; 404 otherwise."""
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(EvergreenPost.objects.select_related("workspace"), pk=evergreen_id, workspace=workspace)


# --- Forms -------------------------------------------------------------------------------------


class SlotAddForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Days"),
        choices=list(WEEKDAYS.items()),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Tick at least one day.")},
    )
    time = forms.TimeField(label=gettext_lazy("Time"), widget=TIME_WIDGET, input_formats=["%H:%M", "%H:%M:%S"])


class SlotRemoveForm(forms.Form):
    weekday = forms.TypedChoiceField(choices=list(WEEKDAYS.items()), coerce=int)
    time = forms.TimeField(input_formats=["%H:%M", "%H:%M:%S"])


class PresetForm(forms.Form):
    preset = forms.ChoiceField(
        label=gettext_lazy("Preset"), choices=[(key, preset.label) for key, preset in queue.PRESETS.items()]
    )


class GapForm(forms.Form):
    min_gap_days = forms.IntegerField(
        label=gettext_lazy("At most every … days"),
        min_value=queue.MIN_GAP_DAYS,
        max_value=queue.MAX_GAP_DAYS,
        initial=queue.DEFAULT_GAP_DAYS,
        help_text=gettext_lazy("The post goes out again no sooner than this many days after its last time."),
    )


class EvergreenForm(GapForm):
    text = forms.CharField(label=gettext_lazy("Text"), widget=forms.Textarea(attrs={"rows": 6}), max_length=63206)
    channels = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Channels"), queryset=Channel.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    link = forms.URLField(label=gettext_lazy("Link"), required=False, max_length=2000, assume_scheme="https")
    pillar = forms.CharField(label=gettext_lazy("Content pillar"), required=False, max_length=60)
    purpose = forms.ChoiceField(label=gettext_lazy("Purpose"), choices=Post.Purpose.choices)
    field_order = ["text", "channels", "link", "pillar", "purpose", "min_gap_days"]

    def __init__(self, *args: Any, workspace: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        channels = self.fields["channels"]
        assert isinstance(channels, forms.ModelMultipleChoiceField)
        channels.queryset = Channel.objects.filter(workspace=workspace).order_by("display_name", "pk")


# --- The Queue page ------------------------------------------------------------------------------


@dataclass
class ChannelQueue:
    channel: Channel
    days: list[tuple[int, str, list[dt.time]]] = field(default_factory=list)  # (weekday, name, times)
    upcoming: list[queue.UpcomingSlot] = field(default_factory=list)

    @property
    def slot_count(self) -> int:
        return sum(len(times) for _weekday, _name, times in self.days)

    @property
    def skipped(self) -> list[queue.UpcomingSlot]:
        return [slot for slot in self.upcoming if slot.skipped]


@workspace_view(Perm.VIEW)
def queue_page(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    channels = _active_channels(workspace)
    weekly = queue.weekly_slots([channel.pk for channel in channels])
    coming = queue.upcoming(channels, workspace, now=timezone.now(), days=UPCOMING_DAYS, weekly=weekly)
    rows = []
    for channel in channels:
        mine = weekly.get(channel.pk, set())
        days = [
            (weekday, str(name), sorted(time for day, time in mine if day == weekday))
            for weekday, name in WEEKDAYS.items()
        ]
        rows.append(ChannelQueue(channel=channel, days=days, upcoming=coming.get(channel.pk, [])))
    return _render(
        request,
        "publishing/queue.html",
        {
            "nav": "queue",
            "rows": rows,
            "add_form": SlotAddForm(),
            "preset_form": PresetForm(),
            "upcoming_days": UPCOMING_DAYS,
        },
    )


def _back_to_queue(workspace: Any, channel: Channel) -> HttpResponse:
    return redirect(reverse("publishing:queue", kwargs={"slug": workspace.slug}) + f"#channel-{channel.pk}")


@require_POST
@workspace_view(Perm.EDIT)
def queue_slots(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Add times (`action=add`: days and a time) to a channel, or remove one (`action=remove`)."""
    workspace = request.workspace  # type: ignore[attr-defined]
    channel = get_channel_for_member(request, channel_id)
    actor = Actor.from_request(request)
    try:
        if request.POST.get("action") == "remove":
            remove = SlotRemoveForm(request.POST)
            if not remove.is_valid():
                raise ActionError(_("Choose a valid day and time."))
            gone = (remove.cleaned_data["weekday"], remove.cleaned_data["time"])
            queue.do_remove_slots(actor, channel, [gone])
            messages.success(
                request,
                _("Removed %(slot)s from %(channel)s.")
                % {"slot": queue.slot_label(gone), "channel": channel.display_name},
            )
        else:
            add = SlotAddForm(request.POST)
            if not add.is_valid():
                problems = [str(error) for errors in add.errors.values() for error in errors]
                raise ActionError(" ".join(problems))
            time = add.cleaned_data["time"]
            queue.do_add_slots(actor, channel, [(day, time) for day in add.cleaned_data["weekdays"]])
            messages.success(
                request,
                _("Posting times of %(channel)s saved.") % {"channel": channel.display_name},
            )
    except ActionError as exc:
        messages.error(request, exc.message)
    return _back_to_queue(workspace, channel)


@require_POST
@workspace_view(Perm.EDIT)
def queue_preset(request: HttpRequest, channel_id: int) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    channel = get_channel_for_member(request, channel_id)
    form = PresetForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please choose one of the presets."))
        return _back_to_queue(workspace, channel)
    try:
        queue.do_apply_preset(Actor.from_request(request), channel, form.cleaned_data["preset"])
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(channel)s now posts: %(preset)s.")
            % {"channel": channel.display_name, "preset": queue.PRESETS[form.cleaned_data["preset"]].label},
        )
    return _back_to_queue(workspace, channel)


@require_GET
@workspace_view(Perm.EDIT)
def queue_next(request: HttpRequest) -> HttpResponse:
    """The composer's hint under "Add to queue" (htmx): the next free time of the ticked channels."""
    workspace = request.workspace  # type: ignore[attr-defined]
    wanted = [value for value in request.GET.getlist("channels") if value.isdigit()]
    channels = list(Channel.objects.filter(workspace=workspace, pk__in=wanted).order_by("pk"))
    context: dict[str, Any] = {"channels": channels, "problem": "", "when": "", "shared": True}
    if channels:
        context["problem"] = queue.no_slots_problem(channels)
        if not context["problem"]:
            for channel in channels:
                channel.workspace = workspace
            found = queue.next_free_slots(channels, after=timezone.now())
            ids = [channel.pk for channel in channels]
            context["shared"] = queue.candidate_slots(queue.weekly_slots(ids), ids)[1]
            context["when"] = queue.local_label(found[0], workspace) if found else ""
    return _render(request, "publishing/queue_next.html", context)


# --- A post's buttons ------------------------------------------------------------------------------


@require_POST
@workspace_view(Perm.EDIT)
def post_add_to_queue(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    try:
        at = queue.do_add_to_queue(Actor.from_request(request), post)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, queue.queued_message(post, at))
    return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)


@require_POST
@workspace_view(Perm.EDIT)
def post_make_evergreen(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    form = GapForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            _("The minimum gap must be between %(min)d and %(max)d days.")
            % {"min": queue.MIN_GAP_DAYS, "max": queue.MAX_GAP_DAYS},
        )
        return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)
    try:
        queue.do_make_evergreen(Actor.from_request(request), post, form.cleaned_data["min_gap_days"])
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)
    messages.success(
        request,
        _("The post is evergreen now: it fills free queue slots, at most every %(days)d days.")
        % {"days": form.cleaned_data["min_gap_days"]},
    )
    return redirect("publishing:evergreen", slug=post.workspace.slug)


# --- The Evergreen page ----------------------------------------------------------------------------


@workspace_view(Perm.VIEW)
def evergreen_page(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    evergreens = list(
        EvergreenPost.objects.filter(workspace=workspace)
        .prefetch_related("channels")
        .order_by("-active", "last_scheduled_at", "pk")
    )
    channel_ids = {channel.pk for evergreen in evergreens for channel in evergreen.channels.all()}
    weekly = queue.weekly_slots(channel_ids)
    rows = []
    for evergreen in evergreens:
        channels = list(evergreen.channels.all())
        next_from = None
        if evergreen.last_scheduled_at is not None:
            next_from = evergreen.last_scheduled_at + dt.timedelta(days=evergreen.min_gap_days)
        rows.append(
            {
                "evergreen": evergreen,
                "channels": channels,
                "without_slots": ", ".join(c.display_name for c in channels if c.pk not in weekly),
                "next_from": next_from,
            }
        )
    return _render(
        request,
        "publishing/evergreen.html",
        {"nav": "queue", "rows": rows, "horizon_days": queue.EVERGREEN_HORIZON.days},
    )


@workspace_view(Perm.EDIT)
def evergreen_edit(request: HttpRequest, evergreen_id: int) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    evergreen = get_evergreen_for_member(request, evergreen_id)
    initial = {
        "text": evergreen.text,
        "link": evergreen.link,
        "pillar": evergreen.pillar,
        "purpose": evergreen.purpose,
        "min_gap_days": evergreen.min_gap_days,
        "channels": list(evergreen.channels.values_list("pk", flat=True)),
    }
    form = EvergreenForm(request.POST or None, initial=initial, workspace=workspace)
    if request.method == "POST" and form.is_valid():
        try:
            queue.do_update_evergreen(Actor.from_request(request), evergreen, **form.cleaned_data)
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The evergreen post is saved."))
            return redirect("publishing:evergreen", slug=workspace.slug)
    return _render(request, "publishing/evergreen_edit.html", {"nav": "queue", "evergreen": evergreen, "form": form})


@require_POST
@workspace_view(Perm.EDIT)
def evergreen_state(request: HttpRequest, evergreen_id: int) -> HttpResponse:
    """Pause (`action=pause`) or resume (`action=resume`) an evergreen post."""
    workspace = request.workspace  # type: ignore[attr-defined]
    evergreen = get_evergreen_for_member(request, evergreen_id)
    actor = Actor.from_request(request)
    if request.POST.get("action") == "resume":
        queue.do_resume_evergreen(actor, evergreen)
        messages.success(request, _("Resumed: it fills free queue slots again."))
    else:
        queue.do_pause_evergreen(actor, evergreen)
        messages.success(request, _("Paused: it fills no more slots. Posts it has made stay scheduled."))
    return redirect("publishing:evergreen", slug=workspace.slug)


@workspace_view(Perm.EDIT)
def evergreen_delete(request: HttpRequest, evergreen_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    workspace = request.workspace  # type: ignore[attr-defined]
    evergreen = get_evergreen_for_member(request, evergreen_id)
    if request.method == "POST":
        queue.do_delete_evergreen(Actor.from_request(request), evergreen)
        messages.success(request, _("The evergreen post is deleted. Posts it has made stay scheduled."))
        return redirect("publishing:evergreen", slug=workspace.slug)
    return _render(request, "publishing/evergreen_delete.html", {"nav": "queue", "evergreen": evergreen})
