"""What the CSV imports with a preview (posts, figures of posts, Search Console figures; docs/import.md)
share: reading an uploaded file into rows with their numbers, the problems found in it, keeping
the file between preview and confirm, and the "imported already" check of the confirm step.

Each import keeps its own columns, checks and limits and calls these helpers with them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from stammtisch.core.actions import ActionError
from stammtisch.core.models import AuditEvent, Workspace

DELIMITERS = (";", ",", "\t")
UPLOAD_MAX_AGE = dt.timedelta(hours=24)
PREVIEW_ROWS = 300  # rows shown in a preview table; every problem is listed regardless

_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Problem:
    """Something wrong in the file: `row` as a spreadsheet numbers it (the header is row 1; 0
    for the file as a whole), `column` as the file names it."""

    row: int
    column: str
    message: str


class PreviewChecks:
    """`ok` and `bad_rows` of a preview dataclass with `rows` and `problems`."""

    rows: list[Any]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.problems

    @property
    def bad_rows(self) -> list[int]:
        return sorted({problem.row for problem in self.problems if problem.row})


# --- Reading the file ------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text of the file and the name of its encoding: UTF-8 (with or without the BOM Excel
    writes), UTF-16 with a BOM (Excel's "Unicode text"), else Windows-1252 (Excel in Germany)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        raise ActionError(
            _("The file is neither UTF-8 nor Windows-1252 text. Save it as “CSV UTF-8” and upload it again.")
        ) from None


def normalise(name: str) -> str:
    """A header as the ALIASES of the imports write it: lower case, spaces and hyphens as underscores."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def sniff_delimiter(text: str, known: Callable[[str], bool]) -> str:
    """The delimiter whose split of the header row names the most columns `known` recognises
    (German Excel writes semicolons, most other tools commas)."""
    first_line = text.split("\n", 1)[0]
    best, best_score = ",", -1
    for delimiter in DELIMITERS:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        score = sum(1 for name in header if known(name))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def too_large_message(max_bytes: int) -> str:
    return _("The file is larger than %(size)d MB. Split it into several files.") % {"size": max_bytes // 1024 // 1024}


@dataclass
class Table:
    """A file split into its header and the rows below it."""

    header: list[str]
    body: list[list[str]]
    encoding: str
    delimiter: str


def read_table(data: bytes, *, max_bytes: int, known: Callable[[str], bool], too_large: str = "") -> Table:
    """Decode and split a CSV file, the delimiter guessed from the header names `known`
    recognises. ActionError (`too_large`, or the usual message) when it cannot be read at all."""
    if len(data) > max_bytes:
        raise ActionError(too_large or too_large_message(max_bytes))
    text, encoding = decode(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ActionError(_("The file is empty."))
    delimiter = sniff_delimiter(text, known)
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise ActionError(_("The file is not valid CSV: %(error)s") % {"error": exc}) from None
    return Table(header=records[0], body=records[1:], encoding=encoding, delimiter=delimiter)


@dataclass
class Columns:
    """The header read: `positions` position -> field, `names` field -> the header as the file
    writes it, `problems` (a column twice), `ignored` the headers no field reads."""

    positions: dict[int, str]
    names: dict[str, str]
    problems: list[Problem]
    ignored: list[str]

    def values(self, cells: list[str]) -> dict[str, str]:
        """A row's cells by field ("" where the row is short)."""
        return {column: cells[position] if position < len(cells) else "" for position, column in self.positions.items()}


def map_columns(header: list[str], column_for: Callable[[str], str | None]) -> Columns:
    columns = Columns(positions={}, names={}, problems=[], ignored=[])
    for position, name in enumerate(header):
        column = column_for(name)
        if column is None:
            if name.strip():
                columns.ignored.append(name.strip())
            continue
        if column in columns.names:
            columns.problems.append(
                Problem(1, name, _("The column “%(name)s” appears twice.") % {"name": name.strip()})
            )
            continue
        columns.positions[position] = column
        columns.names[column] = name.strip()
    return columns


def content_rows(body: list[list[str]], max_rows: int) -> list[tuple[int, list[str]]]:
    """The rows that are not empty with their numbers as a spreadsheet shows them (the header
    is row 1); ActionError when there are more than `max_rows`."""
    rows = [(number, cells) for number, cells in enumerate(body, start=2) if any(c.strip() for c in cells)]
    if len(rows) > max_rows:
        raise ActionError(
            _("The file has %(count)d rows; at most %(max)d can be imported at once. Split it into several files.")
            % {"count": len(rows), "max": max_rows}
        )
    return rows


# --- The file between preview and confirm ----------------------------------------------------


def user_id(request: HttpRequest) -> int:
    return int(request.user.pk or 0)  # workspace_view: always a signed-in member


def _folder(workspace: Workspace, user_id: int) -> str:
    return f"imports/{workspace.pk}/{user_id}"


def store_upload(workspace: Workspace, user_id: int, data: bytes, *, filename: str, queue: bool) -> str:
    """Keep an uploaded file for the confirm step; returns its token. Files of this user and
    workspace older than a day are removed on the way."""
    folder = _folder(workspace, user_id)
    _sweep(folder)
    token = secrets.token_hex(16)
    meta = {"filename": filename[:200], "queue": queue, "created": timezone.now().isoformat()}
    default_storage.save(f"{folder}/{token}.csv", ContentFile(data))
    default_storage.save(f"{folder}/{token}.json", ContentFile(json.dumps(meta).encode()))
    return token


def load_upload(workspace: Workspace, user_id: int, token: str) -> tuple[bytes, dict[str, Any]] | None:
    """The file and its settings stored under `token` by this user in this workspace, or None
    (unknown, malformed, someone else's or expired)."""
    if not _TOKEN.match(token or ""):
        return None
    folder = _folder(workspace, user_id)
    try:
        with default_storage.open(f"{folder}/{token}.json") as handle:
            meta = json.loads(handle.read())
        with default_storage.open(f"{folder}/{token}.csv") as handle:
            data = handle.read()
    except (OSError, ValueError):
        return None
    created = dt.datetime.fromisoformat(meta.get("created", "1970-01-01T00:00:00+00:00"))
    if timezone.now() - created > UPLOAD_MAX_AGE:
        discard_upload(workspace, user_id, token)
        return None
    return data, meta


def discard_upload(workspace: Workspace, user_id: int, token: str) -> None:
    if not _TOKEN.match(token or ""):
        return
    folder = _folder(workspace, user_id)
    for suffix in (".csv", ".json"):
        default_storage.delete(f"{folder}/{token}{suffix}")


def _sweep(folder: str) -> None:
    try:
        _dirs, files = default_storage.listdir(folder)
    except (OSError, NotImplementedError):
        return
    limit = timezone.now() - UPLOAD_MAX_AGE
    for name in files:
        try:
            if default_storage.get_modified_time(f"{folder}/{name}") < limit:
                default_storage.delete(f"{folder}/{name}")
        except (OSError, NotImplementedError):
            continue


def preview_token(request: HttpRequest, ok: bool, data: bytes, *, filename: str, queue: bool = False) -> str:
    """The token of the stored upload for the preview's "Import" button; "" (nothing stored)
    when the file cannot be imported."""
    if not ok:
        return ""
    return store_upload(request.workspace, user_id(request), data, filename=filename, queue=queue)  # type: ignore[attr-defined]


def preview_rows(rows: list[Any]) -> dict[str, Any]:
    """The rows a preview table shows and how many more there are."""
    return {"rows": rows[:PREVIEW_ROWS], "more_rows": max(0, len(rows) - PREVIEW_ROWS)}


# --- The import ------------------------------------------------------------------------------


def problems_message(problems: list[Problem]) -> str:
    rows = len({problem.row for problem in problems})
    return ngettext(
        "The file has problems in %(rows)d row; nothing was imported. Fix them and upload the file again.",
        "The file has problems in %(rows)d rows; nothing was imported. Fix them and upload the file again.",
        rows,
    ) % {"rows": rows}


def lock_for_import(workspace: Workspace, action: str, token: str) -> None:
    """Run the imports of a workspace one at a time (a lock on its row, inside the caller's
    transaction) and refuse a second import under the same preview token: a second click on
    "Import" does not import twice."""
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
    if token and AuditEvent.objects.filter(workspace=workspace, action=action, data__token=token).exists():
        raise ActionError(_("This file was imported already."))
