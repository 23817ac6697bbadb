"""The queue: weekly posting times per channel, "add to queue", the DST rule, presets."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.models import Channel
from stammtisch.publishing import queue
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, Post, QueueSlot

BERLIN = dt.timezone(dt.timedelta(hours=1))  # CET, for readable expectations in winter
# Monday 2 March 2026, 08:00 in Berlin (CET, UTC+1).
MONDAY = dt.datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN)
NINE = dt.time(9, 0)


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def slots(channel: Channel, *pairs: tuple[int, str]) -> None:
    queue.do_set_slots(Actor.system(), channel, [(day, dt.time.fromisoformat(t)) for day, t in pairs])


def test_next_free_slot_is_the_next_weekly_time_in_the_workspace_zone(cast, channel):
    slots(channel, (0, "09:00"), (2, "09:00"))

    found = queue.next_free_slots([channel], after=MONDAY, count=3)

    # 09:00 in Berlin (CET) is 08:00 UTC: Monday, Wednesday, next Monday.
    assert found == [utc(2026, 3, 2, 8), utc(2026, 3, 4, 8), utc(2026, 3, 9, 8)]


def test_a_time_taken_by_another_post_on_the_channel_is_skipped(cast, channel):
    slots(channel, (0, "09:00"), (2, "09:00"))
    do_create_post(
        Actor.system(), cast.workspace, text="Schon geplant", channels=[channel], scheduled_at=utc(2026, 3, 2, 8)
    )

    assert queue.next_free_slots([channel], after=MONDAY) == [utc(2026, 3, 4, 8)]


def test_a_cancelled_post_gives_its_time_back(cast, channel):
    slots(channel, (0, "09:00"))
    post = do_create_post(
        Actor.system(), cast.workspace, text="Abgesagt", channels=[channel], scheduled_at=utc(2026, 3, 2, 8)
    )
    Delivery.objects.filter(post=post).update(state=Delivery.State.CANCELLED)

    assert queue.next_free_slots([channel], after=MONDAY) == [utc(2026, 3, 2, 8)]


def test_across_channels_only_times_they_share_and_free_on_all_count(cast, channel, second_channel):
    slots(channel, (0, "09:00"), (1, "12:00"), (2, "09:00"))
    slots(second_channel, (0, "09:00"), (2, "09:00"))
    # Monday 09:00 is taken on the second channel only: the post needs a time free on both.
    do_create_post(
        Actor.system(),
        cast.workspace,
        text="Nur Kanal zwei",
        channels=[second_channel],
        scheduled_at=utc(2026, 3, 2, 8),
    )

    assert queue.next_free_slots([channel, second_channel], after=MONDAY) == [utc(2026, 3, 4, 8)]
    # Alone, the first channel still has Monday 09:00 and Tuesday 12:00.
    assert queue.next_free_slots([channel], after=MONDAY, count=2) == [utc(2026, 3, 2, 8), utc(2026, 3, 3, 11)]


def test_channels_without_a_shared_time_take_the_first_time_free_on_all(cast, channel, second_channel):
    slots(channel, (0, "09:00"))
    slots(second_channel, (1, "17:00"))
    do_create_post(
        Actor.system(), cast.workspace, text="Montag", channels=[second_channel], scheduled_at=utc(2026, 3, 2, 8)
    )

    # Monday 09:00 (the first channel's) is taken on the second channel; Tuesday 17:00 is free on both.
    assert queue.next_free_slots([channel, second_channel], after=MONDAY, count=2) == [
        utc(2026, 3, 3, 16),
        utc(2026, 3, 9, 8),
    ]
    assert (
        queue.candidate_slots(queue.weekly_slots([channel.pk, second_channel.pk]), [channel.pk, second_channel.pk])[1]
        is False
    )


def test_a_slot_that_does_not_exist_on_the_dst_day_is_skipped_that_day(cast, channel):
    # Europe/Berlin: on Sunday 29 March 2026 the clocks go from 02:00 to 03:00.
    slots(channel, (6, "02:30"))
    after = dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.UTC)

    found = queue.next_free_slots([channel], after=after, count=2)

    # Not 29 March at all (never shifted to 03:30 or 01:30); the Sundays around it are used.
    assert found == [utc(2026, 4, 5, 0, 30), utc(2026, 4, 12, 0, 30)]
    assert queue.slot_instant(dt.date(2026, 3, 29), dt.time(2, 30), cast.workspace.tz) is None
    assert queue.slot_instant(dt.date(2026, 3, 22), dt.time(2, 30), cast.workspace.tz) == utc(2026, 3, 22, 1, 30)


def test_a_slot_that_exists_twice_on_the_dst_day_is_used_once_at_the_first(cast, channel):
    # Europe/Berlin: on Sunday 25 October 2026 02:00-03:00 happens twice (CEST, then CET).
    slots(channel, (6, "02:30"))
    after = dt.datetime(2026, 10, 24, 12, 0, tzinfo=dt.UTC)

    found = queue.next_free_slots([channel], after=after, count=2)

    assert found == [utc(2026, 10, 25, 0, 30), utc(2026, 11, 1, 1, 30)]


def test_add_to_queue_schedules_a_draft_into_the_next_free_slot(cast, channel):
    slots(channel, (0, "09:00"))
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text="Frische Brezeln!", channels=[channel])

    at = queue.do_add_to_queue(Actor(user=cast.bob), post, now=MONDAY)

    assert at == utc(2026, 3, 2, 8)
    post.refresh_from_db()
    assert (post.status, post.scheduled_at, post.source) == (Post.Status.SCHEDULED, at, Post.Source.QUEUE)
    assert list(Delivery.objects.filter(post=post).values_list("due_at", "state")) == [(at, Delivery.State.SCHEDULED)]
    event = AuditEvent.objects.get(action="post.add_to_queue")
    assert (event.actor, event.data["scheduled_at"]) == (cast.bob, at.isoformat())


def test_two_posts_added_one_after_the_other_never_share_a_slot(cast, channel, second_channel):
    slots(channel, (0, "09:00"), (2, "09:00"))
    slots(second_channel, (0, "09:00"), (2, "09:00"))
    first = do_create_post(Actor.system(), cast.workspace, text="Eins", channels=[channel])
    second = do_create_post(Actor.system(), cast.workspace, text="Zwei", channels=[channel, second_channel])
    third = do_create_post(Actor.system(), cast.workspace, text="Drei", channels=[second_channel])

    times = [queue.do_add_to_queue(Actor.system(), post, now=MONDAY) for post in (first, second, third)]

    # The second post needs both channels free: Monday is taken on the first channel.
    assert times == [utc(2026, 3, 2, 8), utc(2026, 3, 4, 8), utc(2026, 3, 2, 8)]


def test_lock_channels_locks_their_rows_in_id_order(cast, channel, second_channel):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        locked = queue.lock_channels([second_channel.pk, channel.pk, channel.pk])
    assert [c.pk for c in locked] == sorted([channel.pk, second_channel.pk])
    sql = captured.captured_queries[-1]["sql"]
    if connection.vendor == "postgresql":
        assert "FOR NO KEY UPDATE" in sql
    assert "ORDER BY" in sql


def test_a_channel_without_posting_times_is_a_clear_refusal_and_changes_nothing(cast, channel, second_channel):
    slots(channel, (0, "09:00"))
    post = do_create_post(Actor.system(), cast.workspace, text="Hallo", channels=[channel, second_channel])

    with pytest.raises(ActionError) as refused:
        queue.do_add_to_queue(Actor.system(), post, now=MONDAY)

    assert refused.value.message == ("Channel Café Königsbau Zwei has no posting times yet: add some under Queue.")
    post.refresh_from_db()
    assert (post.status, post.scheduled_at) == (Post.Status.DRAFT, None)
    assert not AuditEvent.objects.filter(action="post.add_to_queue").exists()


def test_only_a_draft_can_be_added(cast, channel):
    slots(channel, (0, "09:00"))
    post = do_create_post(
        Actor.system(), cast.workspace, text="Geplant", channels=[channel], scheduled_at=utc(2026, 3, 3, 8)
    )

    with pytest.raises(ActionError, match="scheduled already"):
        queue.do_add_to_queue(Actor.system(), post, now=MONDAY)


def test_a_full_queue_is_a_clear_refusal(cast, channel):
    slots(channel, (0, "09:00"))
    post = do_create_post(Actor.system(), cast.workspace, text="Zu spät", channels=[channel])
    for week in range(53):
        day = dt.date(2026, 3, 2) + dt.timedelta(weeks=week)
        at = queue.slot_instant(day, NINE, cast.workspace.tz)
        do_create_post(Actor.system(), cast.workspace, text=f"Woche {week}", channels=[channel], scheduled_at=at)

    with pytest.raises(ActionError, match="no free posting time in the next year"):
        queue.do_add_to_queue(Actor.system(), post, now=MONDAY)


def test_an_analyst_cannot_add_to_the_queue_or_change_times(cast, channel):
    post = do_create_post(Actor.system(), cast.workspace, text="Hallo", channels=[channel])
    with pytest.raises(PermissionDenied):
        queue.do_add_to_queue(Actor(user=cast.anna), post, now=MONDAY)
    with pytest.raises(PermissionDenied):
        queue.do_set_slots(Actor(user=cast.anna), channel, [(0, NINE)])
    with pytest.raises(PermissionDenied):
        queue.do_set_slots(Actor(user=cast.charlie), channel, [(0, NINE)])


def test_an_editor_sets_adds_and_replaces_posting_times(cast, channel):
    bob = Actor(user=cast.bob)
    queue.do_set_slots(bob, channel, [(0, dt.time(9, 0, 30)), (0, NINE), (4, dt.time(17, 0))])
    assert set(QueueSlot.objects.filter(channel=channel).values_list("weekday", "time")) == {
        (0, NINE),
        (4, dt.time(17, 0)),
    }
    queue.do_add_slots(bob, channel, [(2, NINE), (0, NINE)])
    assert QueueSlot.objects.filter(channel=channel).count() == 3

    queue.do_apply_preset(bob, channel, "weekdays_twice")
    assert set(QueueSlot.objects.filter(channel=channel).values_list("weekday", "time")) == {
        (day, time) for day in range(5) for time in (dt.time(8), dt.time(17))
    }
    events = list(AuditEvent.objects.filter(object_type="channel").order_by("pk").values_list("action", flat=True))
    assert events == ["queue.set_slots", "queue.set_slots", "queue.apply_preset"]


def test_bad_slots_and_presets_are_refused(cast, channel):
    with pytest.raises(ActionError, match="Monday to Sunday"):
        queue.do_set_slots(Actor.system(), channel, [(7, NINE)])
    with pytest.raises(ActionError, match="presets"):
        queue.do_apply_preset(Actor.system(), channel, "hourly")
    too_many = [(day, dt.time(hour, minute)) for day in range(7) for hour in range(8) for minute in (0, 30)]
    with pytest.raises(ActionError, match="at most 100"):
        queue.do_set_slots(Actor.system(), channel, too_many)
    assert not QueueSlot.objects.exists()


def test_setting_the_same_times_again_writes_nothing(cast, channel):
    slots(channel, (0, "09:00"))
    slots(channel, (0, "09:00"))
    assert AuditEvent.objects.filter(action="queue.set_slots").count() == 1


def test_with_approvals_required_a_queued_post_waits_for_approval_in_its_slot(cast, channel):
    from stammtisch.publishing.models import ApprovalSettings

    ApprovalSettings.objects.create(workspace=cast.workspace, required=True)
    slots(channel, (0, "09:00"), (2, "09:00"))
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text="Bitte prüfen", channels=[channel])

    at = queue.do_add_to_queue(Actor(user=cast.bob), post, now=MONDAY)

    post.refresh_from_db()
    assert (post.status, post.scheduled_at) == (Post.Status.PENDING_APPROVAL, at)
    assert list(Delivery.objects.filter(post=post).values_list("due_at", flat=True)) == [None]  # not due yet
    # The slot is kept for it: the next post takes Wednesday.
    other = do_create_post(Actor(user=cast.bob), cast.workspace, text="Noch einer", channels=[channel])
    assert queue.do_add_to_queue(Actor(user=cast.bob), other, now=MONDAY) == utc(2026, 3, 4, 8)
