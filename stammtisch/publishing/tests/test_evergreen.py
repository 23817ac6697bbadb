"""Evergreen posts: recycling a post, filling free queue slots, the gap, no same text twice in a
row, idempotence, the worker's hook."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.core.worker import Worker, default_jobs
from stammtisch.networks.models import Channel
from stammtisch.publishing import queue
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, EvergreenPost, Post

# Monday 2 March 2026, 07:00 UTC (08:00 in Berlin).
NOW = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


def utc(month: int, day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=dt.UTC)


def daily_at_nine(channel: Channel) -> None:
    queue.do_set_slots(Actor.system(), channel, [(day, dt.time(9, 0)) for day in range(7)])


def evergreen(cast, channels: list[Channel], text: str, gap: int = 3) -> EvergreenPost:  # type: ignore[no-untyped-def]
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text=text, channels=channels)
    return queue.do_make_evergreen(Actor(user=cast.bob), post, gap)


def filled(channel: Channel) -> list[tuple[dt.datetime, str]]:
    return list(
        Delivery.objects.filter(channel=channel, post__source=Post.Source.EVERGREEN)
        .order_by("post__scheduled_at")
        .values_list("post__scheduled_at", "text")
    )


def test_recycling_a_post_makes_an_evergreen_post_with_its_content(cast, channel, second_channel):
    post = do_create_post(
        Actor(user=cast.bob),
        cast.workspace,
        text="Unser Käsekuchen ist zurück!",
        channels=[channel, second_channel],
        link="https://example.org/kuchen",
        pillar="Kuchen",
    )

    made = queue.do_make_evergreen(Actor(user=cast.bob), post, 14)

    assert (made.text, made.link, made.pillar, made.min_gap_days, made.source_post) == (
        "Unser Käsekuchen ist zurück!",
        "https://example.org/kuchen",
        "Kuchen",
        14,
        post,
    )
    assert set(made.channels.all()) == {channel, second_channel}
    assert AuditEvent.objects.get(action="evergreen.create").actor == cast.bob


def test_the_same_text_cannot_be_recycled_twice_and_the_gap_must_make_sense(cast, channel):
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text="Käsekuchen", channels=[channel])
    queue.do_make_evergreen(Actor(user=cast.bob), post, 30)
    with pytest.raises(ActionError, match="exists already"):
        queue.do_make_evergreen(Actor(user=cast.bob), post, 30)
    other = do_create_post(Actor(user=cast.bob), cast.workspace, text="Apfelkuchen", channels=[channel])
    with pytest.raises(ActionError, match="between 1 and 365"):
        queue.do_make_evergreen(Actor(user=cast.bob), other, 0)
    empty = do_create_post(Actor(user=cast.bob), cast.workspace, text="Ohne Kanal", channels=[])
    with pytest.raises(ActionError, match="at least one channel"):
        queue.do_make_evergreen(Actor(user=cast.bob), empty, 30)
    with pytest.raises(PermissionDenied):
        queue.do_make_evergreen(Actor(user=cast.anna), other, 30)


def test_fill_puts_evergreen_posts_into_free_slots_least_recently_used_first(cast, channel):
    daily_at_nine(channel)
    older = evergreen(cast, [channel], "Käsekuchen", gap=7)
    newer = evergreen(cast, [channel], "Apfelstrudel", gap=7)
    EvergreenPost.objects.filter(pk=older.pk).update(last_scheduled_at=utc(1, 1, 8))
    EvergreenPost.objects.filter(pk=newer.pk).update(last_scheduled_at=utc(2, 1, 8))
    # Tuesday is taken by an ordinary post.
    do_create_post(Actor.system(), cast.workspace, text="Dienstag", channels=[channel], scheduled_at=utc(3, 3, 8))

    created = queue.fill_evergreen(NOW)

    # Daily 09:00 Berlin = 08:00 UTC; Monday to Sunday, gap 7 days: each goes out once this week.
    assert created == 2
    assert filled(channel) == [(utc(3, 2, 8), "Käsekuchen"), (utc(3, 4, 8), "Apfelstrudel")]
    older.refresh_from_db()
    assert (older.last_scheduled_at, older.times_scheduled) == (utc(3, 2, 8), 1)
    post = Post.objects.get(scheduled_at=utc(3, 2, 8), source=Post.Source.EVERGREEN)
    assert (post.status, post.author) == (Post.Status.SCHEDULED, None)
    assert AuditEvent.objects.filter(action="post.schedule", object_id=str(post.pk), actor_label="evergreen").exists()


def test_fill_never_comes_sooner_than_the_gap_after_the_last_time(cast, channel):
    daily_at_nine(channel)
    cake = evergreen(cast, [channel], "Käsekuchen", gap=3)
    EvergreenPost.objects.filter(pk=cake.pk).update(last_scheduled_at=utc(2, 28, 8))  # Saturday
    # Something else on Thursday, so the same text does not follow itself (tested below).
    do_create_post(Actor.system(), cast.workspace, text="Donnerstag", channels=[channel], scheduled_at=utc(3, 5, 8))

    queue.fill_evergreen(NOW)

    # Saturday + 3 days = Tuesday 08:00 UTC, then Friday; never Monday.
    assert [at for at, _text in filled(channel)] == [utc(3, 3, 8), utc(3, 6, 8)]
    cake.refresh_from_db()
    assert (cake.last_scheduled_at, cake.times_scheduled) == (utc(3, 6, 8), 2)


def test_the_same_text_never_comes_twice_in_a_row_on_a_channel(cast, channel):
    daily_at_nine(channel)
    cake = evergreen(cast, [channel], "Käsekuchen ist da!", gap=1)
    # An ordinary post with the same text (other case and spacing) on Wednesday.
    do_create_post(
        Actor.system(), cast.workspace, text="käsekuchen  ist da!", channels=[channel], scheduled_at=utc(3, 4, 8)
    )
    other = evergreen(cast, [channel], "Brezeln", gap=1)
    EvergreenPost.objects.filter(pk=other.pk).update(last_scheduled_at=utc(3, 1, 8))
    cake.refresh_from_db()

    queue.fill_evergreen(NOW)

    scheduled = Delivery.objects.filter(channel=channel, post__scheduled_at__isnull=False)
    texts = [text for _at, text in scheduled.order_by("post__scheduled_at").values_list("post__scheduled_at", "text")]
    # Monday Brezeln; Tuesday stays free (Brezeln again, or Käsekuchen right before Wednesday's);
    # then they alternate after Wednesday's ordinary post until Sunday (the horizon ends Monday).
    assert texts == [
        "Brezeln",
        "käsekuchen  ist da!",
        "Brezeln",
        "Käsekuchen ist da!",
        "Brezeln",
        "Käsekuchen ist da!",
    ]
    assert not Post.objects.filter(scheduled_at=utc(3, 3, 8)).exists()
    normalised = [" ".join(text.split()).casefold() for text in texts]
    assert all(a != b for a, b in itertools.pairwise(normalised))


def test_fill_is_idempotent_and_leaves_slots_it_cannot_fill_free(cast, channel):
    daily_at_nine(channel)
    evergreen(cast, [channel], "Käsekuchen", gap=5)
    do_create_post(Actor.system(), cast.workspace, text="Mittwoch", channels=[channel], scheduled_at=utc(3, 4, 8))

    assert queue.fill_evergreen(NOW) == 2  # Monday and (5 days on) Saturday
    assert queue.fill_evergreen(NOW) == 0
    assert queue.fill_evergreen(NOW + dt.timedelta(minutes=5)) == 0
    assert Post.objects.filter(source=Post.Source.EVERGREEN).count() == 2
    # "Add to queue" skips the filled slots and takes the first free one (Tuesday).
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text="Neu", channels=[channel])
    assert queue.do_add_to_queue(Actor(user=cast.bob), post, now=NOW) == utc(3, 3, 8)


def test_paused_evergreen_posts_fill_nothing_and_resume_fills_again(cast, channel):
    daily_at_nine(channel)
    cake = evergreen(cast, [channel], "Käsekuchen", gap=7)
    assert queue.do_pause_evergreen(Actor(user=cast.bob), cake) is True
    assert queue.do_pause_evergreen(Actor(user=cast.bob), cake) is False

    assert queue.fill_evergreen(NOW) == 0

    queue.do_resume_evergreen(Actor(user=cast.bob), cake)
    assert queue.fill_evergreen(NOW) == 1
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="evergreen.").order_by("pk")] == [
        "evergreen.create",
        "evergreen.pause",
        "evergreen.resume",
    ]


def test_an_evergreen_post_goes_into_slots_free_on_all_its_channels(cast, channel, second_channel):
    daily_at_nine(channel)
    queue.do_set_slots(Actor.system(), second_channel, [(2, dt.time(9, 0))])
    evergreen(cast, [channel, second_channel], "Käsekuchen", gap=30)

    queue.fill_evergreen(NOW)

    assert [at for at, _text in filled(channel)] == [utc(3, 4, 8)]  # the Wednesday they share
    assert [at for at, _text in filled(second_channel)] == [utc(3, 4, 8)]


def test_a_disconnected_channel_is_left_out(cast, channel, second_channel):
    daily_at_nine(channel)
    daily_at_nine(second_channel)
    evergreen(cast, [channel, second_channel], "Käsekuchen", gap=30)
    Channel.objects.filter(pk=second_channel.pk).update(health=Channel.Health.DISCONNECTED)

    queue.fill_evergreen(NOW)

    assert len(filled(channel)) == 1
    assert filled(second_channel) == []


def test_update_and_delete_an_evergreen_post(cast, channel, second_channel):
    cake = evergreen(cast, [channel], "Käsekuchen", gap=30)
    changed = queue.do_update_evergreen(
        Actor(user=cast.bob), cake, text="Käsekuchen, frisch!", channels=[channel, second_channel], min_gap_days=10
    )
    assert sorted(changed) == ["channels", "min_gap_days", "text"]
    cake.refresh_from_db()
    assert (cake.text, cake.min_gap_days, cake.channels.count()) == ("Käsekuchen, frisch!", 10, 2)
    assert (
        queue.do_update_evergreen(
            Actor(user=cast.bob), cake, text="Käsekuchen, frisch!", channels=[second_channel, channel], min_gap_days=10
        )
        == []
    )
    foreign = Channel.objects.create(
        workspace=cast.other_workspace, network="fake", handle="chili", display_name="Chili"
    )
    with pytest.raises(ActionError, match="does not belong"):
        queue.do_update_evergreen(Actor(user=cast.bob), cake, text="x", channels=[foreign], min_gap_days=10)

    queue.do_delete_evergreen(Actor(user=cast.bob), cake)
    assert not EvergreenPost.objects.exists()
    assert AuditEvent.objects.filter(action="evergreen.delete").count() == 1


def test_the_worker_runs_the_evergreen_fill(cast, channel, fake_network):
    daily_at_nine(channel)
    evergreen(cast, [channel], "Käsekuchen", gap=30)
    jobs = {job.name: job for job in default_jobs()}
    assert jobs["evergreen posts"].every == 300.0
    worker = Worker(worker_id="w", jobs=[jobs["evergreen posts"]])

    worker.tick(now=NOW)
    worker.tick(now=NOW)  # not due again yet; and filling again would create nothing anyway

    assert len(filled(channel)) == 1


def test_with_approvals_required_evergreen_posts_wait_for_approval(cast, channel):
    from stammtisch.publishing.models import ApprovalSettings

    daily_at_nine(channel)
    evergreen(cast, [channel], "Käsekuchen", gap=30)
    ApprovalSettings.objects.create(workspace=cast.workspace, required=True)

    queue.fill_evergreen(NOW)

    post = Post.objects.get(source=Post.Source.EVERGREEN)
    assert (post.status, post.scheduled_at) == (Post.Status.PENDING_APPROVAL, utc(3, 2, 8))
    assert list(Delivery.objects.filter(post=post).values_list("due_at", flat=True)) == [None]
    # Waiting for approval, it keeps its slot: filling again adds nothing.
    assert queue.fill_evergreen(NOW) == 0
