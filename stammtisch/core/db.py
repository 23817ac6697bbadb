"""Small database helpers shared by apps (the SQLite writer lock: core/sqlite/base.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection


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
