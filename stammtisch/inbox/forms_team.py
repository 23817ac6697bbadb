"""Forms of the inbox's team tools (rules, inbox settings)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stammtisch.core.roles import Perm
from stammtisch.inbox.models import Intent, Language, Sentiment

ANY = [("", _("Any"))]


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    intent = forms.ChoiceField(label=_("When the intent is"), required=False, choices=ANY + list(Intent.choices))
    sentiment = forms.ChoiceField(
        label=_("and the sentiment is"), required=False, choices=ANY + list(Sentiment.choices)
    )
    language = forms.ChoiceField(label=_("and the language is"), required=False, choices=ANY + list(Language.choices))
    channel = forms.TypedChoiceField(
        label=_("and the channel is"), required=False, coerce=int, empty_value=None, choices=ANY
    )
    assign_to = forms.TypedChoiceField(
        label=_("then assign to (and notify)"), required=False, coerce=int, empty_value=None, choices=ANY
    )
    hide = forms.BooleanField(label=_("hide the message in Stammtisch (undo on the message)"), required=False)
    label = forms.CharField(label=_("add the label"), max_length=40, required=False)

    def __init__(self, *args: Any, channels: list[Any], members: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channels = {c.pk: c for c in channels}
        self.members = {m.user_id: m.user for m in members if m.can(Perm.EDIT)}
        self.fields["channel"].choices = ANY + [(c.pk, str(c)) for c in channels]  # type: ignore[attr-defined]
        self.fields["assign_to"].choices = [("", _("Nobody"))] + [  # type: ignore[attr-defined]
            (pk, user.get_full_name() or user.get_username()) for pk, user in self.members.items()
        ]

    def values(self) -> dict[str, Any]:
        """The cleaned data with the channel and the member as objects, for the rules actions."""
        data = dict(self.cleaned_data)
        data["channel"] = self.channels.get(data["channel"]) if data.get("channel") else None
        data["assign_to"] = self.members.get(data["assign_to"]) if data.get("assign_to") else None
        return data


class InboxSettingsForm(forms.Form):
    replies_need_approval = forms.BooleanField(
        label=_("Replies by editors need approval"),
        required=False,
        help_text=_(
            "A reviewer, an admin or the owner approves a reply before it is sent. Replies by admins, "
            "owners and reviewers are sent at once."
        ),
    )
