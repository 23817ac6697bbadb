"""The PDF in German and in English, made by the worker, read back as text and looked at as PNG
pages (saved to test-artifacts/reports/ for people to look at); and what happens without Pango."""

from __future__ import annotations

import datetime as dt

import pypdfium2
import pytest
import time_machine
from django.urls import reverse
from PIL import ImageStat

from conftest import client_for
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import Workspace
from stammtisch.reports import actions, jobs, pdf
from stammtisch.reports.models import Report
from stammtisch.reports.periods import DASH
from stammtisch.reports.tests.conftest import ARTIFACTS, WEEK

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)


def generate(workspace: Workspace, language: str) -> Report:
    report = Report.objects.create(
        workspace=workspace, kind="week", first_day=WEEK.first, last_day=WEEK.last, language=language, due_at=NOW
    )
    assert jobs.run_due("worker-1", now=NOW) == 1
    report.refresh_from_db()
    assert report.state == Report.State.DONE, report.last_error
    return report


def pages_of(report: Report, name: str) -> list[str]:
    """The text of each page; each page is also saved as a PNG and must not be blank."""
    with report.file.open("rb") as handle:
        document = pypdfium2.PdfDocument(handle.read())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    texts = []
    for number in range(len(document)):
        page = document[number]
        texts.append(page.get_textpage().get_text_range())
        picture = page.render(scale=1.5).to_pil()
        picture.save(ARTIFACTS / f"{name}-page-{number + 1}.png")
        image = picture.convert("L")
        inked = sum(image.histogram()[:200]) / (image.width * image.height)
        assert inked > 0.005, f"page {number + 1} of {name} looks blank ({inked:.4f} of its pixels are dark)"
        assert ImageStat.Stat(image).extrema[0][0] < 60, f"page {number + 1} of {name} has no dark text"
    document.close()
    return texts


@pytest.mark.usefixtures("needs_pdf")
def test_the_german_report_is_a_german_pdf(seeded) -> None:
    report = generate(seeded, "de")
    assert report.file.name.endswith(".pdf") and report.attempts == 1
    pages = pages_of(report, "weekly-de")
    text = "\n".join(pages)
    assert len(pages) >= 2
    assert "Café Königsbau" in pages[0]
    assert "Wochenbericht" in pages[0] and f"Woche 23: 1. Juni 2026{DASH}7. Juni 2026" in pages[0]
    for heading in ("Zusammenfassung", "Kennzahlen", "Ziele", "Beiträge und Interaktionen", "Themenmix"):
        assert heading in text, heading
    assert "6,5 % ihrer Impressionen" in text  # the engagement rate, with a decimal comma
    assert "Mehr Klicks" in text
    assert "Key figures" not in text and "Summary" not in text


@pytest.mark.usefixtures("needs_pdf")
def test_the_english_report_is_an_english_pdf(seeded) -> None:
    report = generate(seeded, "en")
    pages = pages_of(report, "weekly-en")
    text = "\n".join(pages)
    assert "Café Königsbau" in pages[0]
    assert "Weekly report" in pages[0] and f"Week 23: June 1, 2026{DASH}June 7, 2026" in pages[0]
    for heading in ("Summary", "Key figures", "Goals", "Posts and engagement", "Content mix"):
        assert heading in text, heading
    assert "6.5 % of their impressions" in text
    assert "Zusammenfassung" not in text and "Kennzahlen" not in text


@pytest.mark.usefixtures("needs_pdf")
def test_a_month_without_any_figures_still_makes_a_report(cast) -> None:
    report = Report.objects.create(
        workspace=cast.workspace,
        kind="month",
        first_day=dt.date(2026, 5, 1),
        last_day=dt.date(2026, 5, 31),
        language="en",
        due_at=NOW,
    )
    jobs.run_due("worker-1", now=NOW)
    report.refresh_from_db()
    assert report.state == Report.State.DONE, report.last_error
    text = "\n".join(pages_of(report, "monthly-empty-en"))
    assert "May 2026" in text and "Too little data" in text


def test_without_pango_the_pdf_action_says_what_is_missing(cast, monkeypatch) -> None:
    monkeypatch.setattr(pdf, "_import_problem", lambda: "cannot load library 'libpango-1.0-0'")
    workspace = cast.workspace
    client = client_for(cast.anna)

    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("reports:list", args=[workspace.slug]), HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == 200
        assert "PDF reports cannot be made on this server" in page.content.decode()

        response = client.post(
            reverse("reports:generate", args=[workspace.slug]),
            {"period": "week:2026-06-01", "language": "en"},
            HTTP_ACCEPT_LANGUAGE="en",
            follow=True,
        )
    assert response.status_code == 200
    body = response.content.decode()
    assert "PDF reports cannot be made on this server" in body
    assert "libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core" in body
    assert not Report.objects.exists()

    # A report asked for elsewhere (another server, a schedule) fails at once, with the reason.
    report = Report.objects.create(
        workspace=workspace, kind="week", first_day=WEEK.first, last_day=WEEK.last, language="en", due_at=NOW
    )
    jobs.run_due("worker-1", now=NOW)
    report.refresh_from_db()
    assert report.state == Report.State.FAILED and "Pango" in report.last_error
    with pytest.raises(ActionError, match="Pango"):
        actions.do_request_report(Actor.system(), workspace, WEEK, "en")
