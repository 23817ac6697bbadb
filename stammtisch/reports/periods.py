"""Report periods: a week (Monday to Sunday) or a calendar month, in local days of the
workspace's time zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import formats
from django.utils.translation import gettext as _

from stammtisch.reports.models import Kind

DASH = " \u2013 "  # an en dash between two dates


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Period:
    kind: str  # Kind.WEEK or Kind.MONTH
    first: dt.date
    last: dt.date

    @classmethod
    def containing(cls, kind: str, day: dt.date) -> Period:
        if kind == Kind.WEEK:
            monday = day - dt.timedelta(days=day.weekday())
            return cls(kind, monday, monday + dt.timedelta(days=6))
        first = _month_start(day)
        return cls(kind, first, _next_month(first) - dt.timedelta(days=1))

    @classmethod
    def starting(cls, kind: str, first: dt.date) -> Period | None:
        """The period that starts on `first`; None if no period of `kind` starts that day."""
        period = cls.containing(kind, first)
        return period if period.first == first else None

    @classmethod
    def last_complete(cls, kind: str, today: dt.date) -> Period:
        """The latest period that ended before `today`."""
        return cls.containing(kind, today).previous()

    def previous(self) -> Period:
        return Period.containing(self.kind, self.first - dt.timedelta(days=1))

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def key(self) -> str:
        """How a form names it: "week:2026-06-01"."""
        return f"{self.kind}:{self.first.isoformat()}"

    def label(self) -> str:
        """ "June 2026", or "Week 23: 1 June 2026 - 7 June 2026", in the active language."""
        if self.kind == Kind.MONTH:
            return formats.date_format(self.first, "YEAR_MONTH_FORMAT")
        first = formats.date_format(self.first, "DATE_FORMAT")
        last = formats.date_format(self.last, "DATE_FORMAT")
        return _("Week %(week)s: %(range)s") % {"week": self.first.isocalendar().week, "range": f"{first}{DASH}{last}"}


def recent(kind: str, today: dt.date, count: int) -> list[Period]:
    """The last `count` complete periods, newest first."""
    periods = [Period.last_complete(kind, today)]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods


def parse_key(value: str) -> Period | None:
    """The period a form sent as "week:2026-06-01"; None if it names none."""
    kind, _sep, first = (value or "").partition(":")
    if kind not in Kind.values:
        return None
    try:
        day = dt.date.fromisoformat(first)
    except ValueError:
        return None
    return Period.starting(kind, day)
