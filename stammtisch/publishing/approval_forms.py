"""Forms of the approval pages (docs/approvals.md). Times are wall-clock times in the workspace's
zone, left naive: the actions place them (and refuse a DST gap or overlap with a message)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.publishing.approvals import COMMENT_MAX, LINK_DAYS_MAX, NAME_MAX
from stammtisch.publishing.forms import LOCAL_INPUT_FORMATS, LocalDateTimeField


def _local_time(label: Any, required: bool = False) -> LocalDateTimeField:
    return LocalDateTimeField(
        label=label,
        required=required,
        input_formats=LOCAL_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class SubmitForm(forms.Form):
    """Submit a draft for approval, with the wanted time (empty: as soon as it is approved)."""

    scheduled_local = _local_time(_("Publish at"))
    comment = forms.CharField(
        label=_("Note for the reviewer"),
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, zone: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scheduled_local"].help_text = _(
            "In the time zone of the workspace, %(zone)s. Empty: published as soon as it is approved."
        ) % {"zone": zone}


class DecisionForm(forms.Form):
    """Approve, ask for changes, or only comment. When the wanted time has passed, the approver
    chooses "publish now" or a new time (`timing`)."""

    APPROVE = "approve"
    CHANGES = "changes"
    COMMENT = "comment"
    TIMING_NOW = "now"
    TIMING_NEW = "new"

    decision = forms.ChoiceField(
        choices=[(APPROVE, _("Approve")), (CHANGES, _("Request changes")), (COMMENT, _("Comment"))],
        widget=forms.HiddenInput,
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed when you ask for changes: say what should change."),
    )
    timing = forms.ChoiceField(
        label=_("The wanted time has passed"),
        required=False,
        choices=[(TIMING_NOW, _("Publish now")), (TIMING_NEW, _("Publish at a new time"))],
        widget=forms.RadioSelect,
    )
    new_time = _local_time(_("New time"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        new_time_missing = not data.get("new_time") and "new_time" not in self.errors
        if data.get("decision") == self.APPROVE and data.get("timing") == self.TIMING_NEW and new_time_missing:
            self.add_error("new_time", _("Choose the new time."))
        return data


class LinkDecisionForm(DecisionForm):
    """The public review page: the same, with the reviewer's name."""

    name = forms.CharField(label=_("Your name"), max_length=NAME_MAX)


class ReviewLinkForm(forms.Form):
    reviewer_name = forms.CharField(label=_("Reviewer's name"), max_length=NAME_MAX, required=False)
    reviewer_email = forms.EmailField(
        label=_("Reviewer's e-mail"),
        required=False,
        help_text=_("Optional. The link is sent to this address; you can also copy it yourself."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("reviewer_name") or "").strip() and not data.get("reviewer_email") and not self.errors:
            raise forms.ValidationError(_("Enter the reviewer's name or e-mail address."))
        return data


class ApprovalSettingsForm(forms.Form):
    required = forms.BooleanField(
        label=_("Posts need approval before they go out"),
        required=False,
        help_text=_(
            "Editors submit posts; a reviewer (a member who may comment, other than the author) or "
            "someone with a review link approves them or asks for changes."
        ),
    )
    link_days = forms.IntegerField(
        label=_("Review links expire after (days)"),
        min_value=1,
        max_value=LINK_DAYS_MAX,
    )
    hold_scheduled = forms.BooleanField(
        label=_("Also send the posts already scheduled for approval"),
        required=False,
    )
