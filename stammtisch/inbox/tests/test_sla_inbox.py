"""The SLA in the inbox: settings, figures per channel and member, the about-to-breach list and
the "over SLA" filter, with a frozen clock across business hours, a weekend and a holiday
(Epiphany, 6 January 2026, is closed in Baden-Württemberg but not in Berlin)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stammtisch.inbox import sla, sla_figures, sync
from stammtisch.inbox.models import Conversation, Message, Reply
from stammtisch.inbox.models_sla import SlaSettings, default_calendar
from stammtisch.inbox.tests.fake import comment
from stammtisch.networks.models import Channel

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 1, 12, 12, 30, tzinfo=BERLIN)  # Monday
HOUR = 3600.0


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, day, hour, minute, tzinfo=BERLIN)


def conversation(
    channel: Channel,
    name: str,
    received: dt.datetime,
    answered: dt.datetime | None = None,
    status: str = "open",
    replied_by: Any = None,
) -> Conversation:
    found = Conversation.objects.create(
        workspace=channel.workspace,
        channel=channel,
        kind="comments",
        root_remote_id=name,
        status=status,
        last_message_at=answered or received,
        last_incoming_at=received,
        author_name=name,
    )
    Message.objects.create(
        workspace=channel.workspace,
        conversation=found,
        channel=channel,
        remote_id=f"{name}-in",
        text="?",
        occurred_at=received,
    )
    if answered is not None:
        Message.objects.create(
            workspace=channel.workspace,
            conversation=found,
            channel=channel,
            remote_id=f"{name}-out",
            text="!",
            occurred_at=answered,
            direction=Message.Direction.OUT,
        )
        if replied_by is not None:
            Reply.objects.create(
                workspace=channel.workspace,
                conversation=found,
                channel=channel,
                in_reply_to="x",
                text="!",
                author=replied_by,
                state=Reply.State.SENT,
                sent_at=answered,
            )
    return found


@pytest.fixture
def channels(cast) -> tuple[Channel, Channel]:
    make = lambda handle: Channel.objects.create(  # noqa: E731
        workspace=cast.workspace, network="sandbox", handle=handle, display_name=handle.title()
    )
    return make("insta"), make("mastodon")


@pytest.fixture
def day(cast, channels) -> dict[str, Conversation]:
    """Four business hours, Mon-Fri 09:00-18:00 in Berlin, DE-BW holidays (the defaults)."""
    first, second = channels
    return {
        # Mon 17:00 -> Wed 10:00: 1 h Monday, Tuesday is Epiphany, 1 h Wednesday = 2 h: met.
        "over_holiday": conversation(first, "a", at(5, 17), at(7, 10), "waiting", cast.bob),
        # Wed 09:00 -> 09:30: half an hour: met.
        "quick": conversation(first, "e", at(7, 9), at(7, 9, 30), "waiting", cast.alice),
        # Fri 14:00 -> Mon 11:00: 4 h Friday + 2 h Monday = 6 h: breached.
        "over_weekend": conversation(second, "b", at(9, 14), at(12, 11), "done", cast.bob),
        # Unanswered since Mon 09:00: 3.5 h by 12:30, half an hour left: due soon.
        "due_soon": conversation(second, "c", at(12, 9)),
        # Unanswered since Thu 17:30: 0.5 + 9 + 3.5 = 13 h: breached.
        "breached": conversation(first, "d", at(8, 17, 30)),
    }


def test_figures_in_business_time_across_a_holiday_and_a_weekend(cast, day, channels) -> None:
    figures = sla_figures.figures(cast.workspace, NOW - dt.timedelta(days=30), NOW, NOW)
    total = figures.total
    assert (total.conversations, total.answered) == (5, 3)
    assert total.response_rate == pytest.approx(0.6)
    assert total.median_seconds == pytest.approx(2 * HOUR)  # of 0.5 h, 2 h, 6 h
    assert total.mean_seconds == pytest.approx(8.5 * HOUR / 3)
    assert (total.met, total.breached, total.due_soon, total.running) == (2, 2, 1, 0)
    first, second = channels
    assert figures.by_channel[first.pk].median_seconds == pytest.approx(1.25 * HOUR)
    assert figures.by_channel[second.pk].response_rate == pytest.approx(0.5)
    assert figures.by_member[cast.bob.pk].mean_seconds == pytest.approx(4 * HOUR)  # 2 h and 6 h
    assert figures.by_member[cast.alice.pk].answered == 1
    assert figures.by_member[None].answered == 0 and figures.by_member[None].conversations == 2


def test_in_berlin_epiphany_is_a_working_day_so_the_same_answer_is_late(cast, day) -> None:
    calendar = default_calendar("Europe/Berlin") | {"region": "DE-BE"}
    SlaSettings.objects.create(workspace=cast.workspace, sla_target_hours=4, calendar=calendar)
    rows = {row.conversation_id: row for row in sla_figures.answered_rows(cast.workspace, at(1, 0), NOW)}
    row = rows[day["over_holiday"].pk]
    settings = SlaSettings.for_workspace(cast.workspace)
    status = sla.evaluate_sla(
        settings.business_calendar(), row.received_at, row.answered_at, NOW, settings.target_seconds
    )
    assert status.state == sla.SlaState.BREACHED and status.elapsed == pytest.approx(11 * HOUR)


def test_the_period_counts_conversations_received_in_it(cast, day) -> None:
    figures = sla_figures.figures(cast.workspace, at(9, 0), NOW, NOW)
    assert figures.total.conversations == 2  # Friday's and Monday's


def test_open_conversations_about_to_breach_least_time_left_first(cast, day) -> None:
    states = sla_figures.open_states(cast.workspace, NOW)
    assert [(c.pk, s.state) for c, s in states] == [
        (day["breached"].pk, sla.SlaState.BREACHED),
        (day["due_soon"].pk, sla.SlaState.DUE_SOON),
    ]
    assert states[0][1].remaining == pytest.approx(-9 * HOUR)
    assert states[1][1].deadline == at(12, 13)
    assert sla_figures.ids_in_state(cast.workspace, "over", NOW) == [day["breached"].pk]


def test_a_new_question_after_our_answer_starts_the_clock_again(cast, channels) -> None:
    found = conversation(channels[0], "f", at(5, 9), at(5, 10))
    Message.objects.create(
        workspace=cast.workspace,
        conversation=found,
        channel=channels[0],
        remote_id="f-2",
        text="Und morgen?",
        occurred_at=at(12, 12),
    )
    [(_conversation, status)] = sla_figures.open_states(cast.workspace, NOW)
    assert status.elapsed == pytest.approx(0.5 * HOUR) and status.state == sla.SlaState.RUNNING


def test_the_over_sla_filter_and_the_figures_page(cast, day) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(cast.alice)
    with time_machine.travel(NOW, tick=False):
        listed = client.get(reverse("inbox:list", args=[cast.workspace.slug]), {"sla": "over"})
        page = client.get(reverse("inbox:sla", args=[cast.workspace.slug]))
    assert listed.status_code == 200
    assert [c.pk for c in listed.context["conversations"]] == [day["breached"].pk]
    assert page.status_code == 200
    text = page.content.decode()
    assert "Over SLA" in text and "Due soon" in text
    assert "2 h" in text and "60 %" in text  # the median of all channels, the response rate
    assert page.context["days"] == 30


def test_owners_save_the_settings_with_the_calendars_own_validation(cast) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(cast.alice)
    url = reverse("inbox:sla_settings", args=[cast.workspace.slug])
    form: dict[str, str] = {
        "target_hours": "2",
        "time_zone": "Europe/Berlin",
        "region": "DE-BW",
        "closed_dates": "2026-12-24\n2026-12-31",
        "hours_mon": "09:00-12:00, 13:00-18:00",
        "hours_tue": "09:00-18:00",
        "hours_wed": "",
        "hours_thu": "",
        "hours_fri": "",
        "hours_sat": "",
        "hours_sun": "",
    }
    bad = client.post(url, {**form, "hours_tue": "9am-17:00"})
    assert bad.status_code == 400 and "is not a time of day" in bad.content.decode()
    bad = client.post(url, {**form, "region": "DE-XX"})
    assert bad.status_code == 400 and "is not a subdivision of DE" in bad.content.decode()
    bad = client.post(url, {**form, "hours_mon": "18:00-09:00"})
    assert bad.status_code == 400 and "ends before it starts" in bad.content.decode()
    assert not SlaSettings.objects.exists()
    assert client.post(url, form).status_code == 302
    saved = SlaSettings.objects.get(workspace=cast.workspace)
    assert saved.sla_target_hours == 2 and saved.target_seconds == 2 * HOUR
    assert saved.calendar["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "18:00"]]
    assert saved.business_calendar().closed_dates == {dt.date(2026, 12, 24), dt.date(2026, 12, 31)}
    shown = client.get(url)
    assert shown.status_code == 200 and "09:00-12:00, 13:00-18:00" in shown.content.decode()


def test_a_successful_sync_sets_the_channels_last_synced_at_once_per_pass(cast, fake_network, channel, now) -> None:
    fake_network.pages = [[comment(1), comment(2)], [comment(3)]]
    with CaptureQueriesContext(connection) as queries:
        sync.run_due("w1", now=now)
    channel.refresh_from_db()
    assert channel.last_synced_at == now
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "networks_channel" in q["sql"]]
    assert len(updates) == 1  # three pages, three events: one UPDATE


def test_a_failed_sync_leaves_last_synced_at_alone(cast, fake_network, channel, now) -> None:
    from stammtisch.networks.base import NetworkError

    fake_network.pages = [NetworkError("503")]
    sync.run_due("w1", now=now)
    channel.refresh_from_db()
    assert channel.last_synced_at is None
