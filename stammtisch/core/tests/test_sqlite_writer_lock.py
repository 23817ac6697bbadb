"""The SQLite backend's writer lock (core/sqlite/base.py): a write transaction waits for the
one before it and starts the moment it ends, and nothing is lost on errors. These tests open
their own database files, so they run the same whatever database the suite uses."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError

from stammtisch.core.sqlite import base as sqlite_base
from stammtisch.core.sqlite.base import DatabaseWrapper


def wrapper(path: Path, timeout: float = 5) -> DatabaseWrapper:
    settings = {
        "ENGINE": "stammtisch.core.sqlite",
        "NAME": str(path),
        "OPTIONS": {"timeout": timeout, "transaction_mode": "IMMEDIATE"},
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {},
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
    }
    return DatabaseWrapper(settings, alias=f"writer-test-{path.name}")


def begin(db: DatabaseWrapper) -> None:
    """What `atomic()` does on entry (BEGIN IMMEDIATE after the writer lock)."""
    db.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def end(db: DatabaseWrapper, *, commit: bool = True) -> None:
    db.commit() if commit else db.rollback()
    db.set_autocommit(True)


def lock_is_free(path: Path) -> bool:
    fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.fixture(autouse=True)
def own_databases(django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock():  # files of these tests' own, not the suite's database
        yield


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "writer.sqlite3"
    db = wrapper(path)
    db.write_one("CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL UNIQUE)", [])
    db.close()
    return path


def names(path: Path) -> list[str]:
    db = wrapper(path)
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT name FROM item ORDER BY id")
            return [row[0] for row in cursor.fetchall()]
    finally:
        db.close()


def test_a_transaction_holds_the_lock_until_commit_or_rollback(database: Path) -> None:
    db = wrapper(database)
    for commit in (True, False):
        begin(db)
        assert not lock_is_free(database)
        end(db, commit=commit)
        assert lock_is_free(database)
    begin(db)
    db.close()  # a connection closed mid-transaction lets go too
    assert lock_is_free(database)


def test_a_writer_waits_for_the_transaction_before_it_and_then_writes(database: Path) -> None:
    holder = wrapper(database)
    begin(holder)
    with holder.cursor() as cursor:
        cursor.execute("INSERT INTO item (name) VALUES (%s)", ["first"])
    done: dict[str, Any] = {}

    def write() -> None:
        db = wrapper(database)
        try:
            done["rows"] = db.write_one("INSERT INTO item (name) VALUES (%s) RETURNING id", ["second"])
            done["at"] = time.monotonic()
        finally:
            db.close()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.3)
    assert "rows" not in done  # still waiting for the lock
    released = time.monotonic()
    end(holder)
    thread.join(5)
    holder.close()

    assert done["rows"] == [(2,)]
    assert done["at"] - released < 0.1  # it starts as soon as the lock is free
    assert names(database) == ["first", "second"]


def test_a_failing_write_raises_djangos_error_writes_nothing_and_lets_go(database: Path) -> None:
    db = wrapper(database)
    db.write_one("INSERT INTO item (name) VALUES (%s)", ["anna"])

    with pytest.raises(IntegrityError):
        db.write_one("INSERT INTO item (name) VALUES (%s), (%s)", ["ben", "anna"])

    assert lock_is_free(database)
    assert names(database) == ["anna"]
    assert db.write_one("INSERT INTO item (name) VALUES (%s) RETURNING name", ["ben"]) == [("ben",)]
    db.close()


def test_inside_a_transaction_it_is_a_plain_statement_of_that_transaction(database: Path) -> None:
    db = wrapper(database)
    begin(db)
    db.in_atomic_block = True  # as inside `atomic()`
    db.write_one("INSERT INTO item (name) VALUES (%s)", ["later undone"])
    db.in_atomic_block = False
    end(db, commit=False)
    db.close()

    assert names(database) == []


def test_a_lock_held_too_long_is_given_up_for_sqlites_own(database: Path) -> None:
    stuck = os.open(f"{database}-writer", os.O_RDWR)
    fcntl.flock(stuck, fcntl.LOCK_EX)  # a holder that never lets go (the database is free)
    db = wrapper(database, timeout=0.2)
    started = time.monotonic()

    db.write_one("INSERT INTO item (name) VALUES (%s)", ["written anyway"])

    assert 0.2 <= time.monotonic() - started < 2
    os.close(stuck)
    db.close()
    assert names(database) == ["written anyway"]


@pytest.mark.parametrize("spin", [0.05, 0.0])
def test_a_waiter_tries_without_sleeping_for_a_moment_then_sleeps_between_tries(
    database: Path, monkeypatch: pytest.MonkeyPatch, spin: float
) -> None:
    stuck = os.open(f"{database}-writer", os.O_RDWR)
    fcntl.flock(stuck, fcntl.LOCK_EX)
    events: list[tuple[str, float]] = []

    def sleep(seconds: float) -> None:  # the first pause: the holder lets go meanwhile
        events.append(("sleep", time.monotonic()))
        fcntl.flock(stuck, fcntl.LOCK_UN)

    monkeypatch.setattr(sqlite_base, "SPIN", spin)
    monkeypatch.setattr(sqlite_base.time, "sleep", sleep)
    monkeypatch.setattr(sqlite_base.os, "sched_yield", lambda: events.append(("yield", time.monotonic())))
    db = wrapper(database)
    started = time.monotonic()

    db.write_one("INSERT INTO item (name) VALUES (%s)", ["after the wait"])

    kinds = [kind for kind, _at in events]
    assert kinds.count("sleep") == 1
    first_sleep = next(at for kind, at in events if kind == "sleep")
    if spin:
        assert kinds[0] == "yield" and kinds[-1] == "sleep"  # tried again and again, then slept
        assert first_sleep - started >= spin
    else:
        assert kinds == ["sleep"]  # (one CPU: no spinning)
    os.close(stuck)
    db.close()
    assert names(database) == ["after the wait"]


def test_the_log_is_copied_back_after_the_lock_is_released_at_most_every_so_often(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = wrapper(database)
    with db.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == sqlite_base.CHECKPOINT_FALLBACK_PAGES  # SQLite's own: a safety net only
    lock_free_at_checkpoint: list[bool] = []
    checkpoint = DatabaseWrapper._checkpoint

    def spy(self: DatabaseWrapper) -> None:
        lock_free_at_checkpoint.append(lock_is_free(database))
        checkpoint(self)

    monkeypatch.setattr(DatabaseWrapper, "_checkpoint", spy)
    size = database.stat().st_size
    monkeypatch.setattr(sqlite_base, "CHECKPOINT_EVERY", 3600.0)
    db._checkpointed_at = time.monotonic()  # one just happened: the next is an hour away
    db.write_one("INSERT INTO item (name) VALUES (%s)", ["x" * 100_000])
    assert database.stat().st_size == size  # in the log only

    monkeypatch.setattr(sqlite_base, "CHECKPOINT_EVERY", 0.0)
    begin(db)
    with db.cursor() as cursor:
        cursor.execute("INSERT INTO item (name) VALUES (%s)", ["y" * 100_000])
    end(db)
    assert database.stat().st_size > size + 150_000  # both rows copied into the database file
    db.write_one("INSERT INTO item (name) VALUES (%s)", ["z"])

    assert lock_free_at_checkpoint == [True, True, True]  # after each commit, never under the lock
    db.close()
    assert names(database) == ["x" * 100_000, "y" * 100_000, "z"]
