"""The worker job: reports retried with a backoff and never lost, a dead worker replaced, a
schedule asking once per period, mails with the PDF to each recipient, failed sends retried.

The PDF itself is replaced by a few bytes here (test_pdf.py makes real ones), so these stories
run without Pango."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.reports import actions, content, jobs, render
from stammtisch.reports.models import Report, ReportMailing, ReportSchedule
from stammtisch.reports.periods import DASH
from stammtisch.reports.tests.conftest import WEEK

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
FAKE_PDF = b"%PDF-1.7 a report\n%%EOF"


@pytest.fixture(autouse=True)
def _fake_pdf(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(render, "render_pdf", lambda report: FAKE_PDF)


def ask(workspace, language: str = "de") -> Report:  # type: ignore[no-untyped-def]
    return Report.objects.create(
        workspace=workspace, kind="week", first_day=WEEK.first, last_day=WEEK.last, language=language, due_at=NOW
    )


def test_a_report_is_generated_and_stored(cast) -> None:
    report = ask(cast.workspace)
    with time_machine.travel(NOW, tick=False):
        assert jobs.run_due("worker-1", now=NOW) == 1
    report.refresh_from_db()
    assert report.state == Report.State.DONE and report.attempts == 1 and report.last_error == ""
    assert report.data["period"]["first"] == "2026-06-01"
    with report.file.open("rb") as handle:
        assert handle.read() == FAKE_PDF


def test_a_failing_report_is_retried_with_a_backoff_then_shown_as_failed_never_lost(cast, monkeypatch) -> None:
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away")

    monkeypatch.setattr(content, "build", broken)
    report = ask(cast.workspace)
    when = NOW
    waits = []
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        with time_machine.travel(when, tick=False):
            assert jobs.run_due("worker-1", now=when) == 0
            assert jobs.run_due("worker-1", now=when) == 0  # not due again at once
        report.refresh_from_db()
        assert report.attempts == attempt
        assert report.last_error == "RuntimeError: the database went away"
        if attempt < jobs.MAX_ATTEMPTS:
            assert report.state == Report.State.PENDING
            waits.append((report.due_at - when).total_seconds() / 60)
            when = report.due_at
    assert waits == [1, 2, 4, 8]
    assert report.state == Report.State.FAILED

    # The failure is on the page, with the error and a "Retry" button; retrying starts afresh.
    client = client_for(cast.anna)
    page = client.get(reverse("reports:detail", args=[cast.workspace.slug, report.pk]), HTTP_ACCEPT_LANGUAGE="en")
    body = page.content.decode()
    assert "Failed" in body and "RuntimeError: the database went away" in body
    assert reverse("reports:retry", args=[cast.workspace.slug, report.pk]) in body
    monkeypatch.undo()
    monkeypatch.setattr(render, "render_pdf", lambda report: FAKE_PDF)
    response = client.post(reverse("reports:retry", args=[cast.workspace.slug, report.pk]))
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.state, report.attempts) == (Report.State.PENDING, 0)
    jobs.run_due("worker-1")
    report.refresh_from_db()
    assert report.state == Report.State.DONE and report.last_error == ""


def test_a_report_whose_worker_died_is_taken_over_when_the_lease_expires(cast) -> None:
    report = ask(cast.workspace)
    with time_machine.travel(NOW, tick=False):
        assert jobs.claim_report("worker-1", NOW) == report.pk  # ... and worker-1 dies here
        assert jobs.run_due("worker-2", now=NOW) == 0  # leased: nobody else touches it
    later = NOW + jobs.LEASE + dt.timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert jobs.run_due("worker-2", now=later) == 1
    report.refresh_from_db()
    assert report.state == Report.State.DONE and report.attempts == 2


def test_a_schedule_asks_once_per_period_and_moves_on(cast) -> None:
    monday = dt.datetime(2026, 6, 8, 7, 0, tzinfo=BERLIN)
    schedule = ReportSchedule.objects.create(
        workspace=cast.workspace, kind="week", recipients=["chef@example.org"], language="en", next_run_at=monday
    )
    with time_machine.travel(monday - dt.timedelta(minutes=1), tick=False):
        assert jobs.schedule_due(monday - dt.timedelta(minutes=1)) == 0
    with time_machine.travel(monday, tick=False):
        assert jobs.schedule_due(monday) == 1
        assert jobs.schedule_due(monday) == 0
        # A second worker that read the schedule before the first moved it on finds the report made.
        ReportSchedule.objects.filter(pk=schedule.pk).update(next_run_at=monday)
        assert jobs.schedule_due(monday) == 0
    [report] = Report.objects.all()
    assert (report.kind, report.first_day, report.last_day, report.language) == ("week", WEEK.first, WEEK.last, "en")
    assert report.schedule == schedule
    [mailing] = ReportMailing.objects.all()
    assert mailing.report == report and mailing.recipients == ["chef@example.org"]
    schedule.refresh_from_db()
    assert schedule.next_run_at == dt.datetime(2026, 6, 15, 7, 0, tzinfo=BERLIN)


def test_the_report_is_mailed_to_each_recipient_with_the_pdf(cast) -> None:
    report = ask(cast.workspace, "de")
    mailing = ReportMailing.objects.create(
        workspace=cast.workspace, report=report, recipients=["chef@example.org", "Beirat@example.org"], due_at=NOW
    )
    with time_machine.travel(NOW, tick=False):
        assert jobs.run_due("worker-1", now=NOW) == 2  # the report, then its mailing
    mailing.refresh_from_db()
    assert mailing.state == ReportMailing.State.SENT and mailing.sent_to == mailing.recipients
    assert [message.to for message in mail.outbox] == [["chef@example.org"], ["Beirat@example.org"]]
    message = mail.outbox[0]
    assert message.subject == f"Wochenbericht: Café Königsbau, Woche 23: 1. Juni 2026{DASH}7. Juni 2026"
    assert "Der Bericht ist als PDF angehängt." in message.body
    assert "0 Beiträge wurden veröffentlicht" in message.body
    [(name, data, mimetype)] = message.attachments
    assert (name, data, mimetype) == ("stammtisch-week-2026-06-01-de.pdf", FAKE_PDF, "application/pdf")


def test_a_mailing_waits_for_its_report(cast, monkeypatch) -> None:
    monkeypatch.setattr(content, "build", lambda *args: 1 / 0)
    report = ask(cast.workspace)
    mailing = ReportMailing.objects.create(
        workspace=cast.workspace, report=report, recipients=["chef@example.org"], due_at=NOW
    )
    jobs.run_due("worker-1", now=NOW)
    mailing.refresh_from_db()
    assert mailing.state == ReportMailing.State.PENDING and mail.outbox == []
    assert "ZeroDivisionError" in Report.objects.get().last_error


def test_a_failed_send_is_recorded_and_retried_for_the_rest_only(cast, monkeypatch) -> None:
    report = ask(cast.workspace, "en")
    mailing = ReportMailing.objects.create(
        workspace=cast.workspace, report=report, recipients=["a@example.org", "b@example.org"], due_at=NOW
    )
    real_send = EmailMessage.send
    refused = {"b@example.org"}

    def send(message, *args, **kwargs):  # type: ignore[no-untyped-def]
        if set(message.to) & refused:
            raise ConnectionRefusedError("mail server down")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", send)
    with time_machine.travel(NOW, tick=False):
        jobs.run_due("worker-1", now=NOW)
    mailing.refresh_from_db()
    assert mailing.state == ReportMailing.State.PENDING and mailing.attempts == 1
    assert mailing.sent_to == ["a@example.org"]
    assert mailing.last_error == "b@example.org: ConnectionRefusedError: mail server down"
    assert mailing.due_at == NOW + dt.timedelta(minutes=2)

    refused.clear()
    later = NOW + dt.timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        jobs.run_due("worker-1", now=later)
    mailing.refresh_from_db()
    assert mailing.state == ReportMailing.State.SENT
    assert [message.to for message in mail.outbox] == [["a@example.org"], ["b@example.org"]]


def test_a_send_that_keeps_failing_is_shown_and_can_be_retried(cast, monkeypatch) -> None:
    report = ask(cast.workspace, "en")
    mailing = ReportMailing.objects.create(
        workspace=cast.workspace, report=report, recipients=["a@example.org"], due_at=NOW
    )

    def refuse(message, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    when = NOW
    for _attempt in range(jobs.MAX_ATTEMPTS):
        with time_machine.travel(when, tick=False):
            jobs.run_due("worker-1", now=when)
        mailing.refresh_from_db()
        when = mailing.due_at
    assert mailing.state == ReportMailing.State.FAILED and mailing.attempts == jobs.MAX_ATTEMPTS

    page = client_for(cast.bob).get(reverse("reports:list", args=[cast.workspace.slug]), HTTP_ACCEPT_LANGUAGE="en")
    assert "mail server down" in page.content.decode()
    actions.do_retry_mailing(Actor.system(), mailing)
    mailing.refresh_from_db()
    assert (mailing.state, mailing.attempts) == (ReportMailing.State.PENDING, 0)


def test_schedules_run_at_the_start_of_the_next_week_or_month_in_the_workspace_zone(cast, settings) -> None:
    settings.REPORT_HOUR = 7
    wednesday = dt.datetime(2026, 6, 10, 12, 0, tzinfo=BERLIN)
    assert actions.next_run("week", cast.workspace, wednesday) == dt.datetime(2026, 6, 15, 7, 0, tzinfo=BERLIN)
    assert actions.next_run("month", cast.workspace, wednesday) == dt.datetime(2026, 7, 1, 7, 0, tzinfo=BERLIN)
    early_monday = dt.datetime(2026, 6, 15, 6, 0, tzinfo=BERLIN)
    assert actions.next_run("week", cast.workspace, early_monday) == dt.datetime(2026, 6, 15, 7, 0, tzinfo=BERLIN)
    # Across the change to winter time: still 07:00 on the wall clock.
    october = dt.datetime(2026, 10, 28, 12, 0, tzinfo=BERLIN)
    assert actions.next_run("month", cast.workspace, october) == dt.datetime(2026, 11, 1, 7, 0, tzinfo=BERLIN)


def test_a_deleted_report_takes_its_pdf_with_it(cast, django_capture_on_commit_callbacks) -> None:
    report = ask(cast.workspace)
    jobs.run_due("worker-1", now=NOW)
    report.refresh_from_db()
    storage, name = report.file.storage, report.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        cast.workspace.delete()
    assert not storage.exists(name)
