"""Kept benchmark data: what `bench people` and `bench dashboard` share (docs/benchmarks.md).

Both generate a large workspace once and keep it between runs: a SQLite file under
`DATA_DIR/bench/`, or a database of its own on the PostgreSQL server of `--database`. A meta table
in the kept database records the parameters it was generated with (sizes, seed, the generator's
version); when they match the next run reuses the data, otherwise the file is deleted (the
database dropped) and generated again. Generation and measurement run in processes of their own
with `DATABASE_URL` pointing at the kept database (`run_step`); rows are written with plain bulk
statements (`Bulk`: executemany on SQLite, COPY on PostgreSQL), never by ORM saves.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# Our answers to comments (the benchmarks' inbox messages from the café).
ANSWER_DE = (
    "Danke dir, das freut uns sehr! 😊",
    "Vielen Dank für dein Feedback!",
    "Gute Frage: wir haben täglich von 8 bis 19 Uhr geöffnet.",
    "Das tut uns leid, schreib uns gern eine Nachricht, wir kümmern uns.",
    "Ja, das gibt es auch vegan!",
    "Komm gern vorbei, wir freuen uns auf dich!",
)
ANSWER_EN = (
    "Thank you, that means a lot! 😊",
    "Thanks for the feedback!",
    "Good question: we are open daily from 8 am to 7 pm.",
    "Sorry to hear that, please send us a message and we will sort it out.",
    "Yes, there is a vegan one too!",
    "Come by any time, see you soon!",
)


@dataclass(frozen=True)
class Kept:
    url: str  # DATABASE_URL of the kept database
    vendor: str  # "sqlite" or "postgresql"
    ready: bool  # generated with the wanted parameters: reuse it
    path: Path | None  # the SQLite file


def databases(database: str | None) -> list[str]:
    """`--database` as given, or SQLite and (when it answers) the PostgreSQL server of
    STAMMTISCH_BENCH_POSTGRES (default: the local server)."""
    if database:
        return [database]
    from stammtisch.publishing.benchmarks.publish import postgres_answers

    server = os.environ.get("STAMMTISCH_BENCH_POSTGRES", DEFAULT_POSTGRES)
    return ["sqlite", server] if postgres_answers(server) else ["sqlite"]


def kept_database(database: str, *, file_name: str, database_name: str, meta_table: str, wanted: str) -> Kept:
    """The kept database for `database` ('sqlite' or a postgres:// server URL): reused when its
    meta table holds `wanted`, else emptied (file deleted, database dropped and created)."""
    from django.conf import settings

    if database == "sqlite" or database.startswith("sqlite:"):
        path = Path(settings.DATA_DIR) / "bench" / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        ready = sqlite_params(path, meta_table) == wanted
        if not ready:
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
        return Kept(f"sqlite:///{path}", "sqlite", ready, path)
    if database.startswith(("postgres://", "postgresql://")):
        url = urlunsplit(urlsplit(database)._replace(path=f"/{database_name}"))
        ready = postgres_params(url, meta_table) == wanted
        if not ready:
            recreate_postgres(database, database_name)
        return Kept(url, "postgresql", ready, None)
    raise SystemExit("--database must be 'sqlite' or a postgres:// URL")


def sqlite_params(path: Path, meta_table: str) -> str | None:
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute(f"SELECT params FROM {meta_table}").fetchone()  # noqa: S608
    except sqlite3.Error:
        return None
    return row[0] if row else None


def postgres_params(url: str, meta_table: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as db:
            row = db.execute(f"SELECT params FROM {meta_table}").fetchone()  # noqa: S608
    except psycopg.Error:
        return None
    return row[0] if row else None


def recreate_postgres(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(server_url)
    server = urlunsplit(parts._replace(path="/" + (parts.path.strip("/") or "postgres")))
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def child_env(url: str) -> dict[str, str]:
    """The environment of a step: the kept database, the same data directory (and keys)."""
    from django.conf import settings

    return {
        **os.environ,
        "DATABASE_URL": url,
        "STAMMTISCH_DATA_DIR": str(settings.DATA_DIR),
        "STAMMTISCH_LOG_LEVEL": "WARNING",
    }


def run_step(args: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """`python -m <args>` with standard error passed through (progress shows as it happens);
    returns the JSON object of its last line of standard output."""
    done = subprocess.run([sys.executable, "-m", *args], env=env, stdout=subprocess.PIPE, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed with exit code {done.returncode} (see above)")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def migrate(env: dict[str, str]) -> None:
    from stammtisch.publishing.benchmarks.publish import _python

    _python(["-m", "stammtisch.cli", "migrate", "-v0"], env)


def write_meta(meta_table: str, params: str, seconds: float, **extra: Any) -> None:
    """Mark the kept data as complete (the last step of a generation)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {meta_table} (params TEXT, seconds REAL, extra TEXT)")
        cursor.execute(
            f"INSERT INTO {meta_table} VALUES (%s, %s, %s)",  # noqa: S608
            [params, seconds, json.dumps(extra)],
        )


def read_meta(meta_table: str) -> tuple[str, float, dict[str, Any]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT params, seconds, extra FROM {meta_table}")  # noqa: S608
        params, seconds, extra = cursor.fetchone()
    return params, float(seconds), json.loads(extra or "{}")


def database_bytes() -> int:
    """Size of the current database: the SQLite file (with its WAL) or pg_database_size."""
    from django.db import connection

    if connection.vendor == "sqlite":
        path = Path(str(connection.settings_dict["NAME"]))
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


def fast_sqlite_load() -> None:
    """SQLite settings for a one-time load (a crash means generating again anyway)."""
    from django.db import connection

    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-512000")
            cursor.execute("PRAGMA temp_store=MEMORY")


class Bulk:
    """Plain bulk inserts: executemany on SQLite, COPY on PostgreSQL. Columns not given get the
    model field's default (as the ORM would write it)."""

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        self.sqlite = connection.vendor == "sqlite"
        self._days: dict[int, str] = {}
        self._clock = [time.strftime("%H:%M:%S", time.gmtime(s)) for s in range(86400)]

    def timestamp(self, seconds: int) -> str:
        """A UTC time as the database stores it (SQLite: Django's naive UTC text)."""
        day, second = divmod(int(seconds), 86400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = time.strftime("%Y-%m-%d ", time.gmtime(day * 86400))
        text = prefix + self._clock[second]
        return text if self.sqlite else text + "+00"

    def insert(
        self, model: Any, columns: Sequence[str], rows: Iterable[tuple[Any, ...]], *, table: str | None = None
    ) -> None:
        """Insert `rows` (values of `columns`) into the model's table, or into `table` (a table
        of the same shape)."""
        table = table or model._meta.db_table
        rest = [f for f in model._meta.concrete_fields if f.column not in columns]
        tail = []
        for field in rest:
            value = field.get_db_prep_save(field.get_default(), self.connection)
            if value is None and not field.null:
                raise ValueError(f"{table}.{field.column} needs a value")
            tail.append(value)
        names = ", ".join(f'"{c}"' for c in [*columns, *(f.column for f in rest)])
        extra = tuple(tail)
        raw = self.connection.connection
        if self.sqlite:
            marks = ", ".join("?" * (len(columns) + len(extra)))
            statement = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608
            raw.executemany(statement, (row + extra for row in rows))
            return
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row + extra)


@contextmanager
def bulk_load(tables: Sequence[str], indexed: Sequence[str], log: Callable[[str], None] = print) -> Iterator[None]:
    """The fast path for loading `tables`: the secondary indexes of `indexed` (on PostgreSQL also
    their unique and foreign-key constraints) are dropped for the load and built again
    afterwards, since building an index once is much faster than inserting twenty million rows
    into it one by one; on SQLite foreign keys are not checked row by row during the load but
    once afterwards (`PRAGMA foreign_key_check`), on PostgreSQL when the constraints are added
    back. A violation raises."""
    from django.db import connection

    restore: list[str] = []
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        _no_pending_checks(cursor)
        for table in indexed:
            if sqlite:
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                    [table],
                )
                for name, statement in cursor.fetchall():
                    cursor.execute(f'DROP INDEX "{name}"')
                    restore.append(statement)
                continue
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC",
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                restore.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.conrelid = %s::regclass)",
                [table, table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{name}"')
                restore.insert(0, definition)  # before the constraints, which may use them
        if sqlite:
            cursor.execute("PRAGMA foreign_keys = OFF")  # (no effect inside a transaction)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if sqlite:
                cursor.execute("PRAGMA foreign_keys = ON")
            else:
                _no_pending_checks(cursor)
                cursor.execute("SET maintenance_work_mem = '512MB'")
            started = time.perf_counter()
            for statement in restore:
                cursor.execute(statement)
            log(f"indexes and constraints back in {time.perf_counter() - started:.0f} s")
            if sqlite:
                started = time.perf_counter()
                for table in tables:
                    cursor.execute(f'PRAGMA foreign_key_check("{table}")')
                    wrong = cursor.fetchmany(5)
                    if wrong:
                        raise RuntimeError(f"{table}: rows with a missing parent row: {wrong}")
                log(f"foreign keys checked in {time.perf_counter() - started:.0f} s")


def _no_pending_checks(cursor: Any) -> None:
    """PostgreSQL refuses to alter a table with deferred foreign-key checks pending in the
    transaction (a test's): run them now."""
    from django.db import connection

    if connection.vendor == "postgresql" and connection.in_atomic_block:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def text_pools(rng: random.Random, per_pool: int = 400) -> dict[tuple[str, bool], list[str]]:
    """Comments and questions in German and English from the Sandbox's comment generator."""
    from stammtisch.networks.sandbox import texts

    topics = list(texts.TOPICS)
    pools: dict[tuple[str, bool], list[str]] = {}
    for language in ("de", "en"):
        for question in (False, True):
            pools[(language, question)] = [
                texts.comment(
                    rng,
                    language=language,
                    post_topics=[rng.choice(topics)],
                    interests=rng.sample(topics, 2),
                    question=question,
                    features={},
                )
                for _ in range(per_pool)
            ]
    return pools


def activity(habits: dict[str, float]) -> float:
    """How much a Sandbox persona does when it sees a post (its habits summed; a follow is rare)."""
    return habits["like"] + habits["comment"] + habits["question"] + habits["share"] + 0.2 * habits["follow"]


def count_conversations(where: str = "", params: Sequence[Any] = ()) -> None:
    """The conversations' counts and times from their messages, as the inbox keeps them (the
    open-feedback list needs `incoming_count`); `where` limits the conversations updated."""
    from django.db import connection

    def of(expression: str, direction: str = "") -> str:
        where = f" AND m.direction = '{direction}'" if direction else ""
        return f"(SELECT {expression} FROM inbox_message m WHERE m.conversation_id = inbox_conversation.id{where})"  # noqa: S608

    with connection.cursor() as cursor:
        assignments = (
            f"message_count = {of('COUNT(*)')}, incoming_count = {of('COUNT(*)', 'in')}, "
            f"last_message_at = {of('MAX(m.occurred_at)')}, last_incoming_at = {of('MAX(m.occurred_at)', 'in')}"
        )
        cursor.execute(f"UPDATE inbox_conversation SET {assignments}" + (f" WHERE {where}" if where else ""), params)  # noqa: S608


def p95(times: list[float]) -> float:
    times = sorted(times)
    return round(times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))], 1)


def p50(times: list[float]) -> float:
    times = sorted(times)
    return round(times[(len(times) - 1) // 2], 1)
