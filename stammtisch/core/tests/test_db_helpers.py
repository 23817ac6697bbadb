"""core/db.py: the hot path's shortcuts give what Django gives."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection

from stammtisch.core import db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    "value",
    [
        None,
        dt.datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN),  # the first hour of summer time
        dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN),  # the second 02:30 of the change
        dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.datetime(2026, 11, 28, 12, 0),  # naive: whatever Django does with it
    ],
)
def test_a_time_stamp_goes_to_the_driver_as_django_would_send_it(value: dt.datetime | None) -> None:
    assert db.db_time(value) == connection.ops.adapt_datetimefield_value(value)
