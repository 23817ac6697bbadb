"""CSV and XLSX export of the dashboards' tables: one mechanism, Excel-friendly, no formulas."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from conftest import client_for
from stammtisch.analytics import rollups, tables
from stammtisch.analytics.tables import DATE, INT, NUMBER, Column, Link, NotEnough, Table
from stammtisch.analytics.tests.builders import DAY, at, channel, published
from stammtisch.strategy.models import ContentPillar, Goal

SAMPLE = Table(
    "sample",
    "Beispiel: Kanäle [alle]",
    [Column("Name"), Column("Tag", DATE), Column("Beiträge", INT), Column("Rate (%)", NUMBER, 2)],
    [
        [Link("Café Königsbau", "/x/"), dt.date(2026, 6, 1), 12, 3.14159],
        ['=HYPERLINK("http://evil")', dt.date(2026, 6, 2), 0, NotEnough(2, 5)],
        ["-1 Leerzeile", None, None, -0.5],
    ],
)


def test_german_csv_uses_semicolons_decimal_commas_and_a_bom() -> None:
    data = tables.to_csv(SAMPLE, "de")
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8-sig")
    assert text.split("\r\n") == [
        "Name;Tag;Beiträge;Rate (%)",
        "Café Königsbau;2026-06-01;12;3,14",
        '"\'=HYPERLINK(""http://evil"")";2026-06-02;0;',  # no formula, a withheld figure is empty
        "'-1 Leerzeile;;;-0,50",
        "",
    ]


def test_english_csv_uses_commas_and_decimal_points() -> None:
    text = tables.to_csv(SAMPLE, "en").decode("utf-8-sig")
    assert text.splitlines()[1] == "Café Königsbau,2026-06-01,12,3.14"


def test_xlsx_keeps_numbers_dates_and_text_apart() -> None:
    sheet = load_workbook(io.BytesIO(tables.to_xlsx(SAMPLE))).active
    assert sheet is not None
    assert sheet.title == "Beispiel  Kanäle  alle"  # characters a sheet name may not hold are replaced
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Name", "Tag", "Beiträge", "Rate (%)")
    assert rows[1] == ("Café Königsbau", dt.datetime(2026, 6, 1), 12, 3.14159)
    assert rows[2][0] == '=HYPERLINK("http://evil")' and rows[2][3] is None
    assert sheet["A3"].data_type == "s"  # stored as text, never run as a formula
    assert sheet["D2"].number_format == "0.00"


@pytest.mark.django_db
def test_the_dashboard_exports_its_tables(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    ContentPillar.objects.create(workspace=workspace, name="Rezepte", target_share=50)
    published(workspace, koenigsbau, at(DAY, 9), pillar="Rezepte")
    published(workspace, koenigsbau, at(DAY, 10))
    rollups.refresh(workspace, DAY - dt.timedelta(days=10), DAY)
    url = reverse("analytics:dashboard", args=[workspace.slug])

    with time_machine.travel(at(DAY, 12), tick=False):
        page = client_for(cast.carol).get(url, HTTP_ACCEPT_LANGUAGE="en")
        csv_file = client_for(cast.carol).get(url, {"export": "pillars", "format": "csv"}, HTTP_ACCEPT_LANGUAGE="en")
        best = client_for(cast.carol).get(url, {"export": "best_time", "format": "xlsx"}, HTTP_ACCEPT_LANGUAGE="en")
        outsider = client_for(cast.charlie).get(url, {"export": "pillars", "format": "csv"})
    assert "export=pillars&amp;format=csv" in page.content.decode()
    assert csv_file["Content-Type"] == tables.CSV_TYPE
    assert csv_file["Content-Disposition"] == 'attachment; filename="dashboard-2026-03-13-2026-06-10-pillars.csv"'
    lines = csv_file.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Pillar,Posts,Actual share (%),Target share (%),Difference"
    assert lines[1] == "Rezepte,1,50.0,50,0.0"
    assert best["Content-Type"] == tables.XLSX_TYPE
    assert outsider.status_code == 404


@pytest.mark.django_db
def test_the_goal_page_exports_its_trend_by_week_for_long_ranges(cast) -> None:
    workspace = cast.workspace
    goal = Goal.objects.create(
        workspace=workspace,
        kind="traffic",
        name="Mehr Klicks",
        kpi="traffic.clicks",
        target=500,
        start=DAY - dt.timedelta(days=200),
        deadline=DAY + dt.timedelta(days=60),
    )
    url = reverse("strategy:goal", args=[workspace.slug, goal.pk])
    with time_machine.travel(at(DAY, 12), tick=False):
        daily = client_for(cast.anna).get(url, {"export": "trend", "format": "csv"}, HTTP_ACCEPT_LANGUAGE="de")
        weekly = client_for(cast.anna).get(url, {"days": 365, "export": "trend", "format": "csv"})
        page = client_for(cast.anna).get(url, {"days": 365}, HTTP_ACCEPT_LANGUAGE="en")
    rows = daily.content.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("Tag;")
    assert len(rows) == 1 + 90 + 60  # 90 days shown, then the 60 days to the deadline
    weeks = weekly.content.decode("utf-8-sig").splitlines()[1:]
    days = [dt.date.fromisoformat(row.split(";")[0]) for row in weeks]
    assert all(day.weekday() == 6 or day == DAY or day > DAY for day in days)  # Sundays, today, the forecast
    assert len(days) < 70
    assert page.status_code == 200 and "export=trend&amp;format=xlsx" in page.content.decode()
