"""Reading and importing Google Search Console CSV files (links/seo_import.py, seo_actions.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone, translation

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.links import seo_import
from stammtisch.links.models import SearchConsoleRow
from stammtisch.links.seo_actions import do_delete_search_console, do_import_search_console

NOW = dt.datetime(2026, 6, 20, 12, 0, tzinfo=dt.UTC)
MAY = (dt.date(2026, 5, 1), dt.date(2026, 5, 31))

# As the Search Console UI exports them (English and German interface).
PAGES_EN = (
    "Top pages,Clicks,Impressions,CTR,Position\n"
    'https://www.cafe-koenigsbau.example/,"1,234","12,345",10%,4.2\n'
    "https://www.cafe-koenigsbau.example/karte/,80,2000,4%,7.5\n"
)
PAGES_DE = (
    "Häufigste Seiten;Klicks;Impressionen;Klickrate;Durchschnittliche Position\n"
    "https://cafe-koenigsbau.example/;1.234;12.345;10 %;4,2\n"
    "https://cafe-koenigsbau.example/karte;80;2.000;4 %;7,5\n"
)
QUERIES_DE = (
    "\ufeffHäufigste Suchanfragen,Klicks,Impressionen,CTR,Position\n"
    'café königsbau,50,400,"12,5 %","1,3"\n'
    'frühstück stuttgart,9,900,"1 %","8,9"\n'
)
CHART_EN = "Date,Clicks,Impressions,CTR,Position\n2026-05-01,30,900,3.33%,6.1\n2026-05-02,40,1000,4%,5.9\n"
API_ROWS = (
    "Date,Page,Query,Clicks,Impressions,CTR,Position\n"
    "2026-05-01,https://cafe-koenigsbau.example/karte,frühstück,5,100,0.05,3.5\n"
    "2026-05-01,https://cafe-koenigsbau.example/karte,brunch,1,50,0.02,9.0\n"
    "2026-05-02,https://cafe-koenigsbau.example/karte,frühstück,7,120,0.0583,3.1\n"
)


def read(cast, text: str, **kwargs):  # type: ignore[no-untyped-def]
    return seo_import.read_search_console_csv(cast.workspace, text.encode(), now=NOW, **kwargs)


def stored(cast) -> list[tuple]:  # type: ignore[no-untyped-def]
    return list(
        SearchConsoleRow.objects.filter(workspace=cast.workspace)
        .order_by("first_day", "page", "query")
        .values_list("first_day", "last_day", "grain", "page", "query", "clicks", "impressions", "position")
    )


def test_the_english_and_the_german_ui_export_of_pages_read_the_same(cast) -> None:
    english = read(cast, PAGES_EN, period=MAY)
    german = read(cast, PAGES_DE, period=MAY)
    assert english.ok and german.ok, (english.problems, german.problems)
    assert english.delimiter == "," and german.delimiter == ";"
    assert english.grain == german.grain == SearchConsoleRow.Grain.PAGE
    for preview in (english, german):
        assert [(row.page, row.clicks, row.impressions, row.position) for row in preview.rows] == [
            ("cafe-koenigsbau.example/", 1234, 12345, 4.2),
            ("cafe-koenigsbau.example/karte", 80, 2000, 7.5),
        ]
        assert [row.ctr for row in preview.rows] == [10.0, 4.0]
        assert all((row.first_day, row.last_day) == MAY for row in preview.rows)


def test_german_decimal_commas_and_percent_ctr_with_a_space(cast) -> None:
    preview = read(cast, QUERIES_DE, period=MAY)
    assert preview.ok, preview.problems
    assert preview.grain == SearchConsoleRow.Grain.QUERY
    assert preview.encoding == "UTF-8"  # the BOM Excel writes is dropped
    assert [(row.query, row.ctr, row.position) for row in preview.rows] == [
        ("café königsbau", 12.5, 1.3),
        ("frühstück stuttgart", 1.0, 8.9),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7.3", 7.3), ("7,3", 7.3), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("12", 12.0), ("-1", None), ("x", None)],
)
def test_decimals_are_read_with_either_mark(value: str, expected: float | None) -> None:
    assert seo_import.parse_decimal(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("3.2%", 3.2), ("3,2 %", 3.2), ("0.032", 3.2), ("100 %", 100.0), ("150%", None)]
)
def test_ctr_is_read_as_a_percentage_or_a_share(value: str, expected: float | None) -> None:
    result = seo_import.parse_ctr(value)
    assert result == pytest.approx(expected) if expected is not None else result is None


def test_a_file_without_dates_needs_its_period(cast) -> None:
    with translation.override("en"), pytest.raises(seo_import.NeedsPeriod) as error:
        read(cast, PAGES_EN)
    assert "no dates" in error.value.message
    with pytest.raises(seo_import.NeedsPeriod):
        seo_import.check_period(dt.date(2026, 5, 31), dt.date(2026, 5, 1), dt.date(2026, 6, 20))
    with pytest.raises(seo_import.NeedsPeriod):
        seo_import.check_period(dt.date(2026, 6, 1), dt.date(2026, 6, 21), dt.date(2026, 6, 20))
    assert seo_import.check_period(dt.date(2026, 6, 1), None, dt.date(2026, 6, 20)) == (
        dt.date(2026, 6, 1),
        dt.date(2026, 6, 1),
    )


def test_a_file_with_dates_reads_each_rows_day_and_ignores_a_given_period(cast) -> None:
    preview = read(cast, API_ROWS, period=MAY)
    assert preview.ok, preview.problems
    assert preview.dated and preview.period is None and preview.period_ignored
    assert preview.grain == SearchConsoleRow.Grain.PAGE_QUERY
    assert [row.first_day for row in preview.rows] == [dt.date(2026, 5, 1)] * 2 + [dt.date(2026, 5, 2)]
    assert preview.rows[0].ctr == pytest.approx(5.0)


def test_the_bulk_exports_zero_based_position_sum_is_averaged(cast) -> None:
    text = (
        "data_date,site_url,url,query,is_anonymized_query,clicks,impressions,sum_position\n"
        "2026-05-03,sc-domain:example,https://cafe-koenigsbau.example/karte,brunch,false,2,10,25\n"
    )
    preview = read(cast, text)
    assert preview.ok, preview.problems
    assert preview.rows[0].position == pytest.approx(25 / 10 + 1)
    assert set(preview.ignored_columns) == {"site_url", "is_anonymized_query"}


def test_every_bad_row_is_listed_with_its_column(cast) -> None:
    text = (
        "Date;Page;Clicks;Impressions;CTR;Position\n"
        "2026-05-01;https://cafe-koenigsbau.example/;3;100;3 %;4,0\n"
        "1. Mai;https://cafe-koenigsbau.example/;3;100;3 %;4,0\n"
        "2026-05-01;karte;3;100;3 %;4,0\n"
        "2026-05-01;https://cafe-koenigsbau.example/a;drei;1,5;3 %;4,0\n"
        "2026-05-01;https://cafe-koenigsbau.example/b;3;100;300 %;vier\n"
        "2030-01-01;https://cafe-koenigsbau.example/c;3;100;3 %;4,0\n"
        "2026-05-01;https://cafe-koenigsbau.example/d;;100;3 %;4,0\n"
    )
    with translation.override("en"):
        preview = read(cast, text)
    assert not preview.ok
    assert preview.bad_rows == [3, 4, 5, 6, 7, 8]
    found = {(problem.row, problem.column) for problem in preview.problems}
    assert found == {
        (3, "Date"),
        (4, "Page"),
        (5, "Clicks"),
        (5, "Impressions"),
        (6, "CTR"),
        (6, "Position"),
        (7, "Date"),
        (8, "Clicks"),
    }
    assert any("future" in problem.message for problem in preview.problems if problem.row == 7)


def test_files_that_are_no_performance_export_are_refused_with_a_message(cast) -> None:
    with translation.override("en"):
        with pytest.raises(ActionError, match="Clicks"):
            read(cast, "Filter,Value\nSearch type,Web\n")
        with pytest.raises(ActionError, match="country"):
            read(cast, "Country,Clicks,Impressions,CTR,Position\nGermany,10,100,10%,3.0\n", period=MAY)
        with pytest.raises(ActionError, match="empty"):
            read(cast, "   ")


def test_a_file_above_the_size_limit_is_refused_before_it_is_read(cast) -> None:
    data = b"Date,Clicks,Impressions\n" + b"2026-05-01,1,1\n" * (seo_import.MAX_BYTES // 15 + 1)
    with translation.override("en"), pytest.raises(ActionError, match="larger than 10 MB"):
        seo_import.read_search_console_csv(cast.workspace, data, now=NOW)


def test_nothing_is_imported_when_any_row_is_bad(cast) -> None:
    text = API_ROWS + "2026-05-02,https://cafe-koenigsbau.example/karte,brunch,zwei,50,0.02,9.0\n"
    with pytest.raises(ActionError):
        do_import_search_console(Actor(user=cast.bob), cast.workspace, text.encode(), now=NOW)
    assert not SearchConsoleRow.objects.exists()
    assert not AuditEvent.objects.filter(action="seo.import_csv").exists()


def test_importing_the_same_file_twice_gives_the_same_figures(cast) -> None:
    bob = Actor(user=cast.bob)
    assert do_import_search_console(bob, cast.workspace, API_ROWS.encode(), now=NOW) == 3
    first = stored(cast)
    assert do_import_search_console(bob, cast.workspace, API_ROWS.encode(), now=NOW) == 3
    assert stored(cast) == first
    assert [(row[0], row[4], row[5]) for row in first] == [
        (dt.date(2026, 5, 1), "brunch", 1),
        (dt.date(2026, 5, 1), "frühstück", 5),
        (dt.date(2026, 5, 2), "frühstück", 7),
    ]
    # A corrected export replaces the figures of the same day, page and query.
    do_import_search_console(bob, cast.workspace, API_ROWS.replace(",5,100,", ",6,110,").encode(), now=NOW)
    assert [row[5] for row in stored(cast)] == [1, 6, 7]
    assert AuditEvent.objects.filter(action="seo.import_csv", workspace=cast.workspace).count() == 3


def test_a_date_less_export_is_stored_as_its_periods_rows(cast) -> None:
    do_import_search_console(Actor(user=cast.bob), cast.workspace, PAGES_DE.encode(), period=MAY, now=NOW)
    assert stored(cast) == [
        (MAY[0], MAY[1], "page", "cafe-koenigsbau.example/", "", 1234, 12345, 4.2),
        (MAY[0], MAY[1], "page", "cafe-koenigsbau.example/karte", "", 80, 2000, 7.5),
    ]
    # The same file for another range is another period: nothing is replaced.
    june = (dt.date(2026, 6, 1), dt.date(2026, 6, 14))
    do_import_search_console(Actor(user=cast.bob), cast.workspace, PAGES_EN.encode(), period=june, now=NOW)
    assert len(stored(cast)) == 4


def test_rows_sharing_day_page_and_query_are_added_up(cast) -> None:
    text = (
        "Date,Page,Country,Clicks,Impressions,Position\n"
        "2026-05-01,https://cafe-koenigsbau.example/karte,deu,4,100,2.0\n"
        "2026-05-01,https://www.cafe-koenigsbau.example/karte/,aut,1,300,6.0\n"
    )
    preview = read(cast, text)
    assert preview.ok and preview.merged == 1
    do_import_search_console(Actor(user=cast.bob), cast.workspace, text.encode(), now=NOW)
    (row,) = stored(cast)
    assert row[5:] == (5, 400, pytest.approx((2.0 * 100 + 6.0 * 300) / 400))


def test_the_preview_token_imports_once(cast) -> None:
    bob = Actor(user=cast.bob)
    do_import_search_console(bob, cast.workspace, CHART_EN.encode(), token="a" * 32, now=NOW)
    with translation.override("en"), pytest.raises(ActionError, match="imported already"):
        do_import_search_console(bob, cast.workspace, CHART_EN.encode(), token="a" * 32, now=NOW)


def test_an_analyst_may_not_import_or_delete(cast) -> None:
    with pytest.raises(PermissionDenied):
        do_import_search_console(Actor(user=cast.anna), cast.workspace, CHART_EN.encode(), now=NOW)
    with pytest.raises(PermissionDenied):
        do_delete_search_console(Actor(user=cast.anna), cast.workspace, *MAY)


def test_deleting_removes_the_rows_within_the_days_only(cast) -> None:
    bob = Actor(user=cast.bob)
    do_import_search_console(bob, cast.workspace, CHART_EN.encode(), now=NOW)
    do_import_search_console(bob, cast.workspace, PAGES_EN.encode(), period=MAY, now=NOW)
    do_import_search_console(Actor(user=cast.charlie), cast.other_workspace, CHART_EN.encode(), now=NOW)
    assert do_delete_search_console(bob, cast.workspace, dt.date(2026, 5, 2), dt.date(2026, 5, 31)) == 1
    assert [row[0] for row in stored(cast)] == [dt.date(2026, 5, 1), MAY[0], MAY[0]]
    assert SearchConsoleRow.objects.filter(workspace=cast.other_workspace).count() == 2
    assert AuditEvent.objects.filter(action="seo.delete", workspace=cast.workspace).exists()


def test_the_date_of_a_row_may_be_today_but_not_later(cast) -> None:
    today = timezone.localtime(NOW, cast.workspace.tz).date()
    text = f"Date,Clicks,Impressions\n{today.isoformat()},1,10\n{(today + dt.timedelta(days=1)).isoformat()},1,10\n"
    preview = read(cast, text)
    assert preview.bad_rows == [3]
