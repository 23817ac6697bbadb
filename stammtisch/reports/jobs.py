"""The worker job "reports" (core/worker.py): make the reports schedules ask for, generate the
reports that are due, e-mail the finished ones (docs/reports.md "How the worker makes them").

Reports and mailings are rows claimed with a lease, as the publisher claims deliveries: on
PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` and an UPDATE, on SQLite a conditional UPDATE.
A claim counts an attempt. A failure is stored on the row with its error and tried again after
a backoff (1, 2, 4, 8 minutes for a report; 2, 4, 8, 16 for a mail); after `MAX_ATTEMPTS` the
row is `failed`, shown with its error and a "Retry" button, never dropped. A worker that dies
while generating leaves a row whose lease expires; the next worker takes it over (its attempt
counted). Every function takes `now`, so tests drive the job without threads or sleeps.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from stammtisch.reports import actions, content, render
from stammtisch.reports.models import Report, ReportMailing, ReportSchedule
from stammtisch.reports.pdf import PdfUnavailable
from stammtisch.reports.periods import Period

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5  # claims of a report, and sends of a mailing, before it is marked failed
REPORT_RETRY = dt.timedelta(minutes=1)  # 1, 2, 4, 8 minutes
MAIL_RETRY = dt.timedelta(minutes=2)  # 2, 4, 8, 16 minutes
TIME_BUDGET = 10.0  # seconds of work per run: the worker publishes between runs
SCHEDULE_BATCH = 50


def _backoff(base: dt.timedelta, attempts: int) -> dt.timedelta:
    return base * (2 ** max(attempts - 1, 0))


def _claim(
    model: type[models.Model], due: Q, worker: str, running: str, wall: dt.datetime, *, count_attempt: bool
) -> int | None:
    """Lease the oldest due row of `model` to `worker`; its id, or None if there is none (or
    another worker won it)."""
    lease: dict[str, Any] = {"state": running, "lease_owner": worker, "lease_until": wall + LEASE}
    if count_attempt:
        lease["attempts"] = F("attempts") + 1
    manager = model._default_manager
    with transaction.atomic():
        rows = manager.filter(due).order_by("due_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            pk = rows.select_for_update(skip_locked=True, of=("self",)).values_list("id", flat=True).first()
            if pk is None:
                return None
            manager.filter(pk=pk).update(**lease)
            return int(pk)
        # SQLite: the UPDATE checks `due` again, so of two workers only one wins the row.
        pk = rows.values_list("id", flat=True).first()
        if pk is None or not manager.filter(due, pk=pk).update(**lease):
            return None
        return int(pk)


# --- Schedules ------------------------------------------------------------------------------------


def schedule_due(now: dt.datetime) -> int:
    """Ask for the report of the last complete period of every due schedule (with a mailing to
    its recipients), and move the schedule to its next run. A worker that was down for weeks
    sends only the latest period, not a backlog. Returns the reports asked for."""
    made = 0
    due = ReportSchedule.objects.filter(active=True, next_run_at__lte=now).select_related("workspace")
    for schedule in due.order_by("next_run_at", "pk")[:SCHEDULE_BATCH]:
        following = actions.next_run(schedule.kind, schedule.workspace, now)
        with transaction.atomic():
            # A conditional UPDATE: of two workers, only one moves the schedule on and proceeds.
            won = ReportSchedule.objects.filter(pk=schedule.pk, next_run_at=schedule.next_run_at).update(
                next_run_at=following
            )
            if not won:
                continue
            period = Period.last_complete(schedule.kind, actions.today_in(schedule.workspace, now))
            try:
                with transaction.atomic():
                    report = Report.objects.create(
                        workspace=schedule.workspace,
                        kind=schedule.kind,
                        first_day=period.first,
                        last_day=period.last,
                        language=schedule.language,
                        schedule=schedule,
                        due_at=now,
                    )
            except IntegrityError:
                continue  # this period's report exists already (the schedule ran for it before)
            ReportMailing.objects.create(
                workspace=schedule.workspace,
                report=report,
                schedule=schedule,
                recipients=list(schedule.recipients),
                due_at=now,
            )
            made += 1
    return made


# --- Generating -------------------------------------------------------------------------------------


def _report_due(now: dt.datetime, wall: dt.datetime) -> Q:
    return Q(state=Report.State.PENDING, due_at__lte=now) | Q(state=Report.State.RUNNING, lease_until__lt=wall)


def claim_report(worker: str, now: dt.datetime) -> int | None:
    wall = timezone.now()
    return _claim(Report, _report_due(now, wall), worker, Report.State.RUNNING, wall, count_attempt=True)


def _held(worker: str, pk: int) -> models.QuerySet[Report]:
    return Report.objects.filter(pk=pk, lease_owner=worker, state=Report.State.RUNNING)


def _fail_or_retry(worker: str, report: Report, error: str, now: dt.datetime, *, permanent: bool = False) -> None:
    error = error.strip()[:500] or "error"
    if permanent or report.attempts >= MAX_ATTEMPTS:
        log.error("report %s failed for good after %d attempts: %s", report.pk, report.attempts, error)
        _held(worker, report.pk).update(
            state=Report.State.FAILED, last_error=error, lease_owner="", lease_until=None, finished_at=now
        )
        return
    log.warning("report %s failed (attempt %d), retrying: %s", report.pk, report.attempts, error)
    _held(worker, report.pk).update(
        state=Report.State.PENDING,
        last_error=error,
        lease_owner="",
        lease_until=None,
        due_at=now + _backoff(REPORT_RETRY, report.attempts),
    )


def generate(worker: str, pk: int, now: dt.datetime) -> bool:
    """Compute the figures of a claimed report, render its PDF and store both; False if it
    failed (stored on the row, to be retried or shown)."""
    report = Report.objects.select_related("workspace").get(pk=pk)
    if report.attempts > MAX_ATTEMPTS:
        # Claimed again and again without finishing: a worker died while generating it each time.
        _fail_or_retry(worker, report, "The worker stopped while generating this report.", now, permanent=True)
        return False
    try:
        period = Period(report.kind, report.first_day, report.last_day)
        report.data = content.build(report.workspace, period, now)
        document = render.render_pdf(report)
    except PdfUnavailable as error:
        _fail_or_retry(worker, report, str(error), now, permanent=True)
        return False
    except Exception as error:  # a bug or a database hiccup: stored, retried, never lost
        log.exception("generating report %s failed", report.pk)
        _fail_or_retry(worker, report, f"{type(error).__name__}: {error}", now)
        return False
    old_file = report.file.name
    report.file.save(render.filename(report), ContentFile(document), save=False)
    stored = _held(worker, pk).update(
        state=Report.State.DONE,
        data=report.data,
        file=report.file.name,
        last_error="",
        lease_owner="",
        lease_until=None,
        finished_at=timezone.now(),
    )
    if not stored:  # another worker took the report over meanwhile; its result counts
        report.file.storage.delete(report.file.name)
        return False
    if old_file:
        report.file.storage.delete(old_file)
    return True


# --- Mailing ------------------------------------------------------------------------------------------


def _mailing_due(now: dt.datetime, wall: dt.datetime) -> Q:
    return Q(state=ReportMailing.State.PENDING, due_at__lte=now, report__state=Report.State.DONE) | Q(
        state=ReportMailing.State.SENDING, lease_until__lt=wall
    )


def claim_mailing(worker: str, now: dt.datetime) -> int | None:
    wall = timezone.now()
    return _claim(
        ReportMailing, _mailing_due(now, wall), worker, ReportMailing.State.SENDING, wall, count_attempt=False
    )


def build_message(report: Report, recipient: str) -> EmailMessage:
    """The mail of one report to one recipient, in the report's language, with the PDF."""
    tz = zoneinfo.ZoneInfo(report.data["workspace"]["time_zone"])
    with translation.override(report.language), timezone.override(tz):
        values = render.context(report.data, report.language)
        subject = f"{values['title']}: {values['workspace_name']}, {values['period_label']}"
        body = render_to_string("reports/email/report.txt", values)
    with report.file.open("rb") as handle:
        attachment = handle.read()
    message = EmailMessage(
        subject=" ".join(subject.split()), body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[recipient]
    )
    message.attach(render.filename(report), attachment, "application/pdf")
    return message


def send(worker: str, pk: int, now: dt.datetime) -> bool:
    """Mail a claimed mailing's report to each recipient not mailed yet, recording each right
    after it went out (so a retry mails only the rest); False if a send failed."""
    mailing = ReportMailing.objects.select_related("report", "workspace").get(pk=pk)
    held = ReportMailing.objects.filter(pk=pk, lease_owner=worker, state=ReportMailing.State.SENDING)
    sent_to = list(mailing.sent_to)
    for recipient in mailing.unsent:
        try:
            build_message(mailing.report, recipient).send()
        except Exception as error:  # the mail server refused or is down, or the PDF is gone
            attempts = mailing.attempts + 1
            text = f"{recipient}: {type(error).__name__}: {error}"[:500]
            if attempts >= MAX_ATTEMPTS:
                log.error("report mailing %s failed for good: %s", pk, text)
                held.update(
                    state=ReportMailing.State.FAILED,
                    attempts=attempts,
                    last_error=text,
                    lease_owner="",
                    lease_until=None,
                )
            else:
                log.warning("report mailing %s failed (attempt %d), retrying: %s", pk, attempts, text)
                held.update(
                    state=ReportMailing.State.PENDING,
                    attempts=attempts,
                    last_error=text,
                    lease_owner="",
                    lease_until=None,
                    due_at=now + _backoff(MAIL_RETRY, attempts),
                )
            return False
        sent_to.append(recipient)
        if not held.update(sent_to=sent_to):
            log.warning("report mailing %s: mail sent after the lease was lost; it may be sent again", pk)
            return False
    held.update(state=ReportMailing.State.SENT, sent_at=timezone.now(), last_error="", lease_owner="", lease_until=None)
    return True


# --- The job --------------------------------------------------------------------------------------------


def run_due(
    worker: str,
    *,
    now: dt.datetime | None = None,
    budget: float = TIME_BUDGET,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """One run of the job: schedules, then reports, then mails, for at most `budget` seconds.
    Returns the reports generated and mailings sent."""
    now = now or timezone.now()
    deadline = time.monotonic() + budget

    def stop() -> bool:
        return should_stop() or time.monotonic() > deadline

    schedule_due(now)
    done = 0
    while not stop():
        pk = claim_report(worker, now)
        if pk is None:
            break
        done += generate(worker, pk, now)
    while not stop():
        pk = claim_mailing(worker, now)
        if pk is None:
            break
        done += send(worker, pk, now)
    return done
