from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import translation

from stammtisch.audience import consume, jobs, loyalty
from stammtisch.audience.models import Person, StageTransition
from stammtisch.audience.tests.conftest import NOW, answer, interaction, message

DAY = dt.timedelta(days=1)


def test_the_score_halves_every_thirty_days() -> None:
    person = Person(score=0.0)
    loyalty.add(person, 8.0, NOW)
    assert loyalty.current_score(person, NOW + loyalty.HALF_LIFE) == pytest.approx(4.0)
    assert loyalty.current_score(person, NOW + 2 * loyalty.HALF_LIFE) == pytest.approx(2.0)


def test_the_score_does_not_depend_on_the_order_of_arrival() -> None:
    events = [(3.0, NOW), (1.0, NOW - 10 * DAY), (5.0, NOW - 40 * DAY), (3.0, NOW + 2 * DAY)]
    forward, backward = Person(score=0.0), Person(score=0.0)
    for weight, at in events:
        loyalty.add(forward, weight, at)
    for weight, at in reversed(events):
        loyalty.add(backward, weight, at)
    later = NOW + 5 * DAY
    assert loyalty.current_score(forward, later) == pytest.approx(loyalty.current_score(backward, later))


def test_depth_counts_a_share_more_than_a_comment_more_than_a_like() -> None:
    assert loyalty.weight("share") > loyalty.weight("comment") > loyalty.weight("like") > 0
    assert loyalty.weight("comment", "positive") > loyalty.weight("comment") > loyalty.weight("comment", "negative")


def test_the_explanation_counts_with_plurals() -> None:
    with translation.override("en"):
        text = loyalty.explain({"comment": 5, "reply": 1, "answered": 4, "share": 2})
        assert text == "commented 6 times, got 4 answers, 2 shares in the last 30 days."
        assert loyalty.explain({"answered": 1, "share": 1}) == "got 1 answer, 1 share in the last 30 days."
        assert loyalty.explain({}) == "No activity in the last 30 days."


def _stages(person: Person) -> list[tuple[str, str]]:
    return list(StageTransition.objects.filter(person=person).values_list("from_stage", "to_stage"))


def test_stages_move_as_people_engage_and_as_time_passes(cast, channel) -> None:
    with time_machine.travel(NOW, tick=False):
        first = message(channel, at=NOW)
        consume.consume(NOW)
        person = Person.objects.get()
        assert person.stage == "new"  # one comment: 3 points

        answer(channel, first, at=NOW + dt.timedelta(hours=1))
        interaction(channel, "like", at=NOW + dt.timedelta(hours=2))
        consume.consume(NOW + DAY)
        person.refresh_from_db()
        assert person.stage == "engaged"  # 3 + 2 + 1

        for n in range(3):
            message(channel, at=NOW + (2 + n) * DAY, sentiment="positive")
        consume.consume(NOW + 5 * DAY)
        person.refresh_from_db()
        assert person.stage == "loyal"

        for n in range(2):
            interaction(channel, "share", at=NOW + (6 + n) * DAY)
        message(channel, kind="mention", at=NOW + 8 * DAY, sentiment="positive")
        consume.consume(NOW + 8 * DAY)
        person.refresh_from_db()
        assert person.stage == "advocate"
        assert person.score >= loyalty.ADVOCATE_SCORE

    # Silence: the daily job moves them to at risk, then to lapsed.
    assert jobs.daily(NOW + 60 * DAY) == (1, 0)
    person.refresh_from_db()
    assert person.stage == "at_risk"
    jobs.daily(NOW + 130 * DAY)
    person.refresh_from_db()
    assert person.stage == "lapsed"
    assert _stages(person) == [
        ("", "new"),
        ("new", "engaged"),
        ("engaged", "loyal"),
        ("loyal", "advocate"),
        ("advocate", "at_risk"),
        ("at_risk", "lapsed"),
    ]


def test_someone_who_barely_engaged_lapses_without_being_at_risk(cast, channel) -> None:
    interaction(channel, "like", at=NOW)
    consume.consume(NOW)
    jobs.daily(NOW + 50 * DAY)
    assert Person.objects.get().stage == "lapsed"


def test_the_daily_job_runs_once_a_day(cast) -> None:
    assert jobs.daily_due(NOW)
    assert not jobs.daily_due(NOW + dt.timedelta(hours=23))
    assert jobs.daily_due(NOW + dt.timedelta(hours=24))


def test_a_person_who_comes_back_recovers(cast, channel) -> None:
    for n in range(5):
        message(channel, at=NOW + n * DAY)
    consume.consume(NOW + 5 * DAY)
    jobs.daily(NOW + 60 * DAY)
    assert Person.objects.get().stage == "at_risk"
    message(channel, at=NOW + 61 * DAY)
    message(channel, at=NOW + 61 * DAY)
    consume.consume(NOW + 61 * DAY)
    assert Person.objects.get().stage == "engaged"
