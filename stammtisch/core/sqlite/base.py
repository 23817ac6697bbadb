"""Django's SQLite backend with a writer lock that waiters take within microseconds of its
release (settings.py uses it).

SQLite lets one connection write at a time. A connection that finds the database locked sleeps
in SQLite's busy handler: 1 ms, then 2, 5, 10, ... up to 100 ms between tries, however soon the
lock is free again. Two processes that both write often (the web server and a worker, or two
workers) lose most of their time that way: with two workers publishing, the one that waits
sleeps through dozens of the other's short transactions, and two workers published no more
than one (docs/benchmarks.md).

So every write transaction (Django's `atomic`, which begins `IMMEDIATE`) first takes an
exclusive `flock` on a file next to the database (`<database>-writer`), and only then begins.
A waiter first keeps trying without sleeping for SPIN seconds (yielding the CPU between tries),
then sleeps between tries, a few microseconds at first, 0.5 ms at most. Most transactions hold
the lock for well under a millisecond, and a sleeping waiter wakes late (the kernel's timer
slack alone is 50 microseconds, and the pauses grow): with two workers publishing, each slept
through about an eighth of the run while the lock was free (docs/benchmarks.md). Spinning
briefly before sleeping is what PostgreSQL's and glibc's locks do too; on a machine with one
CPU it would only keep the holder from running, so there the waiter sleeps at once.

The kernel drops the lock of a process that dies; a process forked with an open lock file opens
its own. Whoever does not take it (the sqlite3 shell, a write outside `atomic`) is still kept
out by SQLite's own lock, as before. A waiter gives up on the flock after the
connection's timeout and goes on to SQLite's own lock and busy handler, so it never waits
longer than it would have without this.

Checkpoints (copying the write-ahead log back into the database file, with an fsync) happen
after the writer lock is released: SQLite's own automatic checkpoint runs inside the COMMIT
that crosses its threshold, so under the writer lock every other writer would wait for it too
(milliseconds on a slow disk, every few hundred commits). A connection that committed under the
lock runs a PASSIVE checkpoint (it never blocks writers) once CHECKPOINT_EVERY seconds have passed
since its last one. SQLite's automatic checkpoint stays on as a safety net, at
CHECKPOINT_FALLBACK_PAGES, for processes that write only outside transactions.
"""

from __future__ import annotations

import fcntl
import functools
import os
import time
from collections.abc import Sequence
from typing import Any

from django.db.backends.sqlite3 import base

FIRST_PAUSE = 0.00002  # seconds
LONGEST_PAUSE = 0.0005
SPIN = 0.002 if (os.cpu_count() or 1) > 1 else 0.0  # seconds a waiter tries without sleeping
CHECKPOINT_EVERY = 0.5  # seconds between a connection's checkpoints while it commits
CHECKPOINT_FALLBACK_PAGES = 10_000  # SQLite's automatic checkpoint (default 1,000 pages)


class DatabaseWrapper(base.DatabaseWrapper):
    _writer_fd: int | None = None
    _writer_pid = 0  # the process that opened `_writer_fd` (a forked child shares it otherwise)
    _writer_held = False
    _checkpointed_at = 0.0  # monotonic seconds of this connection's last checkpoint

    def get_new_connection(self, conn_params: Any) -> Any:
        conn = super().get_new_connection(conn_params)
        if self._writer_path() is not None:
            conn.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_FALLBACK_PAGES}")
        return conn

    def _writer_path(self) -> str | None:
        name = str(self.settings_dict["NAME"])
        if not name or self.is_in_memory_db():
            return None
        return f"{name}-writer"

    def _take_writer_lock(self) -> None:
        if self._writer_fd is None or self._writer_pid != os.getpid():
            path = self._writer_path()
            if path is None:
                return
            self._writer_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._writer_pid = os.getpid()
            self._writer_held = False
        try:
            fcntl.flock(self._writer_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._wait_for_writer_lock(self._writer_fd)
        else:
            self._writer_held = True

    def _wait_for_writer_lock(self, fd: int) -> None:
        """The lock is taken: try again, first without sleeping for SPIN seconds, then with
        growing pauses, until the connection's timeout (see the module's docstring)."""
        started = time.monotonic()
        spin_until = started + SPIN
        deadline = started + float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        pause = FIRST_PAUSE
        while True:
            now = time.monotonic()
            if now >= spin_until:
                if now > deadline:
                    return  # SQLite's own lock and busy handler take over
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
            else:
                os.sched_yield()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            self._writer_held = True
            return

    def _drop_writer_lock(self) -> None:
        if self._writer_held and self._writer_fd is not None:
            self._writer_held = False
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)

    def _checkpoint(self) -> None:
        """After a commit, with the writer lock released: a PASSIVE checkpoint, at most every
        CHECKPOINT_EVERY seconds (see the module's docstring)."""
        now = time.monotonic()
        if now - self._checkpointed_at < CHECKPOINT_EVERY or self.connection is None:
            return
        self._checkpointed_at = now
        self.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _start_transaction_under_autocommit(self) -> None:
        self._take_writer_lock()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # (not in the stubs)
        except BaseException:
            self._drop_writer_lock()
            raise

    def _commit(self) -> Any:
        held = self._writer_held
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._drop_writer_lock()
            if held:
                self._checkpoint()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._drop_writer_lock()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._drop_writer_lock()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
                self._writer_fd = None

    def write_one(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one write statement (`%s` placeholders) as a transaction of its own and return
        its rows (RETURNING). Outside `atomic` it goes to the driver directly, under the writer
        lock: BEGIN IMMEDIATE, the statement, COMMIT. Django's `atomic` and cursor wrappers
        cost about 30 microseconds more, all of it while holding the lock that every other
        writer waits for. Inside `atomic` (a caller's transaction) it is a plain statement."""
        if self.in_atomic_block:
            with self.cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall()
        self.ensure_connection()
        begin = f"BEGIN {getattr(self, 'transaction_mode', None) or ''}"  # (all made before the lock)
        statement = _qmark(statement)
        cursor = self.connection.cursor()
        try:
            with self.wrap_database_errors:
                self._take_writer_lock()
                try:
                    cursor.execute(begin)
                    try:
                        cursor.execute(statement, params)
                        rows = cursor.fetchall()
                    except BaseException:
                        cursor.execute("ROLLBACK")
                        raise
                    cursor.execute("COMMIT")
                finally:
                    self._drop_writer_lock()
        finally:
            cursor.close()
        self._checkpoint()
        return rows


@functools.lru_cache(maxsize=64)
def _qmark(statement: str) -> str:
    """`%s` placeholders as the sqlite3 driver's `?` (our own statements: no literal `%`)."""
    assert "%%" not in statement and "?" not in statement
    return statement.replace("%s", "?")
