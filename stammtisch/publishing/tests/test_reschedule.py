"""Moving, editing and deleting a post: its deliveries change with it in one transaction, and a
delivery a worker has claimed is never moved, rewritten or cancelled under it (no ghost
publishing)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import translation

from conftest import client_for
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.publishing import actions, publisher
from stammtisch.publishing.actions import (
    do_create_post,
    do_delete_post,
    do_reschedule_post,
    do_update_post,
)
from stammtisch.publishing.models import Delivery, Post

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)  # 10:00 in Stuttgart (CET)
TOMORROW = NOW + dt.timedelta(days=1)
State = Delivery.State


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def as_user(user) -> Actor:
    return Actor(user=user, label=user.username)


@pytest.fixture
def post(cast, channel, second_channel, frozen) -> Post:
    return do_create_post(
        as_user(cast.bob),
        cast.workspace,
        text="Maultaschen-Mittwoch!",
        channels=[channel, second_channel],
        scheduled_at=TOMORROW,
    )


def claim_one(post: Post) -> Delivery:
    """What a worker's claim leaves behind: state publishing with a lease."""
    delivery = post.deliveries.order_by("pk").first()
    assert delivery is not None
    Delivery.objects.filter(pk=delivery.pk).update(
        state=State.PUBLISHING, lease_owner="worker-1", lease_until=NOW + publisher.LEASE
    )
    delivery.refresh_from_db()
    return delivery


def snapshot(post: Post) -> list[tuple]:
    return list(post.deliveries.order_by("pk").values_list("state", "due_at", "text", "lease_owner"))


def move_url(cast, post: Post) -> str:
    return reverse("publishing:post_reschedule", kwargs={"slug": cast.workspace.slug, "post_id": post.pk})


# --- Rescheduling ---------------------------------------------------------------------------


def test_rescheduling_moves_every_pending_delivery(cast, post):
    moved = do_reschedule_post(as_user(cast.bob), post, dt.datetime(2026, 3, 25, 18, 30))

    at = dt.datetime(2026, 3, 25, 17, 30, tzinfo=dt.UTC)  # 18:30 CET
    assert moved.scheduled_at == at and moved.status == Post.Status.SCHEDULED
    assert {(d.state, d.due_at) for d in post.deliveries.all()} == {(State.SCHEDULED, at)}
    event = AuditEvent.objects.get(action="post.reschedule")
    assert event.actor == cast.bob
    assert event.data == {"from": TOMORROW.isoformat(), "to": at.isoformat(), "deliveries": 2}


def test_a_moved_post_is_published_at_its_new_time_not_the_old_one(cast, post, fake_network, frozen):
    do_reschedule_post(as_user(cast.bob), post, dt.datetime(2026, 3, 23, 12, 0))

    frozen.move_to(TOMORROW + dt.timedelta(minutes=1))
    assert publisher.run_once("w") == 0
    frozen.move_to(dt.datetime(2026, 3, 23, 11, 0, 1, tzinfo=dt.UTC))
    assert publisher.run_once("w") == 2
    assert fake_network.publishes() == 2


def test_a_claimed_delivery_is_not_moved_and_nothing_else_is_either(cast, post):
    claimed = claim_one(post)
    before = snapshot(post)

    with pytest.raises(ActionError, match="being published"):
        do_reschedule_post(as_user(cast.bob), post, dt.datetime(2026, 3, 25, 18, 30))

    assert snapshot(post) == before
    claimed.refresh_from_db()
    assert (claimed.state, claimed.due_at, claimed.lease_owner) == (State.PUBLISHING, TOMORROW, "worker-1")
    post.refresh_from_db()
    assert post.scheduled_at == TOMORROW
    assert not AuditEvent.objects.filter(action="post.reschedule").exists()


def test_a_claim_that_wins_the_race_undoes_the_whole_move(cast, post, monkeypatch):
    # A worker claims one delivery after the action checked the post but before its UPDATE:
    # the conditional UPDATE skips it, the count differs, and the move is rolled back.
    check = actions._refuse_unless_scheduled

    def check_then_claim(locked: Post) -> None:
        check(locked)
        claim_one(locked)

    monkeypatch.setattr(actions, "_refuse_unless_scheduled", check_then_claim)

    with pytest.raises(ActionError):
        do_reschedule_post(as_user(cast.bob), post, dt.datetime(2026, 3, 25, 18, 30))

    assert {d.due_at for d in post.deliveries.all()} == {TOMORROW}


@pytest.mark.parametrize(
    ("local", "message"),
    [
        (dt.datetime(2026, 3, 29, 2, 30), "does not exist"),  # spring forward: 02:00 -> 03:00
        (dt.datetime(2026, 10, 25, 2, 30), "occurs twice"),  # fall back: 03:00 -> 02:00
    ],
)
def test_a_dst_gap_or_overlap_is_refused_not_shifted(cast, post, local, message):
    with pytest.raises(ActionError, match=message):
        do_reschedule_post(as_user(cast.bob), post, local)
    assert {d.due_at for d in post.deliveries.all()} == {TOMORROW}


def test_a_time_in_the_past_is_refused(cast, post):
    with pytest.raises(ActionError, match="passed"):
        do_reschedule_post(as_user(cast.bob), post, dt.datetime(2026, 3, 20, 9, 59))


def test_a_published_post_cannot_be_moved(cast, post, fake_network, frozen):
    frozen.move_to(TOMORROW)
    publisher.run_once("w")
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED

    with pytest.raises(ActionError, match="already published"):
        do_reschedule_post(as_user(cast.bob), post, dt.datetime(2026, 3, 25, 18, 30))


def test_a_draft_cannot_be_moved_on_the_calendar(cast, channel, frozen):
    draft = do_create_post(as_user(cast.bob), cast.workspace, text="Entwurf", channels=[channel])
    with pytest.raises(ActionError, match="draft"):
        do_reschedule_post(as_user(cast.bob), draft, dt.datetime(2026, 3, 25, 18, 30))


def test_anna_the_analyst_may_not_reschedule(cast, post):
    with pytest.raises(PermissionDenied):
        do_reschedule_post(as_user(cast.anna), post, dt.datetime(2026, 3, 25, 18, 30))
    response = client_for(cast.anna).post(move_url(cast, post), {"when": "2026-03-25T18:30"})
    assert response.status_code == 403
    assert {d.due_at for d in post.deliveries.all()} == {TOMORROW}


def test_the_calendar_moves_a_post_and_gets_json(cast, post):
    response = client_for(cast.bob).post(
        move_url(cast, post), {"when": "2026-03-24T11:00"}, HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["ok"] is True
    assert (body["date"], body["time"]) == ("2026-03-24", "11:00")
    assert body["scheduled_at"] == "2026-03-24T10:00:00+00:00"


def test_a_refusal_is_json_with_a_message(cast, post):
    claim_one(post)
    response = client_for(cast.bob).post(
        move_url(cast, post), {"when": "2026-03-24T11:00"}, HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 409
    body = json.loads(response.content)
    assert body["ok"] is False and "being published" in body["message"]

    bad = client_for(cast.bob).post(move_url(cast, post), {"when": "morgen"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400


def test_the_move_form_on_the_post_page_works_without_javascript(cast, post):
    bob = client_for(cast.bob)
    page = bob.get(reverse("publishing:post", kwargs={"slug": cast.workspace.slug, "post_id": post.pk}))
    assert move_url(cast, post) in page.content.decode()
    assert 'value="2026-03-21T10:00"' in page.content.decode()  # the current local time

    response = bob.post(move_url(cast, post), {"when": "2026-03-29T02:30"}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "does not exist" in response.content.decode()
    response = bob.post(move_url(cast, post), {"when": "2026-03-24T11:00"})
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.scheduled_at == dt.datetime(2026, 3, 24, 10, 0, tzinfo=dt.UTC)


# --- Editing --------------------------------------------------------------------------------


def test_editing_updates_the_text_of_pending_deliveries(cast, post):
    # One channel got a text of its own (a variant): it keeps it.
    variant = post.deliveries.order_by("pk").last()
    assert variant is not None
    Delivery.objects.filter(pk=variant.pk).update(text="Nur für diesen Kanal")

    updated = do_update_post(
        as_user(cast.bob),
        post,
        text="Maultaschen-Donnerstag!",
        link="https://example.org",
        pillar="Essen",
        purpose="promotion",
    )

    assert updated == 1
    post.refresh_from_db()
    assert (post.text, post.link, post.pillar, post.purpose) == (
        "Maultaschen-Donnerstag!",
        "https://example.org",
        "Essen",
        "promotion",
    )
    assert sorted(post.deliveries.values_list("text", flat=True)) == ["Maultaschen-Donnerstag!", "Nur für diesen Kanal"]
    event = AuditEvent.objects.get(action="post.update")
    assert event.data == {"changed": ["text", "link", "pillar", "purpose"], "deliveries": 1}


def test_editing_is_refused_while_a_delivery_is_claimed(cast, post):
    claim_one(post)
    before = snapshot(post)

    with pytest.raises(ActionError, match="can no longer be edited"):
        do_update_post(as_user(cast.bob), post, text="Neu")

    assert snapshot(post) == before
    post.refresh_from_db()
    assert post.text == "Maultaschen-Mittwoch!"


def test_the_edit_page_saves(cast, post):
    url = reverse("publishing:post_edit", kwargs={"slug": cast.workspace.slug, "post_id": post.pk})
    bob = client_for(cast.bob)
    assert "Maultaschen-Mittwoch!" in bob.get(url).content.decode()

    response = bob.post(url, {"text": "Geändert", "link": "", "pillar": "", "purpose": "value"})

    assert response.status_code == 302
    assert set(post.deliveries.values_list("text", flat=True)) == {"Geändert"}
    assert client_for(cast.carol).post(url, {"text": "Carol war hier", "purpose": "value"}).status_code == 403


# --- Deleting -------------------------------------------------------------------------------


def test_deleting_cancels_and_removes_a_post_that_is_on_no_network(cast, post, fake_network, frozen):
    post_id = post.pk
    assert do_delete_post(as_user(cast.bob), post) == 2

    assert not Post.objects.filter(pk=post_id).exists()
    assert not Delivery.objects.filter(post_id=post_id).exists()
    event = AuditEvent.objects.get(action="post.delete")
    assert event.object_id == str(post_id) and event.data["cancelled"] == 2
    frozen.move_to(TOMORROW + dt.timedelta(minutes=1))
    assert publisher.run_once("w") == 0
    assert fake_network.publishes() == 0


def test_deleting_is_refused_while_a_delivery_is_claimed(cast, post):
    claim_one(post)
    before = snapshot(post)

    with pytest.raises(ActionError, match="cannot be deleted"):
        do_delete_post(as_user(cast.bob), post)

    assert Post.objects.filter(pk=post.pk).exists()
    assert snapshot(post) == before


def test_the_delete_page_asks_first(cast, post):
    url = reverse("publishing:post_delete", kwargs={"slug": cast.workspace.slug, "post_id": post.pk})
    bob = client_for(cast.bob)
    page = bob.get(url)
    assert page.status_code == 200 and "Maultaschen-Mittwoch!" in page.content.decode()
    assert Post.objects.filter(pk=post.pk).exists()

    response = bob.post(url)

    assert response.status_code == 302
    assert response.url == reverse("publishing:calendar", kwargs={"slug": cast.workspace.slug})
    assert not Post.objects.filter(pk=post.pk).exists()
