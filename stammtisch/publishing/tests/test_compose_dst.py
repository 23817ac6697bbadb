"""A time on a DST change day gets a clear choice, never a silent shift; a time that has passed
offers "Publish now instead" and keeps every input."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.networks.models import Channel
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.forms import choice_value, local_choices, local_to_utc
from stammtisch.publishing.models import Delivery, Post

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
FALL_BACK = dt.datetime(2026, 10, 25, 2, 30)  # 03:00 CEST -> 02:00 CET: 02:30 happens twice
SPRING_FORWARD = dt.datetime(2027, 3, 28, 2, 30)  # 02:00 CET -> 03:00 CEST: 02:30 never happens


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    """The labels below are asserted in English; requests ask for English themselves."""
    with translation.override("en"):
        yield


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def as_x(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle="koenigsbau_x",
        display_name="Königsbau auf X",
        stands_in_for="x",
        credentials={"token": "t"},
    )


def compose_url(cast) -> str:
    return reverse("publishing:compose", kwargs={"slug": cast.workspace.slug})


def compose(cast, **data):
    form = {"purpose": "value", "when": "schedule", **data}
    return client_for(cast.bob).post(compose_url(cast), form, HTTP_ACCEPT_LANGUAGE="en")


def radio_values(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="time_choice" value="([^"]+)"', html)


# --- local_choices --------------------------------------------------------------------------


def test_an_ordinary_time_has_one_meaning():
    [(label, at)] = local_choices(dt.datetime(2026, 7, 1, 9, 0), BERLIN)
    assert at.astimezone(dt.UTC) == dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC)
    assert label == "09:00 CEST (UTC+2)"


def test_a_time_that_occurs_twice_offers_both_instants():
    (first_label, first), (second_label, second) = local_choices(FALL_BACK, BERLIN)
    assert first_label == "02:30 CEST (UTC+2, first)"
    assert second_label == "02:30 CET (UTC+1, second)"
    assert first.astimezone(dt.UTC) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)
    assert second.astimezone(dt.UTC) == dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)


def test_a_time_that_does_not_exist_offers_the_times_either_side_of_the_gap():
    (later_label, later), (earlier_label, earlier) = local_choices(SPRING_FORWARD, BERLIN)
    assert later_label == "03:30 CEST (UTC+2), 1 hour later, after the change"
    assert earlier_label == "01:30 CET (UTC+1), 1 hour earlier, before the change"
    assert later.astimezone(dt.UTC) == dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC)
    assert earlier.astimezone(dt.UTC) == dt.datetime(2027, 3, 28, 0, 30, tzinfo=dt.UTC)


def test_a_half_hour_gap_is_named_in_minutes():
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 -> 02:30 on 4 October 2026.
    (label, _at), _earlier = local_choices(dt.datetime(2026, 10, 4, 2, 15), zoneinfo.ZoneInfo("Australia/Lord_Howe"))
    assert label.startswith("02:45 ") and "30 minutes later" in label


def test_local_to_utc_still_refuses_for_callers_that_want_the_refusal():
    with pytest.raises(ValueError, match="ambiguous"):
        local_to_utc(FALL_BACK, BERLIN)
    with pytest.raises(ValueError, match="nonexistent"):
        local_to_utc(SPRING_FORWARD, BERLIN)


# --- the composer ---------------------------------------------------------------------------


def test_a_time_that_occurs_twice_is_asked_about_then_scheduled_as_chosen(cast, as_x, frozen):
    data = {"text": "Zeitumstellung!", "channels": [as_x.pk], "scheduled_local": "2026-10-25T02:30"}

    asked = compose(cast, **data)

    html = asked.content.decode()
    assert asked.status_code == 200 and not Post.objects.exists()
    assert "02:30 occurs twice on this day in Europe/Berlin" in html
    assert "02:30 CEST (UTC+2, first)" in html and "02:30 CET (UTC+1, second)" in html
    values = radio_values(html)
    assert values == ["2026-10-25T00:30:00+00:00", "2026-10-25T01:30:00+00:00"]
    assert "checked" not in html.split('name="time_choice"')[1].split(">")[0]  # nothing preselected

    chosen = compose(cast, **data, time_choice=values[1])

    assert chosen.status_code == 302
    post = Post.objects.get()
    assert post.scheduled_at == dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    assert Delivery.objects.get(post=post).due_at == post.scheduled_at


def test_a_time_that_does_not_exist_is_asked_about_then_scheduled_as_chosen(cast, as_x, frozen):
    data = {"text": "Sommerzeit!", "channels": [as_x.pk], "scheduled_local": "2027-03-28T02:30"}

    asked = compose(cast, **data)

    html = asked.content.decode()
    assert asked.status_code == 200 and not Post.objects.exists()
    assert "02:30 does not exist on this day in Europe/Berlin" in html
    assert "03:30 CEST (UTC+2), 1 hour later, after the change" in html
    assert radio_values(html) == ["2027-03-28T01:30:00+00:00", "2027-03-28T00:30:00+00:00"]

    compose(cast, **data, time_choice="2027-03-28T00:30:00+00:00")

    assert Post.objects.get().scheduled_at == dt.datetime(2027, 3, 28, 0, 30, tzinfo=dt.UTC)


def test_a_choice_that_is_not_one_of_the_times_choices_is_asked_again(cast, as_x, frozen):
    # A pick made for another day (or forged) must not schedule anything.
    response = compose(
        cast,
        text="Zeitumstellung!",
        channels=[as_x.pk],
        scheduled_local="2026-10-25T02:30",
        time_choice="2026-10-25T05:00:00+00:00",
    )
    assert response.status_code == 200 and not Post.objects.exists()
    assert len(radio_values(response.content.decode())) == 2


def test_a_draft_does_not_ask(cast, as_x, frozen):
    response = compose(cast, text="Entwurf", channels=[as_x.pk], scheduled_local="2026-10-25T02:30", when="draft")
    assert response.status_code == 302
    assert Post.objects.get().status == Post.Status.DRAFT


# --- a time that has passed -----------------------------------------------------------------


def test_a_past_time_offers_publish_now_and_keeps_every_input(cast, as_x, frozen):
    data = {
        "text": "Frische Brezeln",
        "channels": [as_x.pk],
        f"variant_{as_x.pk}": "Brezeln! #stuttgart",
        "first_comment": "Mehr auf unserer Seite",
        "link": "https://cafe-koenigsbau.example/brezeln",
        "pillar": "Backstube",
        "purpose": "promotion",
        "scheduled_local": "2026-03-19T08:00",
    }

    response = compose(cast, **data)

    html = response.content.decode()
    assert response.status_code == 200 and not Post.objects.exists()
    assert "This time has passed" in html
    assert '<button type="submit" name="publish_now" value="1">Publish now instead</button>' in html
    assert ">\nFrische Brezeln</textarea>" in html
    assert ">\nBrezeln! #stuttgart</textarea>" in html
    assert ">\nMehr auf unserer Seite</textarea>" in html
    assert 'value="https://cafe-koenigsbau.example/brezeln"' in html
    assert 'value="Backstube"' in html
    assert 'value="2026-03-19T08:00"' in html
    assert '<option value="promotion" selected>' in html
    assert f'value="{as_x.pk}" checked' in html

    published = compose(cast, **data, publish_now="1")

    assert published.status_code == 302
    post = Post.objects.get()
    delivery = Delivery.objects.get(post=post)
    assert post.scheduled_at == NOW and delivery.due_at == NOW  # due now, not at the past time
    assert delivery.text == "Brezeln! #stuttgart"
    assert post.first_comment == "Mehr auf unserer Seite"
    assert (post.link, post.pillar, post.purpose) == (
        "https://cafe-koenigsbau.example/brezeln",
        "Backstube",
        "promotion",
    )


# --- moving a post: the post page and the calendar ------------------------------------------


@pytest.fixture
def scheduled(cast, as_x, frozen) -> Post:
    return do_create_post(
        Actor(user=cast.bob, label="bob"),
        cast.workspace,
        text="Maultaschen-Mittwoch!",
        channels=[as_x],
        scheduled_at=dt.datetime(2026, 10, 20, 10, 0, tzinfo=dt.UTC),
    )


def move_url(cast, post: Post) -> str:
    return reverse("publishing:post_reschedule", kwargs={"slug": cast.workspace.slug, "post_id": post.pk})


def test_the_move_form_asks_which_time_and_moves_to_the_chosen_one(cast, scheduled):
    bob = client_for(cast.bob)

    asked = bob.post(move_url(cast, scheduled), {"when": "2026-10-25T02:30"}, HTTP_ACCEPT_LANGUAGE="en")

    html = asked.content.decode()
    assert asked.status_code == 200
    assert "02:30 occurs twice" in html
    assert radio_values(html) == ["2026-10-25T00:30:00+00:00", "2026-10-25T01:30:00+00:00"]
    scheduled.refresh_from_db()
    assert scheduled.scheduled_at == dt.datetime(2026, 10, 20, 10, 0, tzinfo=dt.UTC)  # not moved yet

    moved = bob.post(
        move_url(cast, scheduled), {"when": "2026-10-25T02:30", "time_choice": "2026-10-25T00:30:00+00:00"}
    )

    assert moved.status_code == 302
    scheduled.refresh_from_db()
    assert scheduled.scheduled_at == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)


def test_drag_and_drop_onto_a_time_that_does_not_exist_gets_the_choices_in_json(cast, scheduled):
    response = client_for(cast.bob).post(
        move_url(cast, scheduled),
        {"when": "2027-03-28T02:30"},
        HTTP_ACCEPT="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    body = json.loads(response.content)
    assert response.status_code == 400 and body["ok"] is False
    assert "does not exist" in body["message"] and "Open the post to choose" in body["message"]
    assert [choice["value"] for choice in body["choices"]] == [
        choice_value(dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC)),
        choice_value(dt.datetime(2027, 3, 28, 0, 30, tzinfo=dt.UTC)),
    ]
    scheduled.refresh_from_db()
    assert scheduled.scheduled_at == dt.datetime(2026, 10, 20, 10, 0, tzinfo=dt.UTC)
