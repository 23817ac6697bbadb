"""The click spool: how the redirector stores a click before it answers, fast and crash-safe
(docs/links.md "The redirector").

Writing (each web process, `SpoolWriter.append`): one click is one line of JSON, written with a
single `os.write` to the process's own spool file, opened with `O_APPEND`. The kernel appends a
small write as a whole, and once `os.write` has returned the line is in the file: a process
killed right after sending its 302 (even SIGKILL) loses nothing. An OS crash or a power cut
before the page cache reaches the disk could lose the last clicks; `STAMMTISCH_CLICK_SPOOL_FSYNC`
makes every click wait for the disk instead (much slower).

A writer holds an exclusive `flock` on its file while it may still write to it and starts a new
file every ROTATE_RECORDS clicks or ROTATE_SECONDS. A file is created under a `.tmp` name, locked,
and only then renamed to `*.clicks`, so an importer never sees a file before its writer holds it.

Importing (`import_spool`, the worker's "click import" job): every `*.clicks` file is read from
the importer's last position; complete lines go into the Click table in batches with
`ignore_conflicts` (each line carries the click's unique `uid`, so importing a line twice stores
it once). A file whose lock the importer can take is finished (its writer moved on, stopped or
died: the kernel releases a dead process's lock); it is deleted only after all its lines are
committed. A torn last line (no newline) of a finished file was never completed, so its 302 was
never sent: it is dropped.

This module imports nothing from Django at the top: a writer works before Django is set up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUFFIX = ".clicks"
ROTATE_RECORDS = 20_000
ROTATE_SECONDS = 300.0
IMPORT_BATCH = 1000
STORE_ROWS = 250
# Record fields, in this order.
FIELDS = (
    "uid",
    "link_id",
    "workspace_id",
    "post_id",
    "channel_id",
    "occurred_at",  # POSIX time stamp
    "referrer_domain",
    "device",
    "visitor_hash",
    "is_bot",
    "via_qr",
)


def encode(record: tuple[Any, ...]) -> bytes:
    """One record as one line (no newline inside: JSON escapes control characters)."""
    return (json.dumps(record) + "\n").encode()


class SpoolWriter:
    """The spool file of this process. Thread-safe; after a fork (or a new directory) the next
    `append` opens a file of its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fd = -1
        self.key: tuple[int, str] = (0, "")
        self.count = 0
        self.opened_at = 0.0
        self.sequence = 0
        self.name = ""

    def append(self, line: bytes, directory: Path, *, fsync: bool = False) -> None:
        """Write one record. Returns only when the line is in the file (with `fsync`: on disk);
        raises OSError if it could not be written (the request then fails, nothing is sent)."""
        key = (os.getpid(), str(directory))
        with self.lock:
            if self.fd < 0 or self.key != key:
                self._open(directory, key)
            elif self.count >= ROTATE_RECORDS or time.monotonic() - self.opened_at > ROTATE_SECONDS:
                self._close()
                self._open(directory, key)
            written = os.write(self.fd, line)
            if written != len(line):  # a regular file takes a small write whole; never seen
                raise OSError(f"short write to the click spool ({written} of {len(line)} bytes)")
            if fsync:
                os.fsync(self.fd)
            self.count += 1

    def _open(self, directory: Path, key: tuple[int, str]) -> None:
        if self.key[0] != key[0]:
            if self.fd >= 0:  # a forked child: drop its copy of the parent's descriptor
                os.close(self.fd)
            self.fd = -1
            self.name = f"{socket.gethostname()[:40]}.{key[0]}.{secrets.token_hex(4)}"
            self.sequence = 0
        elif self.fd >= 0:
            self._close()
        directory.mkdir(parents=True, exist_ok=True)
        self.sequence += 1
        final = directory / f"{self.name}.{self.sequence:06d}{SUFFIX}"
        temporary = final.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(temporary, final)
        except BaseException:
            os.close(fd)
            raise
        self.fd, self.key, self.count, self.opened_at = fd, key, 0, time.monotonic()

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock: the file is finished
        self.fd = -1

    def close(self) -> None:
        with self.lock:
            self._close()


WRITER = SpoolWriter()


# --- importing ------------------------------------------------------------------------------------


class Importer:
    """Reads spool files into the Click table. Keeps the position reached in each file still
    being written, so a pass reads only what is new."""

    def __init__(self) -> None:
        self.positions: dict[tuple[str, int], int] = {}
        self.lock = threading.Lock()

    def run(self, directory: Path) -> int:
        """One pass over all spool files; returns how many lines were imported (a line imported
        before counts again: duplicates are ignored by the database)."""
        if not directory.is_dir():
            return 0
        imported = 0
        with self.lock:
            seen: set[tuple[str, int]] = set()
            for path in sorted(directory.glob(f"*{SUFFIX}")):
                with contextlib.suppress(FileNotFoundError):
                    imported += self._file(path, seen)
            self.positions = {key: value for key, value in self.positions.items() if key in seen}
            _remove_stale_temporaries(directory)
        return imported

    def _file(self, path: Path, seen: set[tuple[str, int]]) -> int:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            key = (str(path), os.fstat(fd).st_ino)
            seen.add(key)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                finished = True
            except BlockingIOError:
                finished = False  # its writer holds it (or another importer is at it)
            start = self.positions.get(key, 0)
            os.lseek(fd, start, os.SEEK_SET)
            data = _read_all(fd)
            end = data.rfind(b"\n") + 1
            lines = data[:end].splitlines()
            for offset in range(0, len(lines), IMPORT_BATCH):
                store(parse(lines[offset : offset + IMPORT_BATCH], path))
            self.positions[key] = start + end
            if finished:
                if end < len(data):
                    log.warning("click spool %s: dropped an unfinished last line (never answered)", path.name)
                path.unlink(missing_ok=True)  # every line is committed
            return len(lines)
        finally:
            os.close(fd)  # releases our lock


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _remove_stale_temporaries(directory: Path) -> None:
    """A writer killed between creating and renaming its file leaves an empty `.tmp` file."""
    for path in directory.glob("*.tmp"):
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if time.time() - os.fstat(fd).st_mtime > 60:
                    path.unlink()
            finally:
                os.close(fd)


def parse(lines: Iterable[bytes], path: Path) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        try:
            values = json.loads(line)
            if not isinstance(values, list) or len(values) != len(FIELDS):
                raise ValueError("wrong number of fields")
        except ValueError:
            log.error("click spool %s: skipped a line that is no click record: %r", path.name, line[:200])
            continue
        record = dict(zip(FIELDS, values, strict=True))
        record["occurred_at"] = dt.datetime.fromtimestamp(float(record["occurred_at"]), tz=dt.UTC)
        records.append(record)
    return records


def store(records: list[dict[str, Any]]) -> None:
    """Insert the clicks in one transaction; a click already stored (same uid) is skipped. Clicks
    of a link deleted meanwhile are dropped (deleting a link deletes its clicks); a deleted post
    or channel is left empty, as the foreign keys do for stored clicks. One multi-row INSERT per
    STORE_ROWS: the ORM's bulk_create costs several times the CPU per row, and the worker shares
    the machine with the web processes."""
    if not records:
        return
    from django.db import connection, transaction

    from stammtisch.links.models import Click, ShortLink
    from stammtisch.networks.models import Channel
    from stammtisch.publishing.models import Post

    links = set(ShortLink.objects.filter(pk__in={r["link_id"] for r in records}).values_list("pk", flat=True))
    posts = set(Post.objects.filter(pk__in={r["post_id"] for r in records} - {None}).values_list("pk", flat=True))
    channels = set(
        Channel.objects.filter(pk__in={r["channel_id"] for r in records} - {None}).values_list("pk", flat=True)
    )
    occurred_at = Click._meta.get_field("occurred_at")
    rows = []
    for record in records:
        if record["link_id"] not in links:
            continue
        record["post_id"] = record["post_id"] if record["post_id"] in posts else None
        record["channel_id"] = record["channel_id"] if record["channel_id"] in channels else None
        record["occurred_at"] = occurred_at.get_db_prep_value(record["occurred_at"], connection)
        rows.append([record[name] for name in FIELDS])
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in FIELDS)
    one = "(" + ", ".join(["%s"] * len(FIELDS)) + ")"
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), STORE_ROWS):
            chunk = rows[start : start + STORE_ROWS]
            cursor.execute(
                f"INSERT INTO {quote(Click._meta.db_table)} ({columns}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608 (constants)
                f"ON CONFLICT ({quote('uid')}) DO NOTHING",
                [value for row in chunk for value in row],
            )


IMPORTER = Importer()


def import_spool(directory: Path | None = None) -> int:
    """Import every spool file of `directory` (default STAMMTISCH_CLICK_SPOOL_DIR) once."""
    if directory is None:
        from django.conf import settings

        directory = settings.CLICK_SPOOL_DIR
    return IMPORTER.run(Path(directory))
