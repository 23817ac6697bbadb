"""Small database helpers shared by apps (the SQLite writer lock: core/sqlite/base.py).

The publisher's hot path (docs/benchmarks.md) writes and reads with plain SQL; these helpers keep
what Django does for values on their way in and out (time stamps in UTC, converters) without
building a query each time.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import connection, models

from stammtisch.core.sqlite.base import _qmark

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, Any], Any]
Converters = tuple[tuple[int, Any, tuple[Converter, ...]], ...]


class PlainCursor:
    """The driver's own cursor on Django's connection, in Django's current transaction (if any),
    for statements written with `%s` placeholders and values already as the driver takes them
    (`db_time`). On PostgreSQL it binds on the server and prepares what it runs (the statement's
    text stays the same, the values travel apart: PostgreSQL plans it once per connection
    instead of on every call, which cost more than running it); on SQLite it skips Django's
    cursor wrapper. Lists of values go in with `any_of`. Django does not log these statements
    (`CaptureQueriesContext` does not see them)."""

    def __init__(self, cursor: Any, postgresql: bool) -> None:
        self.cursor = cursor
        self.postgresql = postgresql

    def execute(self, statement: str, params: Sequence[Any] = ()) -> PlainCursor:
        if self.postgresql:
            self.cursor.execute(statement, params, prepare=True)
        else:
            self.cursor.execute(_qmark(statement), params)
        return self

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        self.cursor.executemany(statement if self.postgresql else _qmark(statement), rows)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self.cursor.fetchall())

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.cursor.fetchone()
        return tuple(row) if row is not None else None

    @property
    def rowcount(self) -> int:
        return int(self.cursor.rowcount)


@contextmanager
def plain_cursor() -> Iterator[PlainCursor]:
    """A `PlainCursor`; database errors come out as Django's (IntegrityError, ...)."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            import psycopg

            cursor = psycopg.Cursor(connection.connection)
        else:
            cursor = connection.connection.cursor()
        try:
            yield PlainCursor(cursor, connection.vendor == "postgresql")
        finally:
            cursor.close()


def any_of(column: str, values: Iterable[Any], kind: str = "bigint") -> tuple[str, list[Any]]:
    """`column` is one of `values`, for a `PlainCursor`: (SQL, its parameters). PostgreSQL gets
    one array (`= ANY(%s::bigint[])`), so the statement's text does not change with the number of
    values; SQLite a list of placeholders. `kind`: the array's element type (PostgreSQL)."""
    values = list(values)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::{kind}[])", [values]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def write_one(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one write statement (`%s` placeholders) as a transaction of its own (or inside the
    caller's) and return the rows it RETURNs. On SQLite through the driver under the writer lock
    (`DatabaseWrapper.write_one`); on PostgreSQL a plain statement, which commits on its own."""
    if connection.vendor == "sqlite" and hasattr(connection, "write_one"):
        rows: list[tuple[Any, ...]] = connection.write_one(statement, params)
        return rows
    with plain_cursor() as cursor:
        return cursor.execute(statement, params).fetchall()


@functools.cache
def _utc_text() -> bool:
    """Whether the database stores time stamps as naive UTC text (SQLite with USE_TZ and no
    database TIME_ZONE, as settings.py has it): then the fast paths below apply. Asked once per
    process (a look at `connection` costs microseconds, on every value)."""
    return connection.vendor == "sqlite" and settings.USE_TZ and connection.timezone_name == "UTC"


def db_time(value: dt.datetime | None) -> Any:
    """A time stamp as the driver takes it, as `connection.ops.adapt_datetimefield_value` gives
    it (SQLite: naive UTC text), in a fraction of its time."""
    if value is None or not _utc_text():
        return connection.ops.adapt_datetimefield_value(value)
    if value.tzinfo is None:
        return connection.ops.adapt_datetimefield_value(value)  # Django's error for a naive value
    return str(value.astimezone(dt.UTC).replace(tzinfo=None))


def _sqlite_datetime(value: Any, expression: Any, conn: Any) -> Any:
    """Django's SQLite converter for DateTimeField, for naive UTC text (see `_utc_text`)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@functools.lru_cache(maxsize=64)
def _converters(
    model: type[models.Model], names: tuple[str, ...], vendor: str
) -> tuple[tuple[int, Any, tuple[Converter, ...]], ...]:
    """(position, column expression, converters) for each column of `names` (attnames) that has
    any, as Django's compiler applies them: the backend's first, then the field's."""
    found = []
    utc_text = _utc_text()
    for position, name in enumerate(names):
        field = next(f for f in model._meta.concrete_fields if f.attname == name)
        expression = field.get_col(model._meta.db_table)
        backend = list(connection.ops.get_db_converters(expression))
        if utc_text and field.get_internal_type() == "DateTimeField":
            backend = [_sqlite_datetime]
        own = list(field.get_db_converters(connection))  # type: ignore[attr-defined]  # (not in the stubs)
        if backend or own:
            found.append((position, expression, tuple(backend + own)))
    return tuple(found)


def columns(model: type[models.Model], names: Sequence[str] | None = None) -> tuple[tuple[str, ...], str]:
    """(attnames, quoted column list for a SELECT) of `model`'s concrete fields, or of `names`."""
    fields = [f for f in model._meta.concrete_fields if names is None or f.attname in names]
    quote = connection.ops.quote_name
    return tuple(f.attname for f in fields), ", ".join(quote(f.column) for f in fields)


def instances(model: type[M], names: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> list[M]:
    """Model instances from the rows of a plain SELECT of `names` (attnames, in the model's field
    order: `columns`), with the values converted as the ORM converts them. Fields not in `names`
    are deferred (loaded on first access, as with `.only()`)."""
    converters = _converters(model, names, connection.vendor)
    made = []
    for row in rows:
        values = list(row)
        for position, expression, functions in converters:
            value = values[position]
            for function in functions:
                value = function(value, expression, connection)
            values[position] = value
        made.append(cast(M, model.from_db(connection.alias, list(names), values)))
    return made
