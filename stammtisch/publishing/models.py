from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel


class Post(models.Model):
    """A piece of content for one or more channels. Each channel gets a Delivery."""

    class Purpose(models.TextChoices):
        VALUE = "value", _("Value content")
        PROMOTION = "promotion", _("Promotion")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        PUBLISHING = "publishing", _("Being published")
        PUBLISHED = "published", _("Published")
        PARTIAL = "partial", _("Partly published")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(_("text"))
    link = models.URLField(_("link"), blank=True, max_length=2000)
    pillar = models.CharField(_("content pillar"), max_length=60, blank=True)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices, default=Purpose.VALUE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_at", "-created_at"]
        indexes = [
            models.Index(fields=["workspace", "scheduled_at"]),  # the calendar's range scans
            models.Index(fields=["workspace", "pillar"]),  # the calendar's pillar filter and its choices
        ]

    def __str__(self) -> str:
        return self.text[:60]


class Delivery(models.Model):
    """One post on one channel, with the publisher's state machine (docs/publishing.md).

    `due_at` is null while the post is a draft; the publisher claims rows whose `due_at` has come
    (see `stammtisch.publishing.publisher`).
    """

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        PUBLISHING = "publishing", _("Being published")
        PUBLISHED = "published", _("Published")
        RETRY_WAIT = "retry_wait", _("Waiting to retry")
        UNKNOWN = "unknown", _("Outcome unknown, checking")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    text = models.TextField(_("text for this channel"))
    state = models.CharField(max_length=16, choices=State.choices, default=State.SCHEDULED)
    due_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    remote_id = models.CharField(max_length=200, blank=True)
    remote_url = models.URLField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "channel"], name="one_delivery_per_channel")]
        indexes = [models.Index(fields=["state", "due_at", "id"], name="delivery_claim_idx")]

    def __str__(self) -> str:
        return f"{self.post_id} on {self.channel_id}: {self.state}"


class DeliveryAttempt(models.Model):
    """Recorded before every network call, completed after it.

    `kind` is `publish` (the call that may create the post) or `check` (asking the network
    whether an earlier attempt of unknown outcome went through, `find_published`).
    """

    class Kind(models.TextChoices):
        PUBLISH = "publish", _("Publish")
        CHECK = "check", _("Check")

    class Outcome(models.TextChoices):
        PUBLISHED = "published", _("Published")
        FOUND = "found", _("Found: it was published")
        NOT_FOUND = "not_found", _("Not found: not published")
        RETRY = "retry", _("Failed, will retry")
        UNKNOWN = "unknown", _("Outcome unknown")
        FAILED = "failed", _("Failed")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PUBLISH)
    worker = models.CharField(max_length=64)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.kind} of delivery {self.delivery_id} at {self.started_at:%Y-%m-%d %H:%M}"


class CalendarFeed(models.Model):
    """A secret iCal feed of one workspace's content plan for one member's calendar app.

    Only the SHA-256 hash of the token is stored: the URL is shown once, when it is made, and
    regenerating it replaces the hash, so the old URL stops working at once. The feed also stops
    when the user leaves the workspace (the view checks the membership on every request).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "workspace"], name="one_calendar_feed_per_member")]

    def __str__(self) -> str:
        return f"calendar feed of user {self.user_id} in workspace {self.workspace_id}"
