"""Business hours, holidays and SLA figures, with explicit or frozen times (docs/sla.md)."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
import time_machine
from django.utils import timezone, translation

from stammtisch.inbox import sla
from stammtisch.inbox.sla import (
    END_OF_DAY,
    BusinessCalendar,
    CalendarError,
    SlaState,
    about_to_breach,
    add_business_time,
    business_seconds_between,
    evaluate_sla,
    is_open,
    mean_response_seconds,
    median_response_seconds,
    next_open,
    response_rate,
    summarize,
    summarize_by,
)

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
HOUR = 3600
WEEKDAYS = range(5)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def t(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def nine_to_six(region: str = "DE-BW") -> BusinessCalendar:
    return BusinessCalendar("Europe/Berlin", {day: [(t("09:00"), t("18:00"))] for day in WEEKDAYS}, region)


def with_lunch() -> BusinessCalendar:
    hours = {day: [(t("13:00"), t("18:00")), (t("09:00"), t("12:00"))] for day in WEEKDAYS}
    return BusinessCalendar("Europe/Berlin", hours, "DE-BW")


def every_day(start: str, end: str) -> BusinessCalendar:
    return BusinessCalendar("Europe/Berlin", {day: [(t(start), t(end))] for day in range(7)})


# --- Weekends, lunch breaks, holidays ---------------------------------------------------------------


def test_four_hours_from_friday_evening_end_on_monday_at_half_past_twelve() -> None:
    deadline = add_business_time(nine_to_six(), at(2026, 6, 5, 17, 30), 4 * HOUR)
    assert deadline == at(2026, 6, 8, 12, 30)
    assert deadline.tzinfo == BERLIN


def test_a_holiday_monday_moves_the_deadline_to_tuesday() -> None:
    # Pentecost Monday, 25 May 2026, is a holiday everywhere in Germany.
    assert add_business_time(nine_to_six(), at(2026, 5, 22, 17, 30), 4 * HOUR) == at(2026, 5, 26, 12, 30)
    # Good Friday and Easter Monday: from Thursday evening to Tuesday.
    assert add_business_time(nine_to_six("DE-BE"), at(2026, 4, 2, 17, 30), 4 * HOUR) == at(2026, 4, 7, 12, 30)


def test_business_time_pauses_over_the_weekend() -> None:
    calendar = nine_to_six()
    assert business_seconds_between(calendar, at(2026, 6, 5, 17), at(2026, 6, 8, 10)) == 2 * HOUR
    assert business_seconds_between(calendar, at(2026, 6, 6, 10), at(2026, 6, 7, 23)) == 0
    assert not is_open(calendar, at(2026, 6, 6, 12))
    assert next_open(calendar, at(2026, 6, 6, 12)) == at(2026, 6, 8, 9)


def test_business_time_pauses_over_the_lunch_break() -> None:
    calendar = with_lunch()
    assert business_seconds_between(calendar, at(2026, 6, 8, 11), at(2026, 6, 8, 14)) == 2 * HOUR
    assert add_business_time(calendar, at(2026, 6, 8, 11, 30), HOUR) == at(2026, 6, 8, 13, 30)
    assert is_open(calendar, at(2026, 6, 8, 11, 59))
    assert not is_open(calendar, at(2026, 6, 8, 12, 30))
    assert next_open(calendar, at(2026, 6, 8, 12, 30)) == at(2026, 6, 8, 13)
    assert next_open(calendar, at(2026, 6, 8, 10)) == at(2026, 6, 8, 10)


def test_a_deadline_that_uses_up_the_day_exactly_is_closing_time() -> None:
    assert add_business_time(nine_to_six(), at(2026, 6, 5, 14), 4 * HOUR) == at(2026, 6, 5, 18)


def test_corpus_christi_is_closed_in_stuttgart_but_not_in_berlin() -> None:
    stuttgart, berlin = nine_to_six("DE-BW"), nine_to_six("DE-BE")
    wednesday_evening, thursday, friday = at(2026, 6, 3, 17), at(2026, 6, 4, 12), at(2026, 6, 5, 9)

    assert business_seconds_between(stuttgart, wednesday_evening, friday) == 1 * HOUR
    assert business_seconds_between(berlin, wednesday_evening, friday) == 10 * HOUR
    assert add_business_time(stuttgart, wednesday_evening, 2 * HOUR) == at(2026, 6, 5, 10)
    assert add_business_time(berlin, wednesday_evening, 2 * HOUR) == at(2026, 6, 4, 10)
    assert not is_open(stuttgart, thursday)
    assert is_open(berlin, thursday)
    assert stuttgart.holiday(dt.date(2026, 6, 4), language="de") == "Fronleichnam"
    assert berlin.holiday(dt.date(2026, 6, 4)) is None


def test_epiphany_is_closed_in_stuttgart_but_not_in_berlin() -> None:
    monday_evening, wednesday_morning = at(2026, 1, 5, 17), at(2026, 1, 7, 10)
    assert business_seconds_between(nine_to_six("DE-BW"), monday_evening, wednesday_morning) == 2 * HOUR
    assert business_seconds_between(nine_to_six("DE-BE"), monday_evening, wednesday_morning) == 11 * HOUR
    assert next_open(nine_to_six("DE-BW"), at(2026, 1, 6, 8)) == at(2026, 1, 7, 9)


def test_new_years_day_is_closed_everywhere_and_no_region_means_no_holidays() -> None:
    assert not is_open(nine_to_six("DE"), at(2026, 1, 1, 12))
    assert is_open(nine_to_six(""), at(2026, 1, 1, 12))


def test_closed_dates_are_closed_all_day() -> None:
    hours = {day: [(t("09:00"), t("18:00"))] for day in WEEKDAYS}
    calendar = BusinessCalendar("Europe/Berlin", hours, "DE-BW", [dt.date(2026, 12, 24), dt.date(2026, 12, 31)])
    assert not is_open(calendar, at(2026, 12, 24, 10))
    # 23 Dec 17:00 -> 1 h; 24, 25, 26 (holidays and closed), 27 Sunday; 28 Dec from 09:00.
    assert add_business_time(calendar, at(2026, 12, 23, 17), 2 * HOUR) == at(2026, 12, 28, 10)


def test_the_region_is_normalised_and_lists_its_holidays() -> None:
    calendar = nine_to_six("de-bw")
    assert calendar.region == "DE-BW"
    days = [day for day, _name in calendar.holidays_in(2026)]
    assert dt.date(2026, 1, 6) in days
    assert dt.date(2026, 6, 4) in days
    assert dt.date(2026, 1, 6) not in [day for day, _name in nine_to_six("DE-BE").holidays_in(2026)]


# --- Daylight saving time ----------------------------------------------------------------------------


def test_the_spring_forward_day_has_23_hours_and_the_fall_back_day_25() -> None:
    always = BusinessCalendar.always_open("Europe/Berlin")
    assert business_seconds_between(always, at(2026, 3, 29), at(2026, 3, 30)) == 23 * HOUR
    assert business_seconds_between(always, at(2026, 10, 25), at(2026, 10, 26)) == 25 * HOUR
    assert business_seconds_between(always, at(2026, 3, 28), at(2026, 3, 29)) == 24 * HOUR
    # A day of business time from Saturday noon ends at 13:00 on Sunday, the clocks having jumped.
    assert add_business_time(always, at(2026, 3, 28, 12), 24 * HOUR) == at(2026, 3, 29, 13)
    assert add_business_time(always, at(2026, 10, 24, 12), 24 * HOUR) == at(2026, 10, 25, 11)


def test_opening_hours_across_the_changed_hour_count_real_time() -> None:
    night = every_day("01:00", "04:00")
    assert business_seconds_between(night, at(2026, 3, 29), at(2026, 3, 30)) == 2 * HOUR
    assert business_seconds_between(night, at(2026, 10, 25), at(2026, 10, 26)) == 4 * HOUR
    assert business_seconds_between(night, at(2026, 10, 24), at(2026, 10, 25)) == 3 * HOUR


def test_a_skipped_opening_time_opens_when_the_clocks_jump() -> None:
    calendar = every_day("02:30", "04:00")
    assert business_seconds_between(calendar, at(2026, 3, 29), at(2026, 3, 30)) == 1 * HOUR
    jump = dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC)  # 03:00 CEST
    assert next_open(calendar, at(2026, 3, 29, 1)) == jump
    assert not is_open(calendar, jump - dt.timedelta(seconds=1))
    assert is_open(calendar, jump)


def test_it_is_open_in_both_runs_of_the_repeated_hour() -> None:
    calendar = every_day("01:00", "04:00")
    first = dt.datetime(2026, 10, 25, 2, 15, tzinfo=BERLIN)
    second = first.replace(fold=1)
    assert (second.astimezone(dt.UTC) - first.astimezone(dt.UTC)) == dt.timedelta(hours=1)
    assert is_open(calendar, first)
    assert is_open(calendar, second)


# --- 24/7, never open, long spans ---------------------------------------------------------------------


def test_a_24_7_calendar_counts_real_time() -> None:
    always = BusinessCalendar.always_open()
    start = dt.datetime(2026, 2, 27, 22, 15, tzinfo=dt.UTC)
    end = dt.datetime(2026, 3, 2, 3, 45, tzinfo=dt.UTC)
    assert business_seconds_between(always, start, end) == (end - start).total_seconds()
    assert add_business_time(always, start, 90_000) == start + dt.timedelta(seconds=90_000)
    assert is_open(always, start)
    assert next_open(always, start) == start


def test_a_calendar_without_any_open_hour_is_refused() -> None:
    with translation.override("en"), pytest.raises(CalendarError, match="at least one opening interval"):
        BusinessCalendar("Europe/Berlin", {})


def test_a_calendar_closed_for_years_raises_instead_of_looping() -> None:
    first_sunday = dt.date(2026, 1, 4)
    sundays = [first_sunday + dt.timedelta(weeks=week) for week in range(4 * 53)]
    calendar = BusinessCalendar("Europe/Berlin", {6: [(t("10:00"), t("12:00"))]}, closed_dates=sundays)
    with translation.override("en"), pytest.raises(CalendarError, match="no open time"):
        next_open(calendar, at(2026, 1, 1))
    with pytest.raises(CalendarError):
        add_business_time(calendar, at(2026, 1, 1), HOUR)
    assert business_seconds_between(calendar, at(2026, 1, 1), at(2027, 1, 1)) == 0


def test_it_works_day_by_day_not_minute_by_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dt.date] = []
    real = sla.open_spans

    def counting(calendar: BusinessCalendar, day: dt.date) -> list[sla.Span]:
        calls.append(day)
        return real(calendar, day)

    monkeypatch.setattr(sla, "open_spans", counting)
    calendar = with_lunch()
    # 1 to 30 June 2026 in Stuttgart: 22 weekdays, Corpus Christi off: 21 days of 8 hours.
    assert business_seconds_between(calendar, at(2026, 6, 1), at(2026, 6, 30, 23)) == 21 * 8 * HOUR
    assert len(calls) == 30
    calls.clear()
    assert add_business_time(calendar, at(2026, 6, 1), 21 * 8 * HOUR) == at(2026, 6, 30, 18)
    assert len(calls) == 30
    calls.clear()
    ten_years = business_seconds_between(BusinessCalendar.always_open(), at(2020, 1, 1), at(2030, 1, 1))
    assert ten_years == (at(2030, 1, 1) - at(2020, 1, 1)).total_seconds()
    assert len(calls) <= 3654


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(nine_to_six(), dt.datetime(2026, 6, 8, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        business_seconds_between(nine_to_six(), at(2026, 6, 8), dt.datetime(2026, 6, 9))


def test_an_end_before_the_start_counts_nothing() -> None:
    assert business_seconds_between(nine_to_six(), at(2026, 6, 9, 12), at(2026, 6, 8, 12)) == 0


# --- The JSON form and its validation -------------------------------------------------------------------


def test_settings_round_trip_through_json() -> None:
    hours = {day: [(t("09:00"), t("12:00")), (t("13:00"), t("18:00"))] for day in WEEKDAYS}
    hours[5] = [(t("10:00"), END_OF_DAY)]
    calendar = BusinessCalendar("Europe/Berlin", hours, "DE-BW", [dt.date(2026, 12, 24)])
    stored = json.loads(json.dumps(calendar.to_settings()))
    assert stored["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "18:00"]]
    assert stored["hours"]["sat"] == [["10:00", "24:00"]]
    assert stored["hours"]["sun"] == []
    assert stored["closed_dates"] == ["2026-12-24"]
    assert BusinessCalendar.from_settings(stored) == calendar


def test_settings_may_leave_out_days_off_region_and_closed_dates() -> None:
    calendar = BusinessCalendar.from_settings({"time_zone": "UTC", "hours": {"sun": [["00:00", "24:00"]]}})
    assert calendar.hours[6] == ((t("00:00"), END_OF_DAY),)
    assert calendar.hours[0] == ()
    assert calendar.region == ""
    assert calendar.closed_dates == frozenset()


def settings(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"time_zone": "Europe/Berlin", "hours": {"mon": [["09:00", "18:00"]]}, "region": "DE-BW"}
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (settings(hours={"mon": [["18:00", "09:00"]]}), "Monday: the interval 18:00-09:00 ends before it starts"),
        (settings(hours={"tue": [["09:00", "09:00"]]}), "Tuesday: the interval 09:00-09:00 ends before it starts"),
        (
            settings(hours={"wed": [["09:00", "13:00"], ["12:00", "18:00"]]}),
            "Wednesday: the intervals 09:00-13:00 and 12:00-18:00 overlap",
        ),
        (settings(hours={"mon": [["9am", "18:00"]]}), "Monday: “9am” is not a time of day. Use HH:MM"),
        (settings(hours={"mon": [["09:00", "25:00"]]}), "“25:00” is not a time of day"),
        (settings(hours={"mon": [["24:00", "24:00"]]}), "“24:00” is not a time of day"),
        (settings(hours={"mon": [["09:00"]]}), "each opening interval is a \\[start, end\\] pair"),
        (settings(hours={"monday": [["09:00", "18:00"]]}), "“monday” is not a weekday. Use one of mon, tue"),
        (settings(hours={"mon": []}), "at least one opening interval"),
        (settings(hours=[]), "opening times per weekday"),
        (settings(time_zone="Europe/Stuttgart"), "“Europe/Stuttgart” is not a known time zone"),
        (settings(time_zone=""), "Choose a time zone"),
        (settings(region="XX"), "“XX” is not a known holiday region"),
        (settings(region="DE-XX"), "“XX” is not a subdivision of DE. Known subdivisions: BB, BE, BW"),
        (settings(closed_dates=["24.12.2026"]), "“24.12.2026” is not a date. Use YYYY-MM-DD"),
        (settings(timezone="UTC"), "Unknown business-hours setting: timezone"),
    ],
)
def test_bad_settings_are_refused_with_a_helpful_message(data: dict[str, object], message: str) -> None:
    with translation.override("en"), pytest.raises(CalendarError, match=message):
        BusinessCalendar.from_settings(data)


def test_an_unknown_region_is_refused_when_built_in_code() -> None:
    with translation.override("en"), pytest.raises(CalendarError, match="not a known holiday region"):
        nine_to_six("Baden-Württemberg")


# --- SLA status ------------------------------------------------------------------------------------------


FOUR_HOURS = 4 * HOUR


def test_an_answer_within_four_business_hours_meets_the_sla() -> None:
    calendar = nine_to_six()
    received = at(2026, 6, 5, 17, 30)  # Friday
    status = evaluate_sla(calendar, received, at(2026, 6, 8, 12), at(2026, 6, 9, 9), FOUR_HOURS)
    assert status.state == SlaState.MET
    assert status.elapsed == 3.5 * HOUR
    assert status.remaining == 0.5 * HOUR
    assert status.deadline == at(2026, 6, 8, 12, 30)


def test_an_answer_on_saturday_still_meets_an_sla_not_used_up_on_friday() -> None:
    status = evaluate_sla(nine_to_six(), at(2026, 6, 5, 14), at(2026, 6, 6, 11), at(2026, 6, 6, 11), FOUR_HOURS)
    assert status.state == SlaState.MET
    assert status.elapsed == FOUR_HOURS


def test_a_late_answer_breaches_the_sla() -> None:
    status = evaluate_sla(nine_to_six(), at(2026, 6, 5, 17, 30), at(2026, 6, 8, 13), at(2026, 6, 9, 9), FOUR_HOURS)
    assert status.state == SlaState.BREACHED
    assert status.remaining == -0.5 * HOUR


def test_an_unanswered_conversation_runs_then_is_due_soon_then_breaches() -> None:
    calendar, received = nine_to_six(), at(2026, 6, 5, 17, 30)
    saturday = evaluate_sla(calendar, received, None, at(2026, 6, 6, 12), FOUR_HOURS)
    assert saturday.state == SlaState.RUNNING
    assert saturday.remaining == 3.5 * HOUR

    monday = evaluate_sla(calendar, received, None, at(2026, 6, 8, 11, 45), FOUR_HOURS)
    assert monday.state == SlaState.DUE_SOON
    assert monday.remaining == 45 * 60

    late = evaluate_sla(calendar, received, None, at(2026, 6, 8, 12, 31), FOUR_HOURS)
    assert late.state == SlaState.BREACHED
    assert late.remaining == -60


def test_the_holiday_keeps_the_clock_stopped_in_stuttgart_only() -> None:
    received, thursday_noon = at(2026, 6, 3, 16), at(2026, 6, 4, 12)
    assert evaluate_sla(nine_to_six("DE-BW"), received, None, thursday_noon, FOUR_HOURS).state == SlaState.RUNNING
    assert evaluate_sla(nine_to_six("DE-BE"), received, None, thursday_noon, FOUR_HOURS).state == SlaState.BREACHED


def test_the_due_soon_window_can_be_chosen() -> None:
    calendar, received, now = nine_to_six(), at(2026, 6, 8, 9), at(2026, 6, 8, 11)
    assert evaluate_sla(calendar, received, None, now, FOUR_HOURS).state == SlaState.RUNNING
    assert evaluate_sla(calendar, received, None, now, FOUR_HOURS, due_soon_seconds=2 * HOUR).state == "due_soon"


def test_with_the_clock_frozen_like_the_inbox_does() -> None:
    calendar = nine_to_six()
    with time_machine.travel(at(2026, 1, 6, 15), tick=False):  # Epiphany, a Tuesday
        status = evaluate_sla(calendar, at(2026, 1, 5, 16), None, timezone.now(), FOUR_HOURS)
    assert status.state == SlaState.RUNNING
    assert status.elapsed == 2 * HOUR
    assert status.deadline == at(2026, 1, 7, 11)


# --- Figures over many conversations -----------------------------------------------------------------------


def test_response_rate_median_and_mean_are_in_business_time() -> None:
    calendar = nine_to_six()
    conversations = [
        (at(2026, 6, 5, 17, 30), at(2026, 6, 8, 9, 30)),  # 1 h over the weekend
        (at(2026, 6, 3, 17), at(2026, 6, 5, 10)),  # 2 h over Corpus Christi
        (at(2026, 6, 8, 10), at(2026, 6, 8, 16)),  # 6 h
        (at(2026, 6, 8, 11), None),
    ]
    assert response_rate(conversations) == 0.75
    assert median_response_seconds(calendar, conversations) == 2 * HOUR
    assert mean_response_seconds(calendar, conversations) == 3 * HOUR
    assert response_rate([]) is None
    assert median_response_seconds(calendar, [(at(2026, 6, 8, 11), None)]) is None


def test_summaries_per_channel() -> None:
    calendar, now = nine_to_six(), at(2026, 6, 8, 14)
    rows = [
        ("mastodon", at(2026, 6, 8, 9), at(2026, 6, 8, 10)),
        ("mastodon", at(2026, 6, 8, 9), at(2026, 6, 8, 14)),
        ("mastodon", at(2026, 6, 8, 10, 30), None),
        ("bluesky", at(2026, 6, 8, 13), None),
        ("bluesky", at(2026, 6, 5, 9), None),
    ]
    summaries = summarize_by(calendar, rows, now, FOUR_HOURS)
    mastodon, bluesky = summaries["mastodon"], summaries["bluesky"]
    assert (mastodon.conversations, mastodon.answered, mastodon.met, mastodon.breached) == (3, 2, 1, 1)
    assert mastodon.due_soon == 1  # 3.5 of 4 hours used
    assert mastodon.median_seconds == 3 * HOUR
    assert (bluesky.running, bluesky.breached, bluesky.response_rate) == (1, 1, 0.0)
    assert summarize(calendar, [], now, FOUR_HOURS).response_rate is None


def test_conversations_about_to_breach_come_with_the_least_time_first() -> None:
    calendar, now = nine_to_six(), at(2026, 6, 8, 14)
    unanswered = [(1, at(2026, 6, 8, 11)), (2, at(2026, 6, 8, 10, 30)), (3, at(2026, 6, 8, 13)), (4, at(2026, 6, 5))]
    due = about_to_breach(calendar, unanswered, now, FOUR_HOURS)
    assert [key for key, _status in due] == [2, 1]
    assert [status.remaining for _key, status in due] == [30 * 60, HOUR]
