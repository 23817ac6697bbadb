"""The reports pages: asking for a report, reading and downloading it, share links (anonymous,
noindex, revocable, expiring) and schedules with their recipients checked."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from conftest import client_for
from stammtisch.core.actions import ActionError, Actor
from stammtisch.reports import actions, jobs, render
from stammtisch.reports.models import Report, ReportMailing, ReportSchedule, ReportShare
from stammtisch.reports.periods import DASH, Period
from stammtisch.reports.tests.conftest import WEEK

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
FAKE_PDF = b"%PDF-1.7 a report\n%%EOF"


@pytest.fixture(autouse=True)
def _fake_pdf(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(render, "render_pdf", lambda report: FAKE_PDF)
    monkeypatch.setattr("stammtisch.reports.pdf.unavailable_reason", lambda: None)


@pytest.fixture
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def done_report(workspace, language: str = "en") -> Report:  # type: ignore[no-untyped-def]
    report = Report.objects.create(
        workspace=workspace, kind="week", first_day=WEEK.first, last_day=WEEK.last, language=language, due_at=NOW
    )
    jobs.run_due("worker-1", now=NOW)
    report.refresh_from_db()
    assert report.state == Report.State.DONE
    return report


def test_the_reports_page_is_in_the_navigation_in_both_languages(cast, frozen) -> None:
    client = client_for(cast.carol)
    url = reverse("reports:list", args=[cast.workspace.slug])
    german = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert f'href="{url}" aria-current="page">Berichte</a>' in german
    assert "Jetzt erstellen" in german and f"Woche 23: 1. Juni 2026{DASH}7. Juni 2026" in german
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Generate now" in english and f"Week 23: June 1, 2026{DASH}June 7, 2026" in english
    assert "New schedule" not in english  # carol reviews; she does not schedule e-mails


def test_a_member_asks_for_a_report_and_the_worker_makes_it(cast, frozen) -> None:
    client = client_for(cast.anna)
    response = client.post(
        reverse("reports:generate", args=[cast.workspace.slug]), {"period": "week:2026-06-01", "language": "de"}
    )
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/reports/{report.pk}/")
    assert (report.kind, report.first_day, report.language, report.requested_by) == (
        "week",
        WEEK.first,
        "de",
        cast.anna,
    )
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<meta http-equiv="refresh"' in page and "Waiting to be generated" in page

    again = client.post(
        reverse("reports:generate", args=[cast.workspace.slug]),
        {"period": "week:2026-06-01", "language": "de"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "This report is being generated already." in again.content.decode()
    assert Report.objects.count() == 1

    jobs.run_due("worker-1", now=NOW)
    page = client.get(reverse("reports:detail", args=[cast.workspace.slug, report.pk]), HTTP_ACCEPT_LANGUAGE="en")
    body = page.content.decode()
    assert "Ready" in body and "Download PDF" in body
    assert "Wochenbericht" in body and "Zusammenfassung" in body  # the report itself is in German
    download = client.get(reverse("reports:pdf", args=[cast.workspace.slug, report.pk]))
    assert download["Content-Type"] == "application/pdf"
    assert 'filename="stammtisch-week-2026-06-01-de.pdf"' in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == FAKE_PDF


@pytest.mark.parametrize(
    "period, message",
    [
        ("week:2026-06-02", "Choose one of the periods and languages offered."),  # not a Monday
        ("year:2026-01-01", "Choose one of the periods and languages offered."),
        ("week:2020-01-06", "Choose one of the periods and languages offered."),  # not offered
    ],
)
def test_a_period_that_is_not_offered_is_refused(cast, frozen, period, message) -> None:
    response = client_for(cast.anna).post(
        reverse("reports:generate", args=[cast.workspace.slug]),
        {"period": period, "language": "de"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert response.status_code == 200 and message in response.content.decode()
    assert not Report.objects.exists()


def test_a_period_that_is_not_over_is_refused(cast, frozen) -> None:
    with translation.override("en"), pytest.raises(ActionError, match="Choose a week or month that is over"):
        actions.do_request_report(Actor.system(), cast.workspace, Period.containing("week", NOW.date()), "de")


def test_a_share_link_shows_the_report_to_anyone_until_revoked(cast, frozen) -> None:
    report = done_report(cast.workspace)
    editor = client_for(cast.bob)
    response = editor.post(
        reverse("reports:share_create", args=[cast.workspace.slug, report.pk]), {"expires_days": ""}, follow=True
    )
    match = re.search(r"http://testserver(/reports/shared/[-\w]+/)", response.content.decode())
    assert match, "the new link is shown once"
    link = match.group(1)

    anonymous = Client().get(link, HTTP_ACCEPT_LANGUAGE="en")
    assert anonymous.status_code == 200
    page = anonymous.content.decode()
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert anonymous["X-Robots-Tag"] == "noindex, nofollow" and anonymous["Referrer-Policy"] == "no-referrer"
    assert "Café Königsbau" in page and "Weekly report" in page
    assert "sidenav" not in page and "Log out" not in page and "csrfmiddlewaretoken" not in page

    share = ReportShare.objects.get()
    assert (
        client_for(cast.anna).post(reverse("reports:share_revoke", args=[cast.workspace.slug, share.pk])).status_code
        == 403
    )
    editor.post(reverse("reports:share_revoke", args=[cast.workspace.slug, share.pk]))
    gone = Client().get(link, HTTP_ACCEPT_LANGUAGE="en")
    assert gone.status_code == 404 and "This report link is not valid" in gone.content.decode()
    assert gone["X-Robots-Tag"] == "noindex, nofollow"
    assert Client().get("/reports/shared/not-a-token/").status_code == 404


def test_a_share_link_expires(cast, frozen) -> None:
    report = done_report(cast.workspace)
    _share, token = actions.do_create_share(Actor(user=cast.bob), report, 7)
    link = reverse("reports:shared", args=[token])
    assert Client().get(link).status_code == 200
    frozen.move_to(NOW + dt.timedelta(days=7, seconds=1))
    assert Client().get(link).status_code == 404


def test_only_a_finished_report_can_be_shared_and_only_by_editors(cast, frozen) -> None:
    report = Report.objects.create(
        workspace=cast.workspace, kind="week", first_day=WEEK.first, last_day=WEEK.last, language="de"
    )
    with translation.override("en"), pytest.raises(ActionError, match="Only a finished report can be shared"):
        actions.do_create_share(Actor(user=cast.bob), report, None)
    url = reverse("reports:share_create", args=[cast.workspace.slug, report.pk])
    assert client_for(cast.anna).post(url, {}).status_code == 403
    finished = done_report(cast.workspace)
    with translation.override("en"), pytest.raises(ActionError, match="1 to 365 days"):
        actions.do_create_share(Actor(user=cast.bob), finished, 400)


def test_a_schedule_checks_its_recipients(cast, frozen) -> None:
    client = client_for(cast.bob)
    url = reverse("reports:schedule_create", args=[cast.workspace.slug])
    refused = client.post(
        url,
        {"kind": "week", "recipients": "chef@example.org, nicht-eine-adresse", "language": "de", "active": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert refused.status_code == 200
    assert "“nicht-eine-adresse” is not an e-mail address." in refused.content.decode()
    empty = client.post(url, {"kind": "week", "recipients": " ,; ", "language": "de"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Enter at least one e-mail address." in empty.content.decode()
    assert not ReportSchedule.objects.exists()

    saved = client.post(
        url,
        {"kind": "month", "recipients": "chef@example.org\nBeirat@example.org; chef@EXAMPLE.org", "language": "en"},
    )
    assert saved.status_code == 302
    schedule = ReportSchedule.objects.get()
    assert schedule.recipients == ["chef@example.org", "Beirat@example.org"]
    assert (schedule.kind, schedule.language, schedule.active) == ("month", "en", False)
    assert client_for(cast.anna).get(url).status_code == 403


def test_send_now_makes_the_last_report_and_mails_it(cast, frozen) -> None:
    schedule = actions.do_save_schedule(
        Actor(user=cast.alice),
        cast.workspace,
        schedule=None,
        kind="week",
        recipients="chef@example.org",
        language="de",
        active=True,
    )
    response = client_for(cast.bob).post(reverse("reports:schedule_send", args=[cast.workspace.slug, schedule.pk]))
    assert response.status_code == 302
    mailing = ReportMailing.objects.get()
    assert (mailing.report.first_day, mailing.report.last_day) == (WEEK.first, WEEK.last)
    jobs.run_due("worker-1", now=NOW)
    mailing.refresh_from_db()
    assert mailing.state == ReportMailing.State.SENT
