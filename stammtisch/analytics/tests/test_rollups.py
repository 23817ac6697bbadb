"""The daily rollups and the KPIs computed from them, on small fixtures."""

from __future__ import annotations

import datetime as dt

import pytest

from stammtisch.analytics import kpis, rollups
from stammtisch.analytics.models import ChannelMetricSnapshot, DailyRollup, RollupState
from stammtisch.analytics.tests.builders import DAY, at, channel, message, published
from stammtisch.audience.models import Engagement, Person, StageTransition
from stammtisch.links.models import Click, Conversion, ShortLink

pytestmark = pytest.mark.django_db


def values(workspace, key: str, dimension: str = "") -> dict[dt.date, float]:  # type: ignore[no-untyped-def]
    return dict(
        DailyRollup.objects.filter(workspace=workspace, key=key, dimension=dimension).values_list("day", "value")
    )


def kpi_value(workspace, key: str, first: dt.date, last: dt.date) -> kpis.Reading:  # type: ignore[no-untyped-def]
    kpi = kpis.KPIS[key]
    series = kpis.read_rollups(workspace, {*kpi.inputs, kpi.sample_key} - {""}, first, last)
    return kpis.evaluate(kpi, series, first, last)


def test_it_counts_sentiment_of_incoming_messages_per_local_day(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    for sentiment, count in (("positive", 12), ("negative", 4), ("neutral", 4)):
        for _ in range(count):
            message(workspace, koenigsbau, at(DAY, 12), sentiment=sentiment)
    message(workspace, koenigsbau, at(DAY, 12))  # not triaged yet: left out
    message(workspace, koenigsbau, at(DAY, 12), sentiment="positive", intent="spam")  # spam: left out
    message(workspace, koenigsbau, at(DAY, 12), sentiment="positive", direction="out")  # ours: left out
    # 23:30 in Berlin is the next day in UTC, still DAY locally.
    message(workspace, koenigsbau, at(DAY, 23, 30), sentiment="negative")

    rollups.refresh(workspace, DAY, DAY + dt.timedelta(days=1))

    assert values(workspace, "inbox.triaged") == {DAY: 21.0, DAY + dt.timedelta(days=1): 0.0}
    assert values(workspace, "inbox.positive")[DAY] == 12
    assert values(workspace, "inbox.negative")[DAY] == 5
    assert values(workspace, "inbox.triaged", str(koenigsbau.pk)) == {DAY: 21.0}
    net = kpi_value(workspace, "image.net_sentiment", DAY, DAY)
    assert net.sample == 21
    assert net.value == pytest.approx(100 * (12 - 5) / 21)
    assert kpi_value(workspace, "image.negative_share", DAY, DAY).value == pytest.approx(100 * 5 / 21)


def test_a_kpi_with_too_little_data_says_so(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    for _ in range(3):
        message(workspace, koenigsbau, at(DAY, 10), sentiment="positive")
    rollups.refresh(workspace, DAY, DAY)
    reading = kpi_value(workspace, "image.positive_share", DAY, DAY)
    assert reading.value is None
    assert reading.sample == 3


def test_it_measures_answered_feedback_and_the_median_response_time(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    waits = [10, 30, 50, 70, 90]  # minutes
    for n, wait in enumerate(waits):
        question = message(workspace, koenigsbau, at(DAY, 9, n), intent="question")
        conversation = question.conversation
        conversation.first_response_at = question.occurred_at + dt.timedelta(minutes=wait)
        conversation.save()
    message(workspace, koenigsbau, at(DAY, 11), intent="complaint")  # unanswered
    message(workspace, koenigsbau, at(DAY, 11), intent="praise")  # not feedback

    rollups.refresh(workspace, DAY, DAY)

    assert values(workspace, "inbox.feedback")[DAY] == 6
    assert values(workspace, "inbox.feedback_answered")[DAY] == 5
    assert kpi_value(workspace, "loyalty.answered_feedback", DAY, DAY).value == pytest.approx(100 * 5 / 6)
    assert values(workspace, "inbox.response_median_s")[DAY] == 50 * 60
    assert kpi_value(workspace, "loyalty.response_minutes", DAY, DAY).value == 50


def test_it_counts_new_people_returning_engagers_and_advocates(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    # A person's stage is the last of their transitions (audience/consume.py writes both).
    regular = Person.objects.create(
        workspace=workspace, display_name="Stammgast", first_seen=at(DAY, 8) - dt.timedelta(days=5), stage="advocate"
    )
    newcomer = Person.objects.create(workspace=workspace, display_name="Neu", first_seen=at(DAY, 9), stage="at_risk")
    for n, (person, kind) in enumerate(
        [(regular, "comment"), (regular, "like"), (newcomer, "comment"), (regular, "answered")]
    ):
        Engagement.objects.create(
            workspace=workspace,
            person=person,
            channel=koenigsbau,
            kind=kind,
            weight=1,
            occurred_at=at(DAY, 10 + n),
            source="message",
            source_id=n + 1,
        )
    StageTransition.objects.create(
        workspace=workspace, person=regular, from_stage="loyal", to_stage="advocate", at=at(DAY, 12)
    )
    StageTransition.objects.create(
        workspace=workspace, person=newcomer, from_stage="", to_stage="advocate", at=at(DAY, 12) - dt.timedelta(days=1)
    )
    StageTransition.objects.create(
        workspace=workspace, person=newcomer, from_stage="advocate", to_stage="at_risk", at=at(DAY, 13)
    )

    yesterday = DAY - dt.timedelta(days=1)
    rollups.refresh(workspace, yesterday, DAY)

    assert values(workspace, "people.new") == {yesterday: 0.0, DAY: 1.0}
    assert values(workspace, "people.returning") == {yesterday: 0.0, DAY: 1.0}  # the regular, once
    assert values(workspace, "people.advocates") == {yesterday: 1.0, DAY: 1.0}  # newcomer left, regular came


def test_advocates_counted_back_from_now_match_a_replay_of_every_transition(cast) -> None:
    """`rollups.advocates` reads only the transitions since the span's start; a replay of all of
    them since the beginning must give the same counts, for a span ending today and for one in
    the past, with an erased person (no transitions, stage lapsed) among them."""
    import random

    workspace = cast.workspace
    chance = random.Random(11)
    stages = ["new", "active", "loyal", "advocate", "at_risk", "lapsed"]
    first_day = DAY - dt.timedelta(days=40)
    history: list[tuple[int, str, dt.datetime]] = []
    for n in range(40):
        person = Person.objects.create(workspace=workspace, display_name=f"P{n}")
        stage = ""
        moment = at(first_day, 8) + dt.timedelta(hours=chance.randrange(0, 24 * 30))
        for _ in range(chance.randrange(1, 6)):
            new_stage = chance.choice([s for s in stages if s != stage])
            StageTransition.objects.create(
                workspace=workspace, person=person, from_stage=stage, to_stage=new_stage, at=moment
            )
            history.append((person.pk, new_stage, moment))
            stage = new_stage
            moment += dt.timedelta(hours=chance.randrange(1, 24 * 6))
        Person.objects.filter(pk=person.pk).update(stage=stage)
    erased = Person.objects.filter(workspace=workspace).first()
    assert erased is not None
    erased.transitions.all().delete()
    Person.objects.filter(pk=erased.pk).update(stage="lapsed")
    history = [item for item in history if item[0] != erased.pk]

    def replay(last_day: dt.date) -> int:
        end = at(last_day + dt.timedelta(days=1), 0)
        stage_of: dict[int, str] = {}
        for person_id, stage, moment in sorted(history, key=lambda item: item[2]):
            if moment < end:
                stage_of[person_id] = stage
        return sum(1 for stage in stage_of.values() if stage == "advocate")

    seen = []
    for first, last in (
        (DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=30)),
        (first_day + dt.timedelta(days=9), first_day + dt.timedelta(days=16)),
    ):
        counts = rollups.advocates(rollups.Span(workspace, first, last))
        assert counts == {day: replay(day) for day in rollups.Span(workspace, first, last).days()}
        seen.append(len(set(counts.values())))
    assert seen[1] > 1  # the counts do change inside the past span


def test_new_followers_are_the_change_between_readings(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    for offset, followers, source in [(0, 100, "api"), (1, 110, "api"), (2, 105, "api"), (2, 999, "import")]:
        day = DAY + dt.timedelta(days=offset)
        ChannelMetricSnapshot.objects.create(
            workspace=workspace,
            channel=koenigsbau,
            day=day,
            observed_at=at(day, 23),
            followers=followers,
            source=source,
        )
    last = DAY + dt.timedelta(days=2)
    rollups.refresh(workspace, DAY, last)

    assert values(workspace, "channel.followers_delta") == {DAY: 0.0, DAY + dt.timedelta(days=1): 10.0, last: -5.0}
    assert kpi_value(workspace, "acquisition.new_followers", DAY, last).value is None  # 2 readings: fewer than 3
    ChannelMetricSnapshot.objects.create(
        workspace=workspace,
        channel=koenigsbau,
        day=last + dt.timedelta(days=1),
        observed_at=at(last, 23),
        followers=125,
    )
    rollups.refresh(workspace, DAY, last + dt.timedelta(days=1))
    assert kpi_value(workspace, "acquisition.new_followers", DAY, last + dt.timedelta(days=1)).value == 25


def test_it_counts_clicks_visits_and_attributed_conversions(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    link = ShortLink.objects.create(workspace=workspace, target="https://example.org/", channel=koenigsbau)
    human = [
        Click.objects.create(
            link=link, workspace=workspace, channel=koenigsbau, occurred_at=at(DAY, 10), visitor_hash=f"v{n}"
        )
        for n in range(2)
    ]
    Click.objects.create(
        link=link, workspace=workspace, channel=koenigsbau, occurred_at=at(DAY, 10), visitor_hash="bot", is_bot=True
    )
    Conversion.objects.create(
        workspace=workspace, kind="visit", source="snippet", click=human[0], channel=koenigsbau, occurred_at=at(DAY, 11)
    )
    Conversion.objects.create(
        workspace=workspace,
        kind="signup",
        source="snippet",
        click=human[0],
        channel=koenigsbau,
        occurred_at=at(DAY, 11),
    )
    Conversion.objects.create(
        workspace=workspace, kind="signup", source="snippet", occurred_at=at(DAY, 11)
    )  # not attributed

    rollups.refresh(workspace, DAY, DAY)

    assert values(workspace, "links.clicks")[DAY] == 2
    assert values(workspace, "links.clicks", str(koenigsbau.pk))[DAY] == 2
    assert values(workspace, "links.visits")[DAY] == 1
    assert values(workspace, "links.conversions")[DAY] == 1


def test_posts_are_counted_by_channel_pillar_purpose_and_publishing_hour(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    published(workspace, koenigsbau, at(DAY, 9), pillar=" Rezepte ", impressions=200, likes=10)
    published(workspace, koenigsbau, at(DAY, 9, 30), pillar="rezepte", purpose="promotion", impressions=100, likes=20)
    published(workspace, koenigsbau, at(DAY, 18))  # no figures yet: not measured

    rollups.refresh(workspace, DAY, DAY)

    assert values(workspace, "posts.published")[DAY] == 3
    assert values(workspace, "posts.pillar", "rezepte")[DAY] == 2
    assert values(workspace, "posts.pillar", "-")[DAY] == 1
    assert values(workspace, "posts.purpose", "promotion")[DAY] == 1
    cell = rollups.besttime_dimension(DAY.weekday(), 9)
    assert values(workspace, "besttime.posts", cell)[DAY] == 2
    assert values(workspace, "besttime.engagements", cell)[DAY] == 30
    assert values(workspace, "besttime.impressions", cell)[DAY] == 300


def test_refreshing_twice_gives_the_same_rows_and_picks_up_changes(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    doomed = message(workspace, koenigsbau, at(DAY, 10), sentiment="negative")
    message(workspace, koenigsbau, at(DAY, 10), sentiment="positive")
    published(workspace, koenigsbau, at(DAY, 9), pillar="Rezepte", impressions=100, likes=5)

    first = DAY - dt.timedelta(days=3)
    rollups.refresh(workspace, first, DAY)
    before = sorted(DailyRollup.objects.values_list("day", "key", "dimension", "value"))
    rollups.refresh(workspace, first, DAY)
    assert sorted(DailyRollup.objects.values_list("day", "key", "dimension", "value")) == before

    doomed.delete()
    rollups.refresh(workspace, first, DAY)
    assert values(workspace, "inbox.negative")[DAY] == 0
    assert values(workspace, "inbox.triaged")[DAY] == 1


def test_the_job_backfills_once_then_refreshes_recent_days_when_due(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    long_ago = DAY - dt.timedelta(days=200)
    message(workspace, koenigsbau, at(long_ago, 10), sentiment="positive")
    now = at(DAY, 12)

    assert rollups.run_due(now) == 2  # alice's workspace and charlie's
    state = RollupState.objects.get(workspace=workspace)
    assert state.backfilled and state.refreshed_at == now
    assert values(workspace, "inbox.positive")[long_ago] == 1
    rows = DailyRollup.objects.filter(workspace=workspace).count()

    assert rollups.run_due(now + dt.timedelta(minutes=5)) == 0  # not due yet
    message(workspace, koenigsbau, at(DAY, 12, 30), sentiment="positive")
    assert rollups.run_due(now + rollups.REFRESH_EVERY) == 2
    assert values(workspace, "inbox.positive")[DAY] == 1
    assert values(workspace, "inbox.positive")[long_ago] == 1  # outside the recent days: kept
    # The same days and keys; only the channel's new rows (triaged, positive) were added.
    assert DailyRollup.objects.filter(workspace=workspace).count() == rows + 2


def test_a_worker_does_not_take_a_state_another_one_holds(cast) -> None:
    now = at(DAY, 12)
    RollupState.objects.create(workspace=cast.workspace, next_run_at=now)
    won = rollups._claim(now)
    assert [s.workspace_id for s in won] == [cast.workspace.pk]
    assert rollups._claim(now) == []  # leased until now + LEASE
