"""The Queue and Evergreen pages, the composer's "Add to queue", the post page's buttons."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.publishing import queue
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import EvergreenPost, Post, QueueSlot

# Monday 2 March 2026, 08:00 in Berlin.
NOW = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def url(name: str, slug: str, **kwargs: int) -> str:
    return reverse(f"publishing:{name}", kwargs={"slug": slug, **kwargs})


def test_the_queue_page_shows_times_and_what_fills_the_next_two_weeks(cast, channel, second_channel):
    queue.do_set_slots(Actor.system(), channel, [(0, dt.time(9)), (2, dt.time(9))])
    queued = do_create_post(Actor.system(), cast.workspace, text="Brezeln <3", channels=[channel])
    queue.do_add_to_queue(Actor.system(), queued)
    cake = queue.do_make_evergreen(
        Actor.system(), do_create_post(Actor.system(), cast.workspace, text="Käsekuchen", channels=[channel]), 30
    )
    queue.fill_evergreen()

    response = client_for(cast.anna).get(url("queue", cast.workspace.slug), **EN)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Café Königsbau (Fake)" in page and "Café Königsbau Zwei" in page
    assert "No posting times yet" in page  # the second channel
    assert page.count('class="queue-taken"') == 2 and page.count('class="queue-free"') == 2
    assert "Brezeln &lt;3" in page and "Queued" in page and "Evergreen" in page
    assert url("post", cast.workspace.slug, post_id=queued.pk) in page
    assert EvergreenPost.objects.get(pk=cake.pk).times_scheduled == 1
    assert "Add a posting time" not in page  # anna (analyst) sees, but changes nothing


def test_an_editor_adds_and_removes_times_and_applies_a_preset(cast, channel):
    client = client_for(cast.bob)
    slots_url = url("queue_slots", cast.workspace.slug, channel_id=channel.pk)

    response = client.post(slots_url, {"action": "add", "weekdays": ["0", "3"], "time": "09:30"}, **EN)
    assert response.status_code == 302
    assert response["Location"].endswith(f"/queue/#channel-{channel.pk}")
    assert set(QueueSlot.objects.values_list("weekday", "time")) == {(0, dt.time(9, 30)), (3, dt.time(9, 30))}

    client.post(slots_url, {"action": "remove", "weekday": "3", "time": "09:30"}, **EN)
    assert set(QueueSlot.objects.values_list("weekday", "time")) == {(0, dt.time(9, 30))}

    response = client.post(slots_url, {"action": "add", "time": "09:30"}, follow=True, **EN)
    assert "Tick at least one day." in response.content.decode()

    client.post(url("queue_preset", cast.workspace.slug, channel_id=channel.pk), {"preset": "three_a_week"}, **EN)
    assert set(QueueSlot.objects.values_list("weekday", "time")) == {(0, dt.time(9)), (2, dt.time(9)), (4, dt.time(9))}


def test_charlie_cannot_touch_alices_slots_and_anna_may_not_change_them(cast, channel):
    queue.do_set_slots(Actor.system(), channel, [(0, dt.time(9))])
    slots_url = url("queue_slots", cast.workspace.slug, channel_id=channel.pk)
    data = {"action": "add", "weekdays": ["1"], "time": "10:00"}

    assert client_for(cast.charlie).post(slots_url, data).status_code == 404
    # Through his own workspace's URL, alice's channel is not found either.
    charlies = url("queue_slots", cast.other_workspace.slug, channel_id=channel.pk)
    assert client_for(cast.charlie).post(charlies, data).status_code == 404
    preset = url("queue_preset", cast.other_workspace.slug, channel_id=channel.pk)
    assert client_for(cast.charlie).post(preset, {"preset": "daily_noon"}).status_code == 404
    assert client_for(cast.anna).post(slots_url, data).status_code == 403
    assert list(QueueSlot.objects.values_list("weekday", flat=True)) == [0]


def test_composing_with_add_to_queue_schedules_into_the_next_free_slot(cast, channel):
    queue.do_set_slots(Actor.system(), channel, [(1, dt.time(12))])

    response = client_for(cast.bob).post(
        url("compose", cast.workspace.slug),
        {"text": "Mittagstisch!", "channels": [channel.pk], "when": "queue", "purpose": "value"},
        follow=True,
        **EN,
    )

    post = Post.objects.get()
    assert (post.status, post.scheduled_at, post.source) == (
        Post.Status.SCHEDULED,
        dt.datetime(2026, 3, 3, 11, 0, tzinfo=dt.UTC),
        Post.Source.QUEUE,
    )
    assert "Added to the queue: Tuesday, March 3, 2026, 12:00 (Europe/Berlin)." in response.content.decode()


def test_composing_into_a_channel_without_times_says_so_and_saves_nothing(cast, channel):
    response = client_for(cast.bob).post(
        url("compose", cast.workspace.slug),
        {"text": "Mittagstisch!", "channels": [channel.pk], "when": "queue", "purpose": "value"},
        **EN,
    )

    assert response.status_code == 200
    assert "has no posting times yet: add some under Queue." in response.content.decode()
    assert not Post.objects.exists()


def test_a_refusal_after_the_draft_is_made_rolls_the_draft_back(cast, channel, monkeypatch):
    queue.do_set_slots(Actor.system(), channel, [(1, dt.time(12))])
    monkeypatch.setattr(queue, "next_free_slots", lambda *args, **kwargs: [])  # a full queue

    response = client_for(cast.bob).post(
        url("compose", cast.workspace.slug),
        {"text": "Mittagstisch!", "channels": [channel.pk], "when": "queue", "purpose": "value"},
        **EN,
    )

    assert "no free posting time in the next year" in response.content.decode()
    assert not Post.objects.exists()


def test_the_composer_hint_names_the_next_free_time(cast, channel, second_channel):
    queue.do_set_slots(Actor.system(), channel, [(1, dt.time(12))])
    client = client_for(cast.bob)
    hint = url("queue_next", cast.workspace.slug)

    assert (
        "Next free posting time: <strong>Tuesday, March 3, 2026, 12:00</strong>"
        in client.get(hint, {"channels": [channel.pk]}, **EN).content.decode()
    )
    assert (
        "Café Königsbau Zwei has no posting times yet"
        in client.get(hint, {"channels": [channel.pk, second_channel.pk]}, **EN).content.decode()
    )
    assert "Tick channels" in client.get(hint, **EN).content.decode()
    # Another workspace's channel id counts for nothing.
    assert (
        "Tick channels"
        in client_for(cast.charlie)
        .get(url("queue_next", cast.other_workspace.slug), {"channels": [channel.pk]}, **EN)
        .content.decode()
    )
    compose = client.get(url("compose", cast.workspace.slug), **EN).content.decode()
    assert 'value="queue"' in compose and hint in compose


def test_the_post_page_adds_a_draft_to_the_queue_and_recycles_it(cast, channel):
    queue.do_set_slots(Actor.system(), channel, [(1, dt.time(12))])
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text="Käsekuchen", channels=[channel])
    client = client_for(cast.bob)

    page = client.get(url("post", cast.workspace.slug, post_id=post.pk), **EN).content.decode()
    assert "Add to queue" in page and "Recycle as evergreen" in page

    response = client.post(url("post_add_to_queue", cast.workspace.slug, post_id=post.pk), follow=True, **EN)
    assert "Added to the queue" in response.content.decode()
    post.refresh_from_db()
    assert post.status == Post.Status.SCHEDULED

    response = client.post(
        url("post_make_evergreen", cast.workspace.slug, post_id=post.pk), {"min_gap_days": "21"}, follow=True, **EN
    )
    assert "The post is evergreen now" in response.content.decode()
    assert EvergreenPost.objects.get().min_gap_days == 21
    response = client.post(
        url("post_make_evergreen", cast.workspace.slug, post_id=post.pk), {"min_gap_days": "0"}, follow=True, **EN
    )
    assert "between 1 and 365 days" in response.content.decode()
    assert EvergreenPost.objects.count() == 1


def test_the_evergreen_page_lists_pauses_edits_and_deletes(cast, channel):
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text="Käsekuchen", channels=[channel])
    cake = queue.do_make_evergreen(Actor(user=cast.bob), post, 30)
    client = client_for(cast.bob)

    page = client.get(url("evergreen", cast.workspace.slug), **EN).content.decode()
    assert "Käsekuchen" in page and "30 days" in page and "Active" in page
    assert "No posting times yet: Café Königsbau (Fake)." in page

    client.post(url("evergreen_state", cast.workspace.slug, evergreen_id=cake.pk), {"action": "pause"})
    cake.refresh_from_db()
    assert cake.active is False
    client.post(url("evergreen_state", cast.workspace.slug, evergreen_id=cake.pk), {"action": "resume"})
    cake.refresh_from_db()
    assert cake.active is True

    edit = url("evergreen_edit", cast.workspace.slug, evergreen_id=cake.pk)
    assert client.get(edit, **EN).status_code == 200
    response = client.post(
        edit,
        {"text": "Käsekuchen, frisch", "channels": [channel.pk], "min_gap_days": "12", "purpose": "value"},
    )
    assert response.status_code == 302
    cake.refresh_from_db()
    assert (cake.text, cake.min_gap_days) == ("Käsekuchen, frisch", 12)

    delete = url("evergreen_delete", cast.workspace.slug, evergreen_id=cake.pk)
    assert "Delete this evergreen post?" in client.get(delete, **EN).content.decode()
    client.post(delete)
    assert not EvergreenPost.objects.exists()


def test_charlie_cannot_see_or_change_alices_evergreen_posts(cast, channel):
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text="Käsekuchen", channels=[channel])
    cake = queue.do_make_evergreen(Actor(user=cast.bob), post, 30)
    charlie = client_for(cast.charlie)

    for name in ("evergreen_edit", "evergreen_delete", "evergreen_state"):
        assert charlie.post(url(name, cast.other_workspace.slug, evergreen_id=cake.pk)).status_code == 404
    assert "Käsekuchen" not in charlie.get(url("evergreen", cast.other_workspace.slug)).content.decode()
    assert (
        client_for(cast.anna).post(url("evergreen_delete", cast.workspace.slug, evergreen_id=cake.pk)).status_code
        == 403
    )
    assert EvergreenPost.objects.filter(pk=cake.pk, active=True).exists()


def test_the_queue_page_has_no_query_per_channel(cast, channel, second_channel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(cast.bob)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url("queue", cast.workspace.slug)).status_code == 200
        return len(captured)

    queue.do_set_slots(Actor.system(), channel, [(day, dt.time(9)) for day in range(7)])
    queue.do_add_to_queue(Actor.system(), do_create_post(Actor.system(), cast.workspace, text="x", channels=[channel]))
    queries()  # the first request of a session writes it
    one = queries()
    queue.do_set_slots(Actor.system(), second_channel, [(day, dt.time(h)) for day in range(7) for h in (9, 12, 18)])
    for _ in range(5):
        post = do_create_post(Actor.system(), cast.workspace, text="y", channels=[channel, second_channel])
        queue.do_add_to_queue(Actor.system(), post)

    assert queries() == one
