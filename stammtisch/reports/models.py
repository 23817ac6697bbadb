"""Reports: a workspace's week or month as a PDF, the schedules that e-mail them to stakeholders,
and read-only share links (docs/reports.md).

A `Report` is due work: the worker claims it with a lease, computes its figures (stored in
`data`, so the PDF, the page and a share link all show the same snapshot), renders the PDF and
stores it. A failure is stored with its error and tried again after a backoff; after
`MAX_ATTEMPTS` the report is `failed` and waits, visibly, for someone to press "Retry". A
`ReportMailing` is the e-mail of one report to a schedule's recipients, sent (and retried) the
same way once its report is done.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace


class Kind(models.TextChoices):
    WEEK = "week", _("Weekly")
    MONTH = "month", _("Monthly")


def report_file_path(instance: Report, filename: str) -> str:
    return f"reports/{instance.workspace_id}/{secrets.token_hex(8)}-{filename}"


class ReportSchedule(models.Model):
    """Send the report of each past week (every Monday) or month (every 1st) to `recipients`."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("how often"), max_length=8, choices=Kind.choices, default=Kind.WEEK)
    recipients = models.JSONField(_("recipients"), default=list)  # validated e-mail addresses
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    active = models.BooleanField(_("active"), default=True)
    next_run_at = models.DateTimeField()  # when the next report is made (claimed with a conditional UPDATE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "pk"]
        indexes = [models.Index(fields=["active", "next_run_at"], name="report_schedule_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind} report of workspace {self.workspace_id} to {len(self.recipients)} recipients"


class Report(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be generated")
        RUNNING = "running", _("Being generated")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    first_day = models.DateField()  # the period's local days, both included
    last_day = models.DateField()
    language = models.CharField(max_length=8, choices=settings.LANGUAGES)
    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # counted when claimed
    last_error = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)  # the figures (reports/content.py)
    file = models.FileField(upload_to=report_file_path, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    OPEN = (State.PENDING, State.RUNNING)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A schedule makes one report per period, however many workers run.
            models.UniqueConstraint(
                fields=["schedule", "first_day"],
                condition=models.Q(schedule__isnull=False),
                name="one_report_per_schedule_and_period",
            )
        ]
        indexes = [
            models.Index(fields=["state", "due_at", "id"], name="report_claim_idx"),
            models.Index(fields=["workspace", "-created_at"], name="report_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} report {self.first_day}..{self.last_day} ({self.language}): {self.state}"


class ReportMailing(models.Model):
    """One report e-mailed (as a PDF attachment) to a schedule's recipients, one mail each;
    `sent_to` grows as mails go out, so a retry only mails the rest."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="mailings")
    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="mailings"
    )
    recipients = models.JSONField(default=list)
    sent_to = models.JSONField(default=list)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # failed sends
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "due_at", "id"], name="report_mailing_claim_idx")]

    def __str__(self) -> str:
        return f"report {self.report_id} to {len(self.recipients)} recipients: {self.state}"

    @property
    def unsent(self) -> list[str]:
        done = {address.lower() for address in self.sent_to}
        return [address for address in self.recipients if address.lower() not in done]


class ReportShare(models.Model):
    """A read-only link to one report for people without an account. Only the token's hash is
    stored; the link shows nothing but that report, and stops working when revoked or expired."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="shares")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: until revoked
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"share link of report {self.report_id}"

    @property
    def status(self) -> str:
        """ "revoked", "expired" or "active"."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"
