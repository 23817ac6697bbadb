"""Reading a Google Search Console performance CSV file (docs/links.md "SEO signals").

Same habits as the other CSV imports (publishing/imports.py, analytics/imports.py; the file
helpers are core/csvimport.py): `read_search_console_csv` reads and checks the file without writing
anything and lists every problem of every row; `seo_actions.do_import_search_console` checks it
again and imports it all or nothing.

The shapes Google writes:

* the Search Console UI's export (a zip of CSV files, or Google Sheets): `Queries.csv` ("Top
  queries", German "Häufigste Suchanfragen"), `Pages.csv` ("Top pages", "Häufigste Seiten"),
  `Chart.csv`/`Dates.csv` ("Date", "Datum"), each with Clicks, Impressions, CTR and Position.
  Only the chart file has dates: the others hold totals of the date range chosen in Search
  Console, so the person importing them names that range (`period`);
* the Search Analytics API, Looker Studio and the BigQuery bulk export: one row per date, page
  and/or query (`data_date`, `url`, `query`, `clicks`, `impressions`, `sum_position`).

Headers in English or German, separated by commas, semicolons or tabs; numbers with thousands
separators; decimals with a point or a comma; CTR as a share ("0.032") or a percentage ("3,2 %").
Rows that share day, page and query (a file that also has a country or device column) are added
up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.analytics.imports import parse_count
from stammtisch.core.actions import ActionError
from stammtisch.core.csvimport import PreviewChecks, Problem, content_rows, map_columns, normalise, read_table
from stammtisch.core.models import Workspace
from stammtisch.links.models import SearchConsoleRow
from stammtisch.links.seo import page_key
from stammtisch.publishing import imports as post_imports

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000  # the Search Console API gives at most 50,000 rows a day per search type
MAX_PERIOD_DAYS = 500  # Search Console keeps 16 months
MAX_QUERY = 1000
DATE_FORMATS = (*post_imports.DATE_FORMATS, "%Y%m%d", "%b %d, %Y", "%B %d, %Y")

# The columns read, by every name Google (or a person) gives them; compared after
# `csvimport.normalise`
# (lower case, spaces and hyphens as underscores).
ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "day", "data_date", "datum", "tag"),
    "page": (
        "page",
        "pages",
        "top_pages",
        "landing_page",
        "url",
        "address",
        "seite",
        "seiten",
        "top_seiten",
        "häufigste_seiten",
        "haeufigste_seiten",
        "zielseite",
        "adresse",
    ),
    "query": (
        "query",
        "queries",
        "top_queries",
        "search_query",
        "keyword",
        "suchanfrage",
        "suchanfragen",
        "top_suchanfragen",
        "häufigste_suchanfragen",
        "haeufigste_suchanfragen",
        "suchbegriff",
    ),
    "clicks": ("clicks", "url_clicks", "klicks", "url_klicks"),
    "impressions": ("impressions", "url_impressions", "site_impressions", "impressionen"),
    "ctr": ("ctr", "url_ctr", "site_ctr", "average_ctr", "klickrate", "durchschnittliche_ctr"),
    "position": (
        "position",
        "average_position",
        "avg_position",
        "avg._position",
        "durchschnittliche_position",
        "ø_position",
        "position_(durchschnitt)",
    ),
    "sum_position": ("sum_position", "sum_top_position"),  # the bulk export's, counted from 0
}
COLUMN_BY_NAME = {alias: column for column, names in ALIASES.items() for alias in names}
# Dimensions Stammtisch does not keep: rows that differ only in them are added up.
OTHER_DIMENSIONS = frozenset(
    {
        "country",
        "countries",
        "land",
        "länder",
        "laender",
        "device",
        "devices",
        "gerät",
        "geräte",
        "geraet",
        "search_type",
        "search_appearance",
        "darstellung_in_der_suche",
        "suchdarstellung",
        "site_url",
        "is_anonymized_query",
        "is_anonymized_discover",
    }
)
_DECIMAL = re.compile(r"^\d+(?:\.\d+)?$")


class NeedsPeriod(ActionError):
    """A file without dates, and no period given for it."""


@dataclass
class Row:
    number: int
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    page: str = ""  # the page's key (seo.page_key)
    page_given: str = ""  # as the file writes it
    query: str = ""
    clicks: int | None = None
    impressions: int | None = None
    ctr: float | None = None  # %, as the file gives it (not stored: clicks / impressions is)
    position: float | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Record:
    """What is stored for one period, grain, page and query: rows of the file added up."""

    first_day: dt.date
    last_day: dt.date
    page: str
    query: str
    clicks: int = 0
    impressions: int = 0
    position_weight: float = 0.0
    position_impressions: int = 0
    rows: int = 0

    @property
    def position(self) -> float | None:
        return round(self.position_weight / self.position_impressions, 4) if self.position_impressions else None


@dataclass
class Preview(PreviewChecks):
    """A file read and checked. Nothing is stored; `ok` says whether it may be imported."""

    rows: list[Row]
    problems: list[Problem]
    encoding: str
    delimiter: str
    grain: str
    dated: bool  # the file has a date column
    period: tuple[dt.date, dt.date] | None  # for a file without dates
    period_ignored: bool = False  # a period was given, but the file has dates
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def grain_label(self) -> str:
        return str(SearchConsoleRow.Grain(self.grain).label)

    def records(self) -> dict[str, Record]:
        """The rows to store, by digest: rows that share day, page and query are added up."""
        records: dict[str, Record] = {}
        for row in self.rows:
            assert row.first_day is not None and row.last_day is not None
            key = f"{row.first_day}|{row.last_day}|{digest(row.page, row.query)}"
            record = records.get(key)
            if record is None:
                record = records[key] = Record(row.first_day, row.last_day, row.page, row.query)
            record.clicks += row.clicks or 0
            record.impressions += row.impressions or 0
            if row.position is not None and row.impressions:
                record.position_weight += row.position * row.impressions
                record.position_impressions += row.impressions
            record.rows += 1
        return records

    @property
    def merged(self) -> int:
        """How many rows were added to an earlier row of the same day, page and query."""
        return len(self.rows) - len(self.records()) if self.ok else 0

    @property
    def days(self) -> tuple[dt.date, dt.date] | None:
        days = [row.first_day for row in self.rows if row.first_day is not None]
        last = [row.last_day for row in self.rows if row.last_day is not None]
        return (min(days), max(last)) if days and last else None


def digest(page: str, query: str) -> str:
    return hashlib.sha256(f"{page}\n{query}".encode()).hexdigest()


def _column_for(name: str) -> str | None:
    return COLUMN_BY_NAME.get(normalise(name))


def parse_date(value: str) -> dt.date | None:
    value = value.strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}[ T]", value):  # "2026-05-04 00:00:00", "2026-05-04T00:00:00Z"
        value = value[:10]
    for format in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, format).date()
        except ValueError:
            continue
    return None


def parse_decimal(value: str) -> float | None:
    """A number of at least 0 written with a decimal point or comma (7.3, 7,3, 1.234,5,
    1,234.5); None otherwise."""
    value = re.sub(r"[\s\u00a0\u202f']", "", value)
    if "," in value and "." in value:
        if value.rfind(",") > value.rfind("."):  # 1.234,5: the comma is the decimal mark
            value = value.replace(".", "").replace(",", ".")
        else:  # 1,234.5
            value = value.replace(",", "")
    elif value.count(",") == 1:
        value = value.replace(",", ".")
    if not _DECIMAL.match(value):
        return None
    return float(value)


def parse_ctr(value: str) -> float | None:
    """A click-through rate in %: "3.2%", "3,2 %", or a share such as 0.032 (the API's)."""
    value = value.strip()
    percent = value.endswith("%")
    number = parse_decimal(value.rstrip("%").strip())
    if number is None:
        return None
    share = number if percent or number > 1 else number * 100
    return share if share <= 100 else None


def check_period(first: dt.date | None, last: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The period of a file without dates, or ActionError saying what is wrong with it."""
    if first is None and last is None:
        return None
    first = first or last
    last = last or first
    assert first is not None and last is not None
    if last < first:
        raise NeedsPeriod(_("The period must end on or after its first day."))
    if last > today:
        raise NeedsPeriod(_("The period must not end in the future."))
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise NeedsPeriod(
            _("The period is longer than %(days)d days; Search Console keeps 16 months.") % {"days": MAX_PERIOD_DAYS}
        )
    return first, last


def read_search_console_csv(
    workspace: Workspace,
    data: bytes,
    *,
    period: tuple[dt.date, dt.date] | None = None,
    now: dt.datetime | None = None,
) -> Preview:
    """Parse and check a Search Console CSV file for `workspace`. Writes nothing. A file that
    cannot be read at all raises ActionError (NeedsPeriod: it has no dates and no period was
    given); everything else is in `Preview.problems`."""
    today = timezone.localtime(now or timezone.now(), workspace.tz).date()
    table = read_table(
        data,
        max_bytes=MAX_BYTES,
        known=lambda name: _column_for(name) is not None,
        too_large=_("The file is larger than %(size)d MB. Export a shorter date range, or split the file.")
        % {"size": MAX_BYTES // 1024 // 1024},
    )
    columns = map_columns(table.header, _column_for)
    names, problems = columns.names, columns.problems
    other_dimensions = any(normalise(name) in OTHER_DIMENSIONS for name in columns.ignored)
    if "clicks" not in names or "impressions" not in names:
        raise ActionError(
            _(
                "The file needs the columns “Clicks” and “Impressions” (German: “Klicks”, “Impressionen”) of a "
                "Search Console performance export. The first row must name the columns."
            )
        )
    dated = "date" in names
    if not dated and "page" not in names and "query" not in names and other_dimensions:
        raise ActionError(
            _(
                "This file has figures per country, device or search appearance. Import the file of pages "
                "(Pages.csv), of queries (Queries.csv) or of dates (Chart.csv / Dates.csv)."
            )
        )
    if dated:
        period_ignored, period = period is not None, None
    else:
        period_ignored = False
        if period is None:
            raise NeedsPeriod(
                _(
                    "This file has no dates: it holds the totals of the date range you chose in Search Console. "
                    "Enter that range (first and last day) and check the file again."
                )
            )
    grain = (
        SearchConsoleRow.Grain.PAGE_QUERY
        if "page" in names and "query" in names
        else SearchConsoleRow.Grain.PAGE
        if "page" in names
        else SearchConsoleRow.Grain.QUERY
        if "query" in names
        else SearchConsoleRow.Grain.SITE
    )
    rows_with_content = content_rows(table.body, MAX_ROWS)
    rows: list[Row] = []
    for number, cells in rows_with_content:
        row = _read_row(number, columns.values(cells), names, period, today)
        rows.append(row)
        problems.extend(row.problems)
    if not rows:
        problems.append(Problem(0, "", _("The file has a header but no figures.")))
    return Preview(
        rows=rows,
        problems=problems,
        encoding=table.encoding,
        delimiter=table.delimiter,
        grain=grain,
        dated=dated,
        period=period,
        period_ignored=period_ignored,
        ignored_columns=columns.ignored,
    )


def _read_row(
    number: int, values: dict[str, str], names: dict[str, str], period: tuple[dt.date, dt.date] | None, today: dt.date
) -> Row:
    row = Row(number=number)

    def problem(column: str, message: str) -> None:
        row.problems.append(Problem(number, names.get(column, column), message))

    if period is not None:
        row.first_day, row.last_day = period
    else:
        raw = values.get("date", "").strip()
        day = parse_date(raw) if raw else None
        if not raw:
            problem("date", _("The date is missing."))
        elif day is None:
            problem("date", _("“%(value)s” is not a date: write 2026-05-04 or 04.05.2026.") % {"value": raw[:50]})
        elif day > today:
            problem("date", _("This date is in the future."))
        else:
            row.first_day = row.last_day = day

    if "page" in names:
        row.page_given = values.get("page", "").strip()
        row.page = page_key(row.page_given)
        if not row.page_given:
            problem("page", _("The page is missing."))
        elif not row.page:
            problem(
                "page",
                _("“%(value)s” is not the address of a page (https://…).") % {"value": row.page_given[:200]},
            )
    # An empty query is Google's anonymised queries (the bulk export writes them so): kept.
    row.query = " ".join(values.get("query", "").split())[:MAX_QUERY]

    for column in ("clicks", "impressions"):
        raw = values.get(column, "").strip()
        count = parse_count(raw) if raw else None
        if not raw:
            problem(column, _("This figure is missing."))
        elif count is None:
            problem(column, _("“%(value)s” is not a whole number of 0 or more.") % {"value": raw[:50]})
        setattr(row, column, count)

    raw_ctr = values.get("ctr", "").strip()
    if raw_ctr:
        row.ctr = parse_ctr(raw_ctr)
        if row.ctr is None:
            problem("ctr", _("“%(value)s” is not a click-through rate such as 3.2 %%.") % {"value": raw_ctr[:50]})

    raw_position = values.get("position", "").strip()
    raw_sum = values.get("sum_position", "").strip()
    if raw_position:
        row.position = parse_decimal(raw_position)
        if row.position is None:
            problem("position", _("“%(value)s” is not a position such as 7.3.") % {"value": raw_position[:50]})
    elif raw_sum:
        total = parse_decimal(raw_sum)
        if total is None:
            problem("sum_position", _("“%(value)s” is not a number.") % {"value": raw_sum[:50]})
        elif row.impressions:
            row.position = total / row.impressions + 1  # the bulk export counts positions from 0
    if not row.impressions or not row.position:
        row.position = None  # no impressions, or no position (0 is none): no average to take
    return row
