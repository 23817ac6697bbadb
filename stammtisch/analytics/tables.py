"""Every table of the dashboards, one mechanism (docs/analytics.md "Tables and export").

A page's data function builds `Table` objects (a title, columns, rows of plain values); the page
renders each with `analytics/_table.html` (under its chart, if it has one), and the same view
serves it as a file when asked with `?export=<table name>&format=csv|xlsx` (`export_response`),
so a file always holds exactly the figures of the page, for the same range and filters.

Cell values are `str`, `int`, `float`, `datetime.date`, `None` (no figure), `Link` (text with a
link on the page; the text in a file) or `NotEnough` (a figure withheld because its sample is too
small: the page says so, a file leaves the cell empty).

CSV for Excel: UTF-8 with a byte order mark (so Excel detects the encoding), lines ending in CRLF,
dates as `YYYY-MM-DD`, numbers without thousands separators. In German the separator is `;` and
the decimal mark `,` (what German Excel expects when it opens a file); in English `,` and `.`.
Text that starts with `=`, `+`, `-`, `@` or a tab is prefixed with `'`, so a spreadsheet does not
run it as a formula; in XLSX every text cell is stored as text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

TEXT = "text"
INT = "int"
NUMBER = "number"
DATE = "date"

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Column:
    label: Any  # str or lazy translation
    kind: str = TEXT
    digits: int = 1  # decimals of a NUMBER


@dataclass(frozen=True)
class Link:
    text: str
    url: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class NotEnough:
    """A figure withheld: its sample (`sample`) is below the minimum it needs (`minimum`)."""

    sample: int
    minimum: int


@dataclass
class Table:
    name: str  # unique on its page: the `export` parameter
    title: Any
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    note: Any = ""  # shown under the table: how a figure is computed, what was left out
    empty: Any = ""  # shown instead of the table when it has no rows

    def cells(self) -> list[list[tuple[Any, Column]]]:
        """Each row as (value, column) pairs: what the template renders."""
        return [list(zip(row, self.columns, strict=True)) for row in self.rows]

    def text_rows(self, language: str = "") -> list[list[str]]:
        """The rows as a CSV file writes them (decimal comma in German)."""
        comma = (language or translation.get_language() or "").startswith("de")
        return [
            [_csv_cell(value, column, comma) for value, column in zip(row, self.columns, strict=True)]
            for row in self.rows
        ]


def _plain(value: Any) -> Any:
    if isinstance(value, Link):
        return value.text
    if isinstance(value, NotEnough):
        return None
    return value


def _safe_text(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_cell(value: Any, column: Column, comma: bool) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        digits = column.digits if column.kind == NUMBER else 2
        text = f"{value:.{digits}f}"
        return text.replace(".", ",") if comma else text
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return _safe_text(str(value))


def to_csv(table: Table, language: str = "") -> bytes:
    """The table as CSV for Excel in `language` (default: the active one)."""
    language = language or translation.get_language() or ""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if language.startswith("de") else ",", lineterminator="\r\n")
    writer.writerow([_safe_text(str(column.label)) for column in table.columns])
    writer.writerows(table.text_rows(language))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _sheet_title(title: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31] or "Table"


def to_xlsx(table: Table) -> bytes:
    """The table as an Excel workbook: one sheet, a bold header row, numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_title(str(table.title))
    for index, column in enumerate(table.columns, start=1):
        head = sheet.cell(row=1, column=index, value=str(column.label))
        head.data_type = "s"
        head.font = Font(bold=True)
        sheet.column_dimensions[head.column_letter].width = max(10, min(60, len(str(column.label)) + 2))
    for row_number, row in enumerate(table.rows, start=2):
        for index, (value, column) in enumerate(zip(row, table.columns, strict=True), start=1):
            value = _plain(value)
            if value is None:
                continue
            cell = sheet.cell(row=row_number, column=index)
            if isinstance(value, int | float) and not isinstance(value, bool):
                cell.value = value
                if column.kind == NUMBER:
                    cell.number_format = "0." + "0" * column.digits if column.digits else "0"
            elif isinstance(value, dt.datetime):
                cell.value = value.replace(tzinfo=None)
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, dt.date):
                cell.value = value
                cell.number_format = "yyyy-mm-dd"
            else:
                cell.value = str(value)
                cell.data_type = "s"  # never a formula, whatever the text starts with
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def file_name(stem: str, table: Table, fmt: str) -> str:
    return f"{slugify(stem) or 'stammtisch'}-{slugify(table.name)}.{fmt}"


def export_response(request: HttpRequest, tables: Iterable[Table], stem: str) -> HttpResponse | None:
    """The file a page was asked for with `?export=<name>&format=csv|xlsx`, or None when the
    request asks for no file (render the page). An unknown table is a 404, an unknown format a
    400."""
    name = request.GET.get("export")
    if name is None:
        return None
    fmt = request.GET.get("format", "csv")
    if fmt not in FORMATS:
        return HttpResponseBadRequest(_("Unknown format: choose CSV or XLSX."))
    table = next((t for t in tables if t.name == name), None)
    if table is None:
        raise Http404("no such table")
    if fmt == "csv":
        response = HttpResponse(to_csv(table), content_type=CSV_TYPE)
    else:
        response = HttpResponse(to_xlsx(table), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{file_name(stem, table, fmt)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def find(tables: Sequence[Table], name: str) -> Table:
    """The table called `name` (a page's template picks its tables by name)."""
    for table in tables:
        if table.name == name:
            return table
    raise KeyError(name)
