"""Editing a post's per-channel texts, and the rule check in the actions: no caller can schedule
or publish a text a network refuses."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from conftest import client_for
from stammtisch.core.actions import ActionError, Actor
from stammtisch.networks.models import Channel
from stammtisch.publishing.actions import do_create_post, do_publish_now, do_update_post
from stammtisch.publishing.models import Delivery, Post

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)
TOMORROW = NOW + dt.timedelta(days=1)
# 281 by X's weighted count: 277 letters and 2 CJK characters, which X counts twice each.
X_281 = "a" * 277 + "日本"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def sandbox(cast, handle: str, name: str, stands_in_for: str) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle=handle,
        display_name=name,
        stands_in_for=stands_in_for,
        credentials={"token": "t"},
    )


@pytest.fixture
def as_x(cast) -> Channel:
    return sandbox(cast, "kx", "Königsbau auf X", "x")


@pytest.fixture
def as_mastodon(cast) -> Channel:
    return sandbox(cast, "km", "Königsbau auf Mastodon", "mastodon")


def bob(cast) -> Actor:
    return Actor(user=cast.bob, label="bob")


def texts(post: Post) -> dict[int, str]:
    return dict(Delivery.objects.filter(post=post).values_list("channel_id", "text"))


# --- the rule check in the actions ----------------------------------------------------------


def test_do_create_post_refuses_an_x_text_of_281_weighted_characters_naming_the_channel(cast, as_x, as_mastodon):
    assert len(X_281) == 279  # fewer code points than X counts
    with pytest.raises(ActionError) as refused:
        do_create_post(bob(cast), cast.workspace, text=X_281, channels=[as_x, as_mastodon], scheduled_at=TOMORROW)
    assert "Königsbau auf X: Too long for X: 281 of 280 characters" in refused.value.message
    assert "Mastodon" not in refused.value.message  # 279 fits Mastodon's 500
    assert not Post.objects.exists()


def test_a_draft_may_hold_a_text_a_network_refuses_but_cannot_be_published_now(cast, as_x):
    draft = do_create_post(bob(cast), cast.workspace, text=X_281, channels=[as_x])
    with pytest.raises(ActionError, match="Königsbau auf X: Too long for X"):
        do_publish_now(bob(cast), draft)
    assert Delivery.objects.get(post=draft).due_at is None


def test_a_channels_own_short_text_makes_it_schedulable(cast, as_x):
    post = do_create_post(
        bob(cast), cast.workspace, text=X_281, channels=[as_x], variants={as_x.pk: "Kurz"}, scheduled_at=TOMORROW
    )
    assert texts(post) == {as_x.pk: "Kurz"}


# --- do_update_post(variants=...) -----------------------------------------------------------


@pytest.fixture
def scheduled(cast, as_x, as_mastodon, frozen) -> Post:
    return do_create_post(
        bob(cast),
        cast.workspace,
        text="Maultaschen heute",
        channels=[as_x, as_mastodon],
        variants={as_x.pk: "Maultaschen!"},
        scheduled_at=TOMORROW,
    )


def test_variants_set_and_clear_channel_texts(cast, scheduled, as_x, as_mastodon):
    updated = do_update_post(
        bob(cast), scheduled, text="Maultaschen morgen", variants={as_x.pk: "", as_mastodon.pk: "Für Mastodon"}
    )
    assert updated == 2
    assert texts(scheduled) == {as_x.pk: "Maultaschen morgen", as_mastodon.pk: "Für Mastodon"}


def test_without_variants_a_channels_own_text_is_kept(cast, scheduled, as_x, as_mastodon):
    do_update_post(bob(cast), scheduled, text="Maultaschen morgen")
    assert texts(scheduled) == {as_x.pk: "Maultaschen!", as_mastodon.pk: "Maultaschen morgen"}


def test_a_scheduled_post_cannot_get_a_text_a_network_refuses(cast, scheduled, as_x, as_mastodon):
    with pytest.raises(ActionError, match="Königsbau auf X: Too long for X: 281 of 280"):
        do_update_post(bob(cast), scheduled, text="Maultaschen heute", variants={as_x.pk: X_281})
    assert texts(scheduled) == {as_x.pk: "Maultaschen!", as_mastodon.pk: "Maultaschen heute"}


def test_variants_are_refused_once_a_channel_has_published(cast, scheduled, as_x):
    Delivery.objects.filter(post=scheduled, channel=as_x).update(state=Delivery.State.PUBLISHED)
    with pytest.raises(ActionError, match="can no longer be edited"):
        do_update_post(bob(cast), scheduled, text="Maultaschen heute", variants={as_x.pk: "Neu"})
    assert texts(scheduled)[as_x.pk] == "Maultaschen!"


# --- the edit page --------------------------------------------------------------------------


def edit_url(cast, post: Post) -> str:
    return reverse("publishing:post_edit", kwargs={"slug": cast.workspace.slug, "post_id": post.pk})


def test_the_edit_page_shows_each_channels_text_and_its_checks(cast, scheduled, as_x, as_mastodon):
    html = client_for(cast.bob).get(edit_url(cast, scheduled), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'name="variant_{as_x.pk}"' in html and ">\nMaultaschen!</textarea>" in html
    assert f'name="variant_{as_mastodon.pk}"' in html  # empty: the post's text
    assert 'hx-post="/w/cafe-koenigsbau/compose/check/"' in html
    assert f'<input type="hidden" name="editing" value="{scheduled.pk}">' in html
    assert "Fits this network." in html  # the checks, rendered with the page


def test_the_edit_page_saves_channel_texts(cast, scheduled, as_x, as_mastodon):
    response = client_for(cast.bob).post(
        edit_url(cast, scheduled),
        {"text": "Maultaschen morgen", "purpose": "value", f"variant_{as_x.pk}": "", f"variant_{as_mastodon.pk}": "M!"},
    )
    assert response.status_code == 302
    assert texts(scheduled) == {as_x.pk: "Maultaschen morgen", as_mastodon.pk: "M!"}


def test_the_edit_page_refuses_a_text_too_long_for_x_on_a_scheduled_post(cast, scheduled, as_x):
    response = client_for(cast.bob).post(
        edit_url(cast, scheduled),
        {"text": "Maultaschen heute", "purpose": "value", f"variant_{as_x.pk}": X_281},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Königsbau auf X: Too long for X: 281 of 280 characters" in html
    assert texts(scheduled)[as_x.pk] == "Maultaschen!"


def test_a_draft_is_saved_with_a_warning(cast, as_x, frozen):
    draft = do_create_post(bob(cast), cast.workspace, text="Entwurf", channels=[as_x])
    response = client_for(cast.bob).post(
        edit_url(cast, draft),
        {"text": "Entwurf", "purpose": "value", f"variant_{as_x.pk}": X_281},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "not ready to schedule" in response.content.decode()
    assert texts(draft) == {as_x.pk: X_281}


def test_the_checks_of_the_edit_page_count_the_post_once_in_the_purpose_mix(cast, scheduled, as_x):
    Post.objects.filter(pk=scheduled.pk).update(purpose=Post.Purpose.PROMOTION, scheduled_at=NOW)
    response = client_for(cast.bob).post(
        reverse("publishing:compose_check", kwargs={"slug": cast.workspace.slug}),
        {"text": "Hallo", "channels": [as_x.pk], "purpose": "value", "editing": scheduled.pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    # Counted once, as the value post it becomes: no promotion left, no warning.
    assert "were promotion" not in response.content.decode()
