"""Reading a CSV file of figures for posts on networks without an API (XING), docs/analytics.md.

Same habits as the CSV import of posts (publishing/imports.py; the file helpers of both are in
core/csvimport.py): the file is read and checked row by row without writing anything
(`read_metrics_csv`), shown as a preview with every problem of every row, and imported all or
nothing (`actions.do_import_metrics_csv` checks it again first).

A row names the post by its address on the network (the address pasted when the post was
confirmed), the day the figures were read (optionally a time) and the figures.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError
from stammtisch.core.csvimport import PreviewChecks, Problem, content_rows, map_columns, normalise, read_table
from stammtisch.core.models import Workspace
from stammtisch.networks.registry import UnknownNetwork, get_network
from stammtisch.publishing import imports as post_imports
from stammtisch.publishing.forms import local_time_problem, local_to_utc
from stammtisch.publishing.models import Delivery

MAX_ROWS = 5000
EXCERPT = 60
# The figures a file may hold (the ones XING shows a post's author), by our column name.
FIGURES = ("impressions", "likes", "comments", "shares", "clicks")
ALIASES: dict[str, tuple[str, ...]] = {
    "url": ("url", "address", "link", "post_url", "xing_url", "remote_url", "adresse", "beitrag", "beitrags_url"),
    "date": ("date", "day", "as_of", "datum", "tag", "stand"),
    "time": ("time", "uhrzeit", "zeit"),
    "impressions": ("impressions", "views", "impressionen", "aufrufe", "ansichten", "sichtkontakte"),
    "likes": ("likes", "reactions", "reaktionen", "gefällt_mir", "gefaellt_mir"),
    "comments": ("comments", "kommentare"),
    "shares": ("shares", "reposts", "geteilt", "teilungen"),
    "clicks": ("clicks", "klicks"),
}
COLUMN_BY_NAME = {alias: column for column, names in ALIASES.items() for alias in names}
# 1234, 1.234, 1,234, 1 234 (thousands separators as German and English spreadsheets write them)
_NUMBER = re.compile(r"^\d{1,3}(?:([.,\s\u202f'])\d{3})?(?:\1\d{3})*$|^\d+$")


@dataclass
class Row:
    number: int
    url: str = ""
    delivery: Delivery | None = None
    local: dt.datetime | None = None  # the wall-clock time in the workspace's zone
    observed_at: dt.datetime | None = None  # UTC
    values: dict[str, int | None] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def excerpt(self) -> str:
        if self.delivery is None:
            return ""
        flat = " ".join(self.delivery.text.split())
        return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


@dataclass
class Preview(PreviewChecks):
    rows: list[Row]
    problems: list[Problem]
    encoding: str
    delimiter: str
    ignored_columns: list[str] = field(default_factory=list)


def _column_for(name: str) -> str | None:
    return COLUMN_BY_NAME.get(normalise(name))


def normalise_url(url: str) -> str:
    """An address reduced to what identifies the post: host without "www.", path without a
    trailing slash, the query; no scheme, no fragment. Two ways of writing one address match."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def manual_deliveries(workspace: Workspace) -> dict[str, Delivery]:
    """The workspace's published deliveries on networks without an API, by normalised address."""
    assisted = []
    for network in (
        Delivery.objects.filter(post__workspace=workspace).values_list("channel__network", flat=True).distinct()
    ):
        try:
            if get_network(network).assisted:
                assisted.append(network)
        except UnknownNetwork:
            continue
    deliveries = (
        Delivery.objects.filter(
            post__workspace=workspace, channel__network__in=assisted, state=Delivery.State.PUBLISHED
        )
        .exclude(remote_url="")
        .select_related("channel")
    )
    return {normalise_url(delivery.remote_url): delivery for delivery in deliveries}


def parse_count(value: str) -> int | None:
    """A whole number of at least 0, with or without thousands separators; None otherwise."""
    value = value.strip()
    if not _NUMBER.match(value):
        return None
    return int(re.sub(r"\D", "", value))


def _parse(value: str, formats: tuple[str, ...]) -> dt.datetime | None:
    for format in formats:
        try:
            return dt.datetime.strptime(value, format)
        except ValueError:
            continue
    return None


def read_metrics_csv(workspace: Workspace, data: bytes, *, now: dt.datetime | None = None) -> Preview:
    """Parse and check a CSV file of figures for `workspace`. Writes nothing. A file that cannot
    be read at all raises ActionError; everything else is in `Preview.problems`."""
    now = now or timezone.now()
    table = read_table(data, max_bytes=post_imports.MAX_BYTES, known=lambda name: _column_for(name) is not None)
    columns = map_columns(table.header, _column_for)
    names, problems = columns.names, columns.problems
    if "url" not in names or "date" not in names:
        raise ActionError(
            _(
                "The file needs a “url” column (German: “Adresse”) with the address of each post and a “date” "
                "column (German: “Datum”). The first row must name the columns."
            )
        )
    if not any(figure in names for figure in FIGURES):
        raise ActionError(_("The file has no column of figures: impressions, likes, comments, shares or clicks."))
    rows_with_content = content_rows(table.body, MAX_ROWS)
    deliveries = manual_deliveries(workspace)
    rows: list[Row] = []
    seen: dict[tuple[int, dt.datetime], int] = {}
    for number, cells in rows_with_content:
        row = _read_row(workspace, number, columns.values(cells), names, deliveries, now)
        if row.delivery is not None and row.observed_at is not None:
            key = (row.delivery.pk, row.observed_at)
            if key in seen:
                row.problems.append(
                    Problem(
                        number,
                        names["date"],
                        _("Row %(row)d has figures of the same post at the same time.") % {"row": seen[key]},
                    )
                )
            else:
                seen[key] = number
        rows.append(row)
        problems.extend(row.problems)
    if not rows:
        problems.append(Problem(0, "", _("The file has a header but no figures.")))
    return Preview(
        rows=rows,
        problems=problems,
        encoding=table.encoding,
        delimiter=table.delimiter,
        ignored_columns=columns.ignored,
    )


def _read_row(
    workspace: Workspace,
    number: int,
    values: dict[str, str],
    names: dict[str, str],
    deliveries: dict[str, Delivery],
    now: dt.datetime,
) -> Row:
    row = Row(number=number)

    def problem(column: str, message: str) -> None:
        row.problems.append(Problem(number, names.get(column, column), message))

    row.url = values.get("url", "").strip()
    if not row.url:
        problem("url", _("The address of the post is missing."))
    else:
        row.delivery = deliveries.get(normalise_url(row.url))
        if row.delivery is None:
            problem(
                "url",
                _("No published post of this workspace has the address “%(url)s” (a post you confirmed by hand).")
                % {"url": row.url[:200]},
            )

    date_value = values.get("date", "").strip()
    time_value = values.get("time", "").strip()
    if not time_value and " " in date_value:  # "2026-05-04 09:30" in one cell
        date_value, _space, time_value = date_value.partition(" ")
        time_value = time_value.strip()
    day = _parse(date_value, post_imports.DATE_FORMATS) if date_value else None
    clock = _parse(time_value, post_imports.TIME_FORMATS) if time_value else None
    if not date_value:
        problem("date", _("The date is missing."))
    elif day is None:
        problem("date", _("“%(value)s” is not a date: write 2026-05-04 or 04.05.2026.") % {"value": date_value})
    if time_value and clock is None:
        problem("time", _("“%(value)s” is not a time: write 09:30.") % {"value": time_value})
    if day is not None and (clock is not None or not time_value):
        # Without a time, figures count as read at the start of that day.
        row.local = dt.datetime.combine(day.date(), clock.time() if clock is not None else dt.time(0, 0))
        try:
            row.observed_at = local_to_utc(row.local, workspace.tz).astimezone(dt.UTC)
        except ValueError as exc:
            problem("time", local_time_problem(exc, workspace.time_zone))
        else:
            if row.observed_at > now:
                problem("date", _("This date is in the future."))
            elif row.delivery is not None and row.delivery.published_at is not None:
                published = timezone.localtime(row.delivery.published_at, workspace.tz).date()
                if row.local.date() < published:
                    problem("date", _("The post was published only on %(day)s.") % {"day": published.isoformat()})

    given = False
    for figure in FIGURES:
        raw = values.get(figure, "").strip()
        count = parse_count(raw) if raw else None
        if raw and count is None:
            problem(figure, _("“%(value)s” is not a whole number of 0 or more.") % {"value": raw[:50]})
        row.values[figure] = count
        given = given or bool(raw)
    if not given:
        problem("", _("This row has no figures."))
    return row
