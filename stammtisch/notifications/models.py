"""Notifications of one user in one workspace, and each user's choices per workspace and kind.

See docs/notifications.md. A notification keeps data, not text (`kinds.render` turns it into a
title and body in the reader's language), and the e-mail bookkeeping the worker needs: when the
mail is due (`email_due_at`, null when nothing is to be sent), the lease of the worker sending it,
and when it went out (`emailed_at`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.notifications.kinds import EmailMode, render


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    # Parameters of the title and body (channel name, post excerpt, error, ...), never secrets.
    data = models.JSONField(default=dict, blank=True)
    # How many events this notification stands for (aggregated under one `dedup_key`).
    count = models.PositiveIntegerField(default=1)
    link = models.CharField(max_length=500, blank=True)  # an internal path, "/w/<slug>/..."
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # Events with the same key for the same recipient become one notification ("" = never merged).
    dedup_key = models.CharField(max_length=200, blank=True)
    in_app = models.BooleanField(default=True)  # False: only sent by e-mail, not under the bell
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)  # the latest event
    read_at = models.DateTimeField(null=True, blank=True)
    email = models.CharField(max_length=10, choices=EmailMode.choices, default=EmailMode.OFF)
    email_due_at = models.DateTimeField(null=True, blank=True)
    email_lease_owner = models.CharField(max_length=64, blank=True)
    email_lease_until = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread_idx"),
            models.Index(fields=["recipient", "-updated_at"], name="notification_list_idx"),
            models.Index(fields=["email_due_at"], name="notification_email_due_idx"),
            models.Index(fields=["updated_at"], name="notification_age_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedup_key"],
                condition=~Q(dedup_key=""),
                name="one_notification_per_dedup_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.recipient_id} ({self.count})"

    @property
    def title(self) -> str:
        return render(self.kind, self.data, self.count)[0]

    @property
    def body(self) -> str:
        return render(self.kind, self.data, self.count)[1]

    @property
    def is_unread(self) -> bool:
        return self.read_at is None


class NotificationPreference(models.Model):
    """A user's choice for one kind in one workspace. No row: the kind's defaults (kinds.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    in_app = models.BooleanField(_("in the app"), default=True)
    email = models.CharField(_("by e-mail"), max_length=10, choices=EmailMode.choices, default=EmailMode.IMMEDIATE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace", "kind"], name="one_preference_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id} in workspace {self.workspace_id}: {self.email}"
