from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.core.roles import Perm
from stammtisch.inbox.actions import MAX_REPLY
from stammtisch.inbox.models import Conversation, Intent, Language, Sentiment
from stammtisch.networks.models import Channel

ANY = [("", _("All"))]


class FilterForm(forms.Form):
    """The list's filters; every field is optional and an unknown value is simply ignored."""

    channel = forms.TypedChoiceField(label=_("Channel"), required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=ANY + list(Conversation.Status.choices))
    sentiment = forms.ChoiceField(label=_("Sentiment"), required=False, choices=ANY + list(Sentiment.choices))
    intent = forms.ChoiceField(label=_("Intent"), required=False, choices=ANY + list(Intent.choices))
    language = forms.ChoiceField(label=_("Language"), required=False, choices=ANY + list(Language.choices))
    assignee = forms.ChoiceField(label=_("Assigned to"), required=False)
    sla = forms.ChoiceField(
        label=_("SLA"),
        required=False,
        choices=[*ANY, ("over", _("Over SLA")), ("due_soon", _("About to breach"))],
    )
    order = forms.ChoiceField(
        label=_("Order"), required=False, choices=[("newest", _("Newest first")), ("oldest", _("Oldest first"))]
    )
    # Team tools (docs/inbox.md): a workspace label, and the messages hidden in Stammtisch.
    label = forms.ChoiceField(label=_("Label"), required=False)
    hidden = forms.ChoiceField(
        label=_("Hidden"), required=False, choices=[("", _("Not shown")), ("1", _("Only hidden"))]
    )
    # A segment of people (audience/segments.py): conversations with a text by one of them.
    segment = forms.TypedChoiceField(label=_("Segment"), required=False, coerce=int, empty_value=None)

    def __init__(
        self,
        *args: Any,
        channels: list[Channel],
        members: list[Any],
        labels: list[str] | None = None,
        segments: list[tuple[int, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = ANY + list(segments or [])  # type: ignore[attr-defined]
        self.fields["label"].choices = ANY + [(name, name) for name in labels or []]  # type: ignore[attr-defined]
        self.fields["channel"].choices = ANY + [(c.pk, str(c)) for c in channels]  # type: ignore[attr-defined]
        self.fields["assignee"].choices = (  # type: ignore[attr-defined]
            ANY
            + [("me", _("Me")), ("none", _("Nobody"))]
            + [(str(m.user_id), m.user.get_full_name() or m.user.get_username()) for m in members]
        )


class ReplyForm(forms.Form):
    text = forms.CharField(label=_("Reply"), max_length=MAX_REPLY, widget=forms.Textarea(attrs={"rows": 4}))
    to = forms.IntegerField(required=False, widget=forms.HiddenInput)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Conversation.Status.choices)


class AssignForm(forms.Form):
    member = forms.ChoiceField(label=_("Assign to"), required=False)

    def __init__(self, *args: Any, members: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [("", _("Nobody"))] + [  # type: ignore[attr-defined]
            (str(m.pk), m.user.get_full_name() or m.user.get_username()) for m in members if m.can(Perm.EDIT)
        ]


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Internal note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class LabelForm(forms.Form):
    field = forms.ChoiceField(choices=[("language", "language"), ("sentiment", "sentiment"), ("intent", "intent")])
    value = forms.CharField(max_length=20)


class SavedReplyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    text = forms.CharField(
        label=_("Text"),
        max_length=MAX_REPLY,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("{first_name}, {name} and {handle} are replaced by the person's first name, name and handle."),
    )
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
