"""Writes of the reports app: asking for a report, retrying one, share links, schedules and
their mailings. Each checks the actor's permission and writes the audit log; the work itself
(generating, mailing) is done by the worker (reports/jobs.py)."""

from __future__ import annotations

import datetime as dt
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from stammtisch.core.actions import AUDIT_ACTIONS, ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace, hash_token
from stammtisch.core.roles import Perm
from stammtisch.reports import pdf
from stammtisch.reports.models import Kind, Report, ReportMailing, ReportSchedule, ReportShare
from stammtisch.reports.periods import Period

AUDIT_ACTIONS.update(
    {
        "report.request": gettext_lazy("Report requested"),
        "report.retry": gettext_lazy("Report generation retried"),
        "report_share.create": gettext_lazy("Report share link created"),
        "report_share.revoke": gettext_lazy("Report share link revoked"),
        "report_schedule.create": gettext_lazy("Report schedule created"),
        "report_schedule.update": gettext_lazy("Report schedule changed"),
        "report_schedule.delete": gettext_lazy("Report schedule deleted"),
        "report_schedule.send_now": gettext_lazy("Report e-mailed now"),
        "report_mailing.retry": gettext_lazy("Report e-mail retried"),
    }
)

MAX_RECIPIENTS = 20
MAX_SHARE_DAYS = 365
SEPARATORS = re.compile(r"[\s,;]+")


def today_in(workspace: Workspace, now: dt.datetime | None = None) -> dt.date:
    return timezone.localtime(now or timezone.now(), workspace.tz).date()


def parse_recipients(text: str) -> list[str]:
    """E-mail addresses separated by commas, semicolons, spaces or lines; duplicates (ignoring
    case) dropped. `ActionError` naming the first address that is not one."""
    addresses: list[str] = []
    seen: set[str] = set()
    for item in SEPARATORS.split(text or ""):
        address = item.strip().strip("<>")
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ActionError(_("“%(address)s” is not an e-mail address.") % {"address": address[:100]}) from None
        if address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    if not addresses:
        raise ActionError(_("Enter at least one e-mail address."))
    if len(addresses) > MAX_RECIPIENTS:
        raise ActionError(_("At most %(max)s recipients per schedule.") % {"max": MAX_RECIPIENTS})
    return addresses


def _check_language(language: str) -> None:
    if language not in dict(settings.LANGUAGES):
        raise ActionError(_("Choose one of the languages offered."))


# --- Reports ------------------------------------------------------------------------------------


def do_request_report(actor: Actor, workspace: Workspace, period: Period, language: str) -> Report:
    """Ask the worker for the report of `period` (a complete week or month) in `language`."""
    require_perm(actor, workspace, Perm.VIEW)
    _check_language(language)
    reason = pdf.unavailable_reason()
    if reason is not None:
        raise ActionError(reason)
    if period.last >= today_in(workspace):
        raise ActionError(_("Choose a week or month that is over."))
    with transaction.atomic():
        open_one = Report.objects.filter(
            workspace=workspace,
            kind=period.kind,
            first_day=period.first,
            language=language,
            state__in=Report.OPEN,
        ).exists()
        if open_one:
            raise ActionError(_("This report is being generated already."))
        report = Report.objects.create(
            workspace=workspace,
            kind=period.kind,
            first_day=period.first,
            last_day=period.last,
            language=language,
            requested_by=actor.user if actor.user is not None and actor.user.pk else None,  # type: ignore[misc]
        )
        audit(
            actor,
            "report.request",
            workspace=workspace,
            obj=report,
            summary=f"{period.kind} {period.first.isoformat()} ({language})",
        )
    return report


def do_retry_report(actor: Actor, report: Report) -> Report:
    """A failed report goes back to the worker at once, with its attempts counted from zero."""
    require_perm(actor, report.workspace, Perm.VIEW)
    if report.state != Report.State.FAILED:
        raise ActionError(_("Only a failed report can be retried."))
    with transaction.atomic():
        Report.objects.filter(pk=report.pk, state=Report.State.FAILED).update(
            state=Report.State.PENDING, attempts=0, due_at=timezone.now(), lease_owner="", lease_until=None
        )
        audit(actor, "report.retry", workspace=report.workspace, obj=report, summary=report.last_error[:200])
    report.refresh_from_db()
    return report


# --- Share links ----------------------------------------------------------------------------------


def do_create_share(actor: Actor, report: Report, expires_days: int | None) -> tuple[ReportShare, str]:
    """A read-only link to `report`; returns the share and its token (shown once: only its hash
    is stored)."""
    require_perm(actor, report.workspace, Perm.EDIT)
    if report.state != Report.State.DONE:
        raise ActionError(_("Only a finished report can be shared."))
    if expires_days is not None and not 1 <= expires_days <= MAX_SHARE_DAYS:
        raise ActionError(_("A link expires after 1 to %(max)s days, or never.") % {"max": MAX_SHARE_DAYS})
    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + dt.timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        share = ReportShare.objects.create(
            workspace=report.workspace,
            report=report,
            token_hash=hash_token(token),
            created_by=actor.user if actor.user is not None and actor.user.pk else None,  # type: ignore[misc]
            expires_at=expires_at,
        )
        audit(
            actor,
            "report_share.create",
            workspace=report.workspace,
            obj=share,
            summary=f"report {report.pk}",
            data={"report": report.pk, "expires_at": expires_at.isoformat() if expires_at else None},
        )
    return share, token


def do_revoke_share(actor: Actor, share: ReportShare) -> None:
    require_perm(actor, share.workspace, Perm.EDIT)
    if share.revoked_at is not None:
        return
    with transaction.atomic():
        ReportShare.objects.filter(pk=share.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit(actor, "report_share.revoke", workspace=share.workspace, obj=share, summary=f"report {share.report_id}")
    share.refresh_from_db()


def find_share(token: str, now: dt.datetime | None = None) -> ReportShare | None:
    """The usable share link for `token`: not revoked, not expired, of a finished report. Unknown,
    revoked and expired links look the same (None)."""
    if not token or len(token) > 200:
        return None
    share = ReportShare.objects.select_related("report", "workspace").filter(token_hash=hash_token(token)).first()
    if share is None or share.revoked_at is not None or share.report.state != Report.State.DONE:
        return None
    if share.expires_at is not None and share.expires_at <= (now or timezone.now()):
        return None
    if share.report.workspace_id != share.workspace_id:
        return None
    return share


# --- Schedules ------------------------------------------------------------------------------------


def next_run(kind: str, workspace: Workspace, after: dt.datetime) -> dt.datetime:
    """When a schedule of `kind` runs next after `after`: the start of the next week (Monday) or
    month (the 1st) at `STAMMTISCH_REPORT_HOUR` in the workspace's time zone."""
    tz = workspace.tz
    local = timezone.localtime(after, tz)
    period = Period.containing(kind, local.date())
    for first in (period.first, period.last + dt.timedelta(days=1)):
        when = dt.datetime.combine(first, dt.time(settings.REPORT_HOUR), tzinfo=tz)
        if when > after:
            return when
    raise AssertionError("unreachable: the next period starts after `after`")  # pragma: no cover


def do_save_schedule(
    actor: Actor,
    workspace: Workspace,
    *,
    schedule: ReportSchedule | None,
    kind: str,
    recipients: str,
    language: str,
    active: bool,
) -> ReportSchedule:
    require_perm(actor, workspace, Perm.EDIT)
    if kind not in Kind.values:
        raise ActionError(_("Choose weekly or monthly."))
    _check_language(language)
    addresses = parse_recipients(recipients)
    now = timezone.now()
    with transaction.atomic():
        if schedule is None:
            schedule = ReportSchedule.objects.create(
                workspace=workspace,
                kind=kind,
                recipients=addresses,
                language=language,
                active=active,
                next_run_at=next_run(kind, workspace, now),
                created_by=actor.user if actor.user is not None and actor.user.pk else None,  # type: ignore[misc]
            )
            action = "report_schedule.create"
        else:
            if kind != schedule.kind or (active and not schedule.active):
                schedule.next_run_at = next_run(kind, workspace, now)
            schedule.kind, schedule.recipients, schedule.language, schedule.active = kind, addresses, language, active
            schedule.save()
            action = "report_schedule.update"
        audit(
            actor,
            action,
            workspace=workspace,
            obj=schedule,
            summary=f"{kind}, {len(addresses)} recipients",
            data={"kind": kind, "recipients": len(addresses), "language": language, "active": active},
        )
    return schedule


def do_delete_schedule(actor: Actor, schedule: ReportSchedule) -> None:
    require_perm(actor, schedule.workspace, Perm.EDIT)
    with transaction.atomic():
        audit(actor, "report_schedule.delete", workspace=schedule.workspace, obj=schedule, summary=schedule.kind)
        schedule.delete()


def do_send_now(actor: Actor, schedule: ReportSchedule) -> ReportMailing:
    """Generate the report of the last complete period and e-mail it to the schedule's
    recipients now (besides the schedule's regular runs)."""
    require_perm(actor, schedule.workspace, Perm.EDIT)
    workspace = schedule.workspace
    reason = pdf.unavailable_reason()
    if reason is not None:
        raise ActionError(reason)
    period = Period.last_complete(schedule.kind, today_in(workspace))
    with transaction.atomic():
        report = Report.objects.create(
            workspace=workspace,
            kind=period.kind,
            first_day=period.first,
            last_day=period.last,
            language=schedule.language,
            requested_by=actor.user if actor.user is not None and actor.user.pk else None,  # type: ignore[misc]
        )
        mailing = ReportMailing.objects.create(
            workspace=workspace, report=report, schedule=schedule, recipients=list(schedule.recipients)
        )
        audit(
            actor,
            "report_schedule.send_now",
            workspace=workspace,
            obj=schedule,
            summary=f"{period.kind} {period.first.isoformat()}, {len(schedule.recipients)} recipients",
        )
    return mailing


def do_retry_mailing(actor: Actor, mailing: ReportMailing) -> None:
    require_perm(actor, mailing.workspace, Perm.EDIT)
    if mailing.state != ReportMailing.State.FAILED:
        raise ActionError(_("Only a failed e-mail can be retried."))
    with transaction.atomic():
        ReportMailing.objects.filter(pk=mailing.pk, state=ReportMailing.State.FAILED).update(
            state=ReportMailing.State.PENDING, attempts=0, due_at=timezone.now(), lease_owner="", lease_until=None
        )
        audit(actor, "report_mailing.retry", workspace=mailing.workspace, obj=mailing, summary=mailing.last_error[:200])
