"""Small database helpers shared by apps (the SQLite writer lock: core/sqlite/base.py).

The publisher's hot path (docs/benchmarks.md) writes and reads with plain SQL; these helpers keep
what Django does for values on their way in and out (time stamps in UTC, converters) without
building a query each time.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import connection, models

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, Any], Any]
Converters = tuple[tuple[int, Any, tuple[Converter, ...]], ...]


def write_one(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one write statement (`%s` placeholders) as a transaction of its own (or inside the
    caller's) and return the rows it RETURNs. On SQLite through the driver under the writer lock
    (`DatabaseWrapper.write_one`); on PostgreSQL a plain statement, which commits on its own."""
    if connection.vendor == "sqlite" and hasattr(connection, "write_one"):
        rows: list[tuple[Any, ...]] = connection.write_one(statement, params)
        return rows
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall())


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
