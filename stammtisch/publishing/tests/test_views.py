"""The publishing pages: calendar list, composer, post detail with per-channel retry."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.networks.base import NetworkError
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, Post

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)  # 10:00 in Stuttgart


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def url(name, cast, **kwargs):
    return reverse(f"publishing:{name}", kwargs={"slug": cast.workspace.slug, **kwargs})


def test_the_calendar_lists_posts_by_local_day_with_channel_status(cast, channel, frozen):
    # 23:30 UTC on the 20th is already the 21st in Stuttgart.
    at = dt.datetime(2026, 3, 20, 23, 30, tzinfo=dt.UTC)
    do_create_post(Actor.system(), cast.workspace, text="Spätes Viertele", channels=[channel], scheduled_at=at)
    do_create_post(Actor.system(), cast.workspace, text="Ein Entwurf", channels=[channel])

    response = client_for(cast.anna).get(url("calendar", cast))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Spätes Viertele" in page and "Ein Entwurf" in page
    assert "21. März 2026" in page or "21 March 2026" in page
    assert "00:30" in page
    assert 'aria-current="page"' in page
    assert 'class="cal-month"' in page  # the month view by default (test_calendar.py has the rest)


def test_charlie_sees_nothing_of_alices_posts(cast, channel):
    post = do_create_post(Actor.system(), cast.workspace, text="Geheim", channels=[channel])
    charlie = client_for(cast.charlie)
    assert charlie.get(url("calendar", cast)).status_code == 404
    foreign = reverse("publishing:post", kwargs={"slug": cast.other_workspace.slug, "post_id": post.pk})
    assert charlie.get(foreign).status_code == 404


def test_bob_schedules_a_post_at_a_local_time(cast, channel, frozen):
    response = client_for(cast.bob).post(
        url("compose", cast),
        {
            "text": "Sonntagsbrunch!",
            "channels": [channel.pk],
            "purpose": "promotion",
            "pillar": "Brunch",
            "when": "schedule",
            "scheduled_local": "2026-03-22T10:30",
        },
    )

    post = Post.objects.get()
    assert response.status_code == 302
    assert response.url == url("post", cast, post_id=post.pk)
    assert post.scheduled_at == dt.datetime(2026, 3, 22, 9, 30, tzinfo=dt.UTC)  # CET = UTC+1
    assert (post.status, post.purpose, post.pillar, post.author) == ("scheduled", "promotion", "Brunch", cast.bob)
    assert post.deliveries.get().due_at == post.scheduled_at


def test_a_time_that_does_not_exist_is_refused_not_shifted(cast, channel, frozen):
    # On 29 March 2026 the clocks in Germany jump from 02:00 to 03:00.
    response = client_for(cast.bob).post(
        url("compose", cast),
        {
            "text": "Hallo",
            "channels": [channel.pk],
            "purpose": "value",
            "when": "schedule",
            "scheduled_local": "2026-03-29T02:30",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert not Post.objects.exists()
    assert "does not exist" in response.content.decode() or "existiert nicht" in response.content.decode()


def test_a_time_in_the_past_is_refused(cast, channel, frozen):
    response = client_for(cast.bob).post(
        url("compose", cast),
        {
            "text": "Hallo",
            "channels": [channel.pk],
            "purpose": "value",
            "when": "schedule",
            "scheduled_local": "2026-03-20T09:00",
        },
    )
    assert response.status_code == 200
    assert not Post.objects.exists()


def test_publish_now_and_draft_from_the_composer(cast, channel, fake_network, frozen):
    bob = client_for(cast.bob)
    bob.post(url("compose", cast), {"text": "Jetzt!", "channels": [channel.pk], "purpose": "value", "when": "now"})
    bob.post(url("compose", cast), {"text": "Später", "purpose": "value", "when": "draft"})

    now_post = Post.objects.get(text="Jetzt!")
    assert now_post.deliveries.get().due_at == NOW
    assert Post.objects.get(text="Später").status == "draft"
    publisher.run_once("w")
    now_post.refresh_from_db()
    assert now_post.status == "published"


def test_carol_may_read_but_not_compose(cast, channel):
    carol = client_for(cast.carol)
    assert carol.get(url("calendar", cast)).status_code == 200
    assert carol.get(url("compose", cast)).status_code == 403


def test_a_failed_channel_is_retried_from_the_post_page(cast, channel, fake_network, frozen):
    post = do_create_post(Actor.system(), cast.workspace, text="Maultaschen", channels=[channel], scheduled_at=NOW)
    fake_network.script.append(NetworkError("422 too long", permanent=True))
    publisher.run_once("w")
    delivery = Delivery.objects.get()
    bob = client_for(cast.bob)

    page = bob.get(url("post", cast, post_id=post.pk)).content.decode()
    assert "422 too long" in page
    retry = url("delivery_retry", cast, post_id=post.pk, delivery_id=delivery.pk)
    assert retry in page

    assert client_for(cast.carol).post(retry).status_code == 403
    assert bob.post(retry).status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.UNKNOWN  # checked first: it was called before
    publisher.run_once("w")
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PUBLISHED


def test_cancel_from_the_post_page(cast, channel, frozen):
    post = do_create_post(
        Actor.system(),
        cast.workspace,
        text="Weindorf",
        channels=[channel],
        scheduled_at=NOW + dt.timedelta(days=1),
    )
    response = client_for(cast.bob).post(url("post_cancel", cast, post_id=post.pk))
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == "cancelled"
