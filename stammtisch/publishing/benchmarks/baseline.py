"""The baseline of `stammtisch bench publish`: the least an exactly-once publisher must write.

A minimal job loop on the database driver itself (sqlite3 or psycopg, no Django): claim one due
row and commit, then mark it done and commit. It runs in the same database as the publisher's run,
with the same number of processes and the same connection settings (SQLite: WAL, synchronous
NORMAL, busy timeout, IMMEDIATE transactions, as in settings.py).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg

LEASE_SECONDS = 300  # as long as the lease the SQL below writes on PostgreSQL


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def sqlite_path(url: str) -> str:
    return urlsplit(url).path[1:] if url.startswith("sqlite:///") else url.removeprefix("sqlite://")


@contextmanager
def connect(url: str) -> Iterator[Any]:
    db: Any
    if is_sqlite(url):
        db = sqlite3.connect(sqlite_path(url), timeout=20, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=20000")
    else:
        db = psycopg.connect(url)
    try:
        yield db
    finally:
        db.close()


def prepare(url: str, rows: int, due_at: dt.datetime) -> None:
    """Create the job table with `rows` rows due at `due_at`."""
    with connect(url) as db:
        if is_sqlite(url):
            db.execute(
                "CREATE TABLE bench_baseline (id INTEGER PRIMARY KEY, state TEXT NOT NULL, due_at TEXT NOT NULL, "
                "lease_owner TEXT NOT NULL DEFAULT '', lease_until TEXT)"
            )
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO bench_baseline (state, due_at) VALUES ('due', ?)",
                [(due_at.isoformat(),)] * rows,
            )
            db.execute("CREATE INDEX bench_baseline_due ON bench_baseline (state, due_at, id)")
            db.execute("COMMIT")
        else:
            with db.cursor() as cursor:
                cursor.execute(
                    "CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, state text NOT NULL, "
                    "due_at timestamptz NOT NULL, lease_owner text NOT NULL DEFAULT '', lease_until timestamptz)"
                )
                cursor.execute(
                    "INSERT INTO bench_baseline (state, due_at) SELECT 'due', %s FROM generate_series(1, %s)",
                    [due_at, rows],
                )
                cursor.execute("CREATE INDEX bench_baseline_due ON bench_baseline (state, due_at, id)")
            db.commit()
            db.execute("ANALYZE bench_baseline")
            db.commit()


def drop(url: str) -> None:
    with connect(url) as db:
        db.execute("DROP TABLE IF EXISTS bench_baseline")
        if not is_sqlite(url):
            db.commit()


def work(url: str, worker: str, start_at: float) -> tuple[int, float]:
    """Claim and finish jobs one at a time until none is due, starting at `start_at` (epoch
    seconds). Returns (jobs done, epoch seconds when the last one was done)."""
    done = 0
    finished = start_at
    with connect(url) as db:
        time.sleep(max(0.0, start_at - time.time()))
        if is_sqlite(url):
            while True:
                now = dt.datetime.now(dt.UTC)
                db.execute("BEGIN IMMEDIATE")
                row = db.execute(
                    "UPDATE bench_baseline SET state = 'running', lease_owner = ?, lease_until = ? WHERE id = "
                    "(SELECT id FROM bench_baseline WHERE state = 'due' AND due_at <= ? ORDER BY due_at, id LIMIT 1) "
                    "RETURNING id",
                    [worker, (now + dt.timedelta(seconds=LEASE_SECONDS)).isoformat(), now.isoformat()],
                ).fetchone()
                db.execute("COMMIT")
                if row is None:
                    break
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "UPDATE bench_baseline SET state = 'done', lease_owner = '', lease_until = NULL "
                    "WHERE id = ? AND lease_owner = ?",
                    [row[0], worker],
                )
                db.execute("COMMIT")
                done += 1
                finished = time.time()
        else:
            while True:
                row = db.execute(
                    "UPDATE bench_baseline SET state = 'running', lease_owner = %s, "
                    "lease_until = now() + interval '300 seconds' WHERE id = "
                    "(SELECT id FROM bench_baseline WHERE state = 'due' AND due_at <= now() ORDER BY due_at, id "
                    "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                    [worker],
                ).fetchone()
                db.commit()
                if row is None:
                    break
                db.execute(
                    "UPDATE bench_baseline SET state = 'done', lease_owner = '', lease_until = NULL "
                    "WHERE id = %s AND lease_owner = %s",
                    [row[0], worker],
                )
                db.commit()
                done += 1
                finished = time.time()
    return done, finished
