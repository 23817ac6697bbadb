"""Business hours, holidays and response-time SLA figures (docs/sla.md).

A pure module: no models, no database. The inbox stores a workspace's calendar as JSON
(`BusinessCalendar.to_settings()` / `from_settings()`) and feeds the functions here with
timestamps.

The rules, in one place:

- **Open time.** A calendar has weekly opening intervals in the workspace's zone (several per day
  for a lunch break, none for a day off), the public holidays of a region (the `holidays` package,
  offline) and extra closed dates. Every local day is turned into its *open spans*: pairs of UTC
  instants. Everything else (`is_open`, `business_seconds_between`, `add_business_time`,
  `next_open`) works on those spans, one day at a time, never minute by minute.
- **Daylight saving time.** A span is the real time between the two wall-clock readings, so the
  night the clocks go forward an interval 00:00-24:00 is 23 hours long, the night they go back
  25. A time that is skipped (02:30 on the last Sunday of March in Europe/Berlin) is the moment
  the clocks jump; a time that exists twice (the last Sunday of October) is its first occurrence.
- **SLA.** A conversation meets its target when the business time from receipt to the first
  response is at most the target. Business time does not pass while closed, so a reply on
  Saturday to a message whose four business hours were not used up on Friday still meets it.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import itertools
import re
import statistics
import zoneinfo
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import holidays
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

UTC = dt.UTC
END_OF_DAY = dt.time(0)  # as the end of an interval: midnight at the end of the day ("24:00" in settings)
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 3 * 366  # looking further ahead than this for an open hour is an error, not a loop
_TIME_RE = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
_SETTINGS_KEYS = {"time_zone", "hours", "region", "closed_dates"}

Interval = tuple[dt.time, dt.time]  # local opening and closing time; END_OF_DAY closes at midnight
Span = tuple[dt.datetime, dt.datetime]  # UTC instants, half-open
Conversation = tuple[dt.datetime, dt.datetime | None]  # received_at, first_response_at
K = TypeVar("K", bound=Hashable)


class CalendarError(ValueError):
    """A calendar that cannot be built or used. The message is for the member who set it up."""


# --- The calendar --------------------------------------------------------------------------------


def _seconds(clock: dt.time, *, end: bool = False) -> int:
    if end and clock == END_OF_DAY:
        return 24 * 3600
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def _label(clock: dt.time, *, end: bool = False) -> str:
    return "24:00" if end and clock == END_OF_DAY else clock.strftime("%H:%M")


def _interval_label(interval: Interval) -> str:
    return f"{_label(interval[0])}-{_label(interval[1], end=True)}"


def _clean_day(weekday: int, intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    day = WEEKDAYS[weekday]
    cleaned: list[Interval] = []
    for start, end in intervals:
        for clock in (start, end):
            if not isinstance(clock, dt.time) or clock.tzinfo is not None:
                raise CalendarError(_("%(day)s: opening times are local times of day.") % {"day": day})
            if clock.second or clock.microsecond:
                raise CalendarError(_("%(day)s: opening times are whole minutes.") % {"day": day})
        if _seconds(end, end=True) <= _seconds(start):
            raise CalendarError(
                _(
                    "%(day)s: the interval %(interval)s ends before it starts. An interval past midnight "
                    "is two intervals: one until 24:00 and one from 00:00 on the next day."
                )
                % {"day": day, "interval": _interval_label((start, end))}
            )
        cleaned.append((start, end))
    cleaned.sort(key=lambda interval: _seconds(interval[0]))
    for earlier, later in itertools.pairwise(cleaned):
        if _seconds(later[0]) < _seconds(earlier[1], end=True):
            raise CalendarError(
                _("%(day)s: the intervals %(first)s and %(second)s overlap.")
                % {"day": day, "first": _interval_label(earlier), "second": _interval_label(later)}
            )
    return tuple(cleaned)


def _clean_region(region: str) -> tuple[str, str | None]:
    """'DE-BW' -> ('DE', 'BW'); 'DE' -> ('DE', None); '' -> ('', None) for no holidays."""
    if not region:
        return "", None
    country, _dash, subdivision = region.strip().partition("-")
    country = country.upper()
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise CalendarError(
            _(
                "“%(region)s” is not a known holiday region. Use a country code, optionally with a "
                "subdivision, for example DE or DE-BW."
            )
            % {"region": region}
        )
    if not subdivision:
        return country, None
    for known in supported[country]:
        if known.upper() == subdivision.upper():
            return country, known
    raise CalendarError(
        _("“%(subdivision)s” is not a subdivision of %(country)s. Known subdivisions: %(known)s.")
        % {"subdivision": subdivision, "country": country, "known": ", ".join(supported[country])}
    )


@functools.lru_cache(maxsize=512)
def _holidays(country: str, subdivision: str | None, year: int, language: str | None = None) -> dict[dt.date, str]:
    found = holidays.country_holidays(country, subdiv=subdivision, years=year, language=language)
    return {day: name for day, name in found.items() if day.year == year}


@dataclass(frozen=True, init=False)
class BusinessCalendar:
    """When a workspace answers: weekly hours in its zone, minus holidays and closed dates.

    `hours` maps a weekday (0 = Monday) to its opening intervals; a missing weekday is a day off.
    `region` is a country with an optional subdivision ("DE-BW" for Stuttgart); "" for none.
    """

    time_zone: str
    hours: tuple[tuple[Interval, ...], ...]  # seven days, Monday first
    region: str
    closed_dates: frozenset[dt.date]

    def __init__(
        self,
        time_zone: str,
        hours: Mapping[int, Iterable[Interval]],
        region: str = "",
        closed_dates: Iterable[dt.date] = (),
    ) -> None:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise CalendarError(_("“%(value)s” is not a known time zone.") % {"value": time_zone}) from None
        for weekday in hours:
            if weekday not in range(7):
                raise CalendarError(_("A weekday must be one of Monday to Sunday."))
        week = tuple(_clean_day(weekday, hours.get(weekday, ())) for weekday in range(7))
        if not any(week):
            raise CalendarError(_("Business hours need at least one opening interval in the week."))
        country, subdivision = _clean_region(region)
        dates = frozenset(closed_dates)
        for day in dates:
            if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                raise CalendarError(_("A closed date must be a date, for example 2026-12-24."))
        object.__setattr__(self, "time_zone", time_zone)
        object.__setattr__(self, "hours", week)
        object.__setattr__(self, "region", f"{country}-{subdivision}" if subdivision else country)
        object.__setattr__(self, "closed_dates", dates)

    @classmethod
    def always_open(cls, time_zone: str = "UTC") -> BusinessCalendar:
        """24/7: business time is real time."""
        return cls(time_zone, {weekday: [(dt.time(0), END_OF_DAY)] for weekday in range(7)})

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def holiday(self, day: dt.date, language: str | None = None) -> str | None:
        """The name of the public holiday on `day` in the region, or None."""
        if not self.region:
            return None
        country, _dash, subdivision = self.region.partition("-")
        return _holidays(country, subdivision or None, day.year, language).get(day)

    def holidays_in(self, year: int, language: str | None = None) -> list[tuple[dt.date, str]]:
        """The region's public holidays of a year, in date order (for the settings page)."""
        if not self.region:
            return []
        country, _dash, subdivision = self.region.partition("-")
        return sorted(_holidays(country, subdivision or None, year, language).items())

    def is_closed_day(self, day: dt.date) -> bool:
        """Closed all day: a closed date or a public holiday (weekly days off aside)."""
        return day in self.closed_dates or self.holiday(day) is not None

    # --- The JSON form stored on a workspace ---

    def to_settings(self) -> dict[str, Any]:
        return {
            "time_zone": self.time_zone,
            "hours": {
                DAY_KEYS[weekday]: [[_label(start), _label(end, end=True)] for start, end in intervals]
                for weekday, intervals in enumerate(self.hours)
            },
            "region": self.region,
            "closed_dates": [day.isoformat() for day in sorted(self.closed_dates)],
        }

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        if not isinstance(data, Mapping):
            raise CalendarError(_("Business hours must be an object with a time zone and hours."))
        unknown = sorted(set(data) - _SETTINGS_KEYS)
        if unknown:
            raise CalendarError(_("Unknown business-hours setting: %(keys)s.") % {"keys": ", ".join(map(str, unknown))})
        time_zone = data.get("time_zone")
        if not isinstance(time_zone, str) or not time_zone:
            raise CalendarError(_("Choose a time zone, for example Europe/Berlin."))
        region = data.get("region") or ""
        if not isinstance(region, str):
            raise CalendarError(_("A holiday region is a text such as DE-BW."))
        return cls(time_zone, _parse_hours(data.get("hours")), region, _parse_dates(data.get("closed_dates") or []))


def _parse_time(text: object, day: str, *, end: bool) -> dt.time:
    if end and text == "24:00":
        return END_OF_DAY
    if not isinstance(text, str) or not _TIME_RE.match(text):
        raise CalendarError(
            _("%(day)s: “%(value)s” is not a time of day. Use HH:MM, for example 09:00 or 17:30.")
            % {"day": day, "value": text}
        )
    return dt.time.fromisoformat(text)


def _parse_hours(data: object) -> dict[int, list[Interval]]:
    if not isinstance(data, Mapping):
        raise CalendarError(_("Business hours need opening times per weekday, for example mon: 09:00-17:00."))
    hours: dict[int, list[Interval]] = {}
    for key, intervals in data.items():
        if key not in DAY_KEYS:
            raise CalendarError(
                _("“%(key)s” is not a weekday. Use one of %(keys)s.") % {"key": key, "keys": ", ".join(DAY_KEYS)}
            )
        weekday = DAY_KEYS.index(key)
        day = str(WEEKDAYS[weekday])
        if not isinstance(intervals, list):
            raise CalendarError(_("%(day)s: opening times are a list of [start, end] pairs.") % {"day": day})
        parsed: list[Interval] = []
        for pair in intervals:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise CalendarError(
                    _("%(day)s: each opening interval is a [start, end] pair such as [“09:00”, “12:00”].")
                    % {"day": day}
                )
            parsed.append((_parse_time(pair[0], day, end=False), _parse_time(pair[1], day, end=True)))
        hours[weekday] = parsed
    return hours


def _parse_dates(data: object) -> list[dt.date]:
    if not isinstance(data, list):
        raise CalendarError(_("Closed dates are a list of dates such as 2026-12-24."))
    dates = []
    for value in data:
        try:
            dates.append(dt.date.fromisoformat(value))
        except (TypeError, ValueError):
            raise CalendarError(
                _("“%(value)s” is not a date. Use YYYY-MM-DD, for example 2026-12-24.") % {"value": value}
            ) from None
    return dates


# --- Open spans: one local day at a time ------------------------------------------------------------


def _aware(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


def _instant(day: dt.date, clock: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first moment the wall clock in `tz` shows `clock` on `day`, in UTC.

    A reading the clocks skip (moving forward) is the moment they jump.
    """
    local = dt.datetime.combine(day, clock, tzinfo=tz)  # fold=0: the first of two readings
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # Skipped: the two offsets around the jump give an instant before and one after it. Find the
    # jump between them by halving (a handful of steps for an hour's gap).
    low, high = sorted((local.replace(fold=1).astimezone(UTC), instant))
    after = high.astimezone(tz).utcoffset()
    while high - low > dt.timedelta(seconds=1):
        middle = low + dt.timedelta(seconds=(high - low) // dt.timedelta(seconds=2))
        if middle.astimezone(tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high


def open_spans(calendar: BusinessCalendar, day: dt.date) -> list[Span]:
    """The open time of one local day as (start, end) UTC instants, in order; [] when closed."""
    if calendar.is_closed_day(day):
        return []
    tz = calendar.tz
    spans = []
    for start, end in calendar.hours[day.weekday()]:
        opens = _instant(day, start, tz)
        closes = _instant(day + dt.timedelta(days=1), end, tz) if end == END_OF_DAY else _instant(day, end, tz)
        if closes > opens:  # an interval entirely inside a skipped hour has no time
            spans.append((opens, closes))
    return spans


def _local_day(calendar: BusinessCalendar, moment: dt.datetime) -> dt.date:
    return moment.astimezone(calendar.tz).date()


def is_open(calendar: BusinessCalendar, moment: dt.datetime) -> bool:
    moment = _aware(moment, "moment")
    return any(opens <= moment < closes for opens, closes in open_spans(calendar, _local_day(calendar, moment)))


def business_seconds_between(calendar: BusinessCalendar, start: dt.datetime, end: dt.datetime) -> float:
    """Open seconds from `start` to `end`; 0 when `end` is not after `start`."""
    start, end = _aware(start, "start"), _aware(end, "end")
    total = dt.timedelta()
    day, last = _local_day(calendar, start), _local_day(calendar, end)
    while day <= last:
        for opens, closes in open_spans(calendar, day):
            overlap = min(closes, end) - max(opens, start)
            if overlap > dt.timedelta():
                total += overlap
        day += dt.timedelta(days=1)
    return total.total_seconds()


def add_business_time(calendar: BusinessCalendar, start: dt.datetime, seconds: float) -> dt.datetime:
    """The moment `seconds` of open time after `start` are used up, in the calendar's zone.

    With hours 9-18, four business hours from Friday 17:30 end on Monday at 12:30 (or Tuesday at
    12:30 when Monday is a holiday). With 0 seconds it is `start`.
    """
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    cursor = _aware(start, "start")
    remaining = dt.timedelta(seconds=seconds)
    if not remaining:
        return cursor.astimezone(calendar.tz)
    day = _local_day(calendar, cursor)
    days_closed = 0
    while days_closed <= SEARCH_DAYS:
        spans = open_spans(calendar, day)
        days_closed = 0 if spans else days_closed + 1
        for opens, closes in spans:
            begin = max(opens, cursor)
            if begin >= closes:
                continue
            if remaining <= closes - begin:
                return (begin + remaining).astimezone(calendar.tz)
            remaining -= closes - begin
        day += dt.timedelta(days=1)
    raise CalendarError(_("The business hours have no open time within the next three years."))


def next_open(calendar: BusinessCalendar, moment: dt.datetime) -> dt.datetime:
    """`moment` itself when open, else the moment the calendar next opens (in its zone)."""
    moment = _aware(moment, "moment")
    day = _local_day(calendar, moment)
    for _offset in range(SEARCH_DAYS + 1):
        for opens, closes in open_spans(calendar, day):
            if moment < closes:
                return max(opens, moment).astimezone(calendar.tz)
        day += dt.timedelta(days=1)
    raise CalendarError(_("The business hours have no open time within the next three years."))


# --- SLA status of one conversation -------------------------------------------------------------------


class SlaState(enum.StrEnum):
    MET = "met"  # answered within the target
    BREACHED = "breached"  # answered late, or unanswered past the target
    RUNNING = "running"  # unanswered, time left
    DUE_SOON = "due_soon"  # unanswered, at most `due_soon_seconds` left


@dataclass(frozen=True)
class SlaStatus:
    state: SlaState
    elapsed: float  # business seconds from receipt to the first response (or to now when unanswered)
    remaining: float  # target minus elapsed: negative by as much as the target was overrun
    deadline: dt.datetime  # when the target's business time is used up (calendar's zone)


def evaluate_sla(
    calendar: BusinessCalendar,
    received_at: dt.datetime,
    first_response_at: dt.datetime | None,
    now: dt.datetime,
    target_seconds: float,
    due_soon_seconds: float | None = None,
) -> SlaStatus:
    """Where one conversation stands. `due_soon_seconds` defaults to a quarter of the target."""
    if target_seconds <= 0:
        raise ValueError("target_seconds must be positive")
    warn = target_seconds / 4 if due_soon_seconds is None else due_soon_seconds
    deadline = add_business_time(calendar, received_at, target_seconds)
    if first_response_at is not None:
        elapsed = business_seconds_between(calendar, received_at, first_response_at)
        state = SlaState.MET if elapsed <= target_seconds else SlaState.BREACHED
    else:
        elapsed = business_seconds_between(calendar, received_at, now)
        if elapsed > target_seconds:
            state = SlaState.BREACHED
        elif target_seconds - elapsed <= warn:
            state = SlaState.DUE_SOON
        else:
            state = SlaState.RUNNING
    return SlaStatus(state, elapsed, target_seconds - elapsed, deadline)


def about_to_breach(
    calendar: BusinessCalendar,
    unanswered: Iterable[tuple[K, dt.datetime]],
    now: dt.datetime,
    target_seconds: float,
    due_soon_seconds: float | None = None,
) -> list[tuple[K, SlaStatus]]:
    """Unanswered conversations (key, received_at) that are due soon, least time left first."""
    due = []
    for key, received_at in unanswered:
        status = evaluate_sla(calendar, received_at, None, now, target_seconds, due_soon_seconds)
        if status.state == SlaState.DUE_SOON:
            due.append((key, status))
    return sorted(due, key=lambda item: item[1].remaining)


# --- Figures over many conversations ----------------------------------------------------------------


def response_times(calendar: BusinessCalendar, conversations: Iterable[Conversation]) -> list[float]:
    """Business seconds to the first response of every answered conversation."""
    return [
        business_seconds_between(calendar, received_at, first_response_at)
        for received_at, first_response_at in conversations
        if first_response_at is not None
    ]


def response_rate(conversations: Sequence[Conversation]) -> float | None:
    """The share of conversations with a response (0 to 1); None for no conversations."""
    if not conversations:
        return None
    return sum(1 for _received, response in conversations if response is not None) / len(conversations)


def median_response_seconds(calendar: BusinessCalendar, conversations: Iterable[Conversation]) -> float | None:
    times = response_times(calendar, conversations)
    return statistics.median(times) if times else None


def mean_response_seconds(calendar: BusinessCalendar, conversations: Iterable[Conversation]) -> float | None:
    times = response_times(calendar, conversations)
    return statistics.fmean(times) if times else None


@dataclass(frozen=True)
class SlaSummary:
    conversations: int
    answered: int
    response_rate: float | None
    median_seconds: float | None  # business time to first response, answered conversations only
    mean_seconds: float | None
    met: int
    breached: int
    running: int
    due_soon: int


def summarize(
    calendar: BusinessCalendar,
    conversations: Iterable[Conversation],
    now: dt.datetime,
    target_seconds: float,
    due_soon_seconds: float | None = None,
) -> SlaSummary:
    """Response rate, median and mean time to first response and SLA states of the conversations."""
    items = list(conversations)
    states = {state: 0 for state in SlaState}
    times = []
    for received_at, first_response_at in items:
        status = evaluate_sla(calendar, received_at, first_response_at, now, target_seconds, due_soon_seconds)
        states[status.state] += 1
        if first_response_at is not None:
            times.append(status.elapsed)
    return SlaSummary(
        conversations=len(items),
        answered=len(times),
        response_rate=len(times) / len(items) if items else None,
        median_seconds=statistics.median(times) if times else None,
        mean_seconds=statistics.fmean(times) if times else None,
        met=states[SlaState.MET],
        breached=states[SlaState.BREACHED],
        running=states[SlaState.RUNNING],
        due_soon=states[SlaState.DUE_SOON],
    )


def summarize_by(
    calendar: BusinessCalendar,
    rows: Iterable[tuple[K, dt.datetime, dt.datetime | None]],
    now: dt.datetime,
    target_seconds: float,
    due_soon_seconds: float | None = None,
) -> dict[K, SlaSummary]:
    """`summarize` per key (a channel, a member): rows are (key, received_at, first_response_at)."""
    groups: dict[K, list[Conversation]] = defaultdict(list)
    for key, received_at, first_response_at in rows:
        groups[key].append((received_at, first_response_at))
    return {key: summarize(calendar, items, now, target_seconds, due_soon_seconds) for key, items in groups.items()}
