"""The inbox's team tools (docs/inbox.md "Rules", "Saved views", "Reply approval", "Network
actions"): rules run on new incoming messages, labels on conversations, saved list filters, the
workspace's inbox settings and the record of like/hide/delete calls to the networks.

Imported by `models.py`, so Django finds these models in the `inbox` app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel

LABEL_MAX = 40


class Rule(models.Model):
    """When a new incoming message matches every set condition, do every set action.

    Empty conditions match anything; a rule needs at least one condition and one action."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="inbox_rules")
    name = models.CharField(_("name"), max_length=120)
    enabled = models.BooleanField(_("enabled"), default=True)
    position = models.PositiveIntegerField(default=0)
    # Conditions (all that are set must match):
    intent = models.CharField(_("intent is"), max_length=20, blank=True)
    sentiment = models.CharField(_("sentiment is"), max_length=10, blank=True)
    language = models.CharField(_("language is"), max_length=8, blank=True)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("channel is")
    )
    # Actions:
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("assign to"),
    )
    hide = models.BooleanField(_("hide the message in Stammtisch"), default=False)
    label = models.CharField(_("add the label"), max_length=LABEL_MAX, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    matched = models.PositiveIntegerField(default=0)  # how many messages it acted on
    last_matched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class ConversationLabel(models.Model):
    """A workspace's own tag on a conversation ("Reservierung", "Lieferung"), by a member or a rule."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey("inbox.Conversation", on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(_("label"), max_length=LABEL_MAX)
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["conversation", "name"], name="one_label_per_conversation")]
        indexes = [models.Index(fields=["workspace", "name"], name="inbox_label_name")]

    def __str__(self) -> str:
        return self.name


class SavedView(models.Model):
    """A named set of list filters (the list's query string), a member's own or shared with the
    workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=60)
    query = models.CharField(max_length=1000, blank=True)
    shared = models.BooleanField(_("shared with the workspace"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class InboxSettings(models.Model):
    """Per-workspace inbox settings (created on first save; absent means the defaults)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="inbox_settings")
    replies_need_approval = models.BooleanField(
        _("Replies by editors need approval"),
        default=False,
        help_text=_("A reviewer, an admin or the owner approves a reply before it is sent."),
    )

    def __str__(self) -> str:
        return f"inbox settings of {self.workspace_id}"


class NetworkAction(models.Model):
    """One like, hide, unhide or delete of a message on the network, with its outcome."""

    class Kind(models.TextChoices):
        LIKE = "like", _("Like")
        HIDE = "hide", _("Hide on the network")
        UNHIDE = "unhide", _("Show again on the network")
        DELETE = "delete", _("Delete on the network")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey("inbox.Message", on_delete=models.CASCADE, related_name="network_actions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} of message {self.message_id}"
