"""The first comment: written in the composer, checked against each network's limit, previewed
under the post, stored, editable, copied; channels whose network cannot post one are named."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from conftest import client_for
from stammtisch.core.actions import ActionError, Actor
from stammtisch.networks.models import Channel
from stammtisch.publishing import composer
from stammtisch.publishing.actions import do_create_post, do_duplicate_post
from stammtisch.publishing.models import Post

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)
X_281 = "a" * 281


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def sandbox(cast, handle: str, stands_in_for: str = "") -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle=handle,
        display_name=f"Königsbau {stands_in_for or 'Sandbox'}",
        stands_in_for=stands_in_for,
        credentials={"token": "t"},
    )


@pytest.fixture
def as_x(cast) -> Channel:
    return sandbox(cast, "kx", "x")


@pytest.fixture
def as_telegram(cast) -> Channel:
    return sandbox(cast, "kt", "telegram")


def test_the_networks_that_can_post_a_first_comment(cast, channel):
    supported = {key: composer.first_comment_supported(sandbox(cast, key, key)) for key in ["instagram", "x", "xing"]}
    assert supported == {"instagram": True, "x": True, "xing": False}
    assert not composer.first_comment_supported(sandbox(cast, "tg", "telegram"))  # only with a discussion group
    assert composer.first_comment_supported(sandbox(cast, "plain"))  # the Sandbox itself
    assert not composer.first_comment_supported(channel)  # a network Stammtisch has no rules for


def test_the_first_comment_is_checked_against_the_networks_limit(cast, as_x, as_telegram):
    [x, telegram] = composer.check_channels([as_x, as_telegram], "Kurz", {}, first_comment=X_281)
    assert x.first_comment is not None
    assert (x.first_comment.validation.length, x.first_comment.validation.max) == (281, 280)
    assert x.problems == ["First comment: Too long for X: 281 of 280 characters"]
    assert telegram.first_comment is None and telegram.ok  # not posted there, so not checked


def compose(cast, **data):
    form = {"purpose": "value", "when": "draft", **data}
    return client_for(cast.bob).post(
        reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}), form, HTTP_ACCEPT_LANGUAGE="en"
    )


def test_the_composer_stores_the_first_comment(cast, as_x, frozen):
    response = compose(
        cast,
        text="Neue Torte!",
        channels=[as_x.pk],
        first_comment="#torte #stuttgart",
        when="schedule",
        scheduled_local="2026-03-22T10:00",
    )
    assert response.status_code == 302
    assert Post.objects.get().first_comment == "#torte #stuttgart"


def test_a_first_comment_too_long_for_x_cannot_be_scheduled_but_can_be_a_draft(cast, as_x, frozen):
    data = {"text": "Neue Torte!", "channels": [as_x.pk], "first_comment": X_281, "scheduled_local": "2026-03-22T10:00"}

    refused = compose(cast, **data, when="schedule")

    html = refused.content.decode()
    assert refused.status_code == 200 and not Post.objects.exists()
    assert "Königsbau x: Too long for X: 281 of 280 characters" in html  # under the first comment field
    assert compose(cast, **data).status_code == 302  # a draft may be unfinished
    assert Post.objects.get().first_comment == X_281


def test_the_checks_preview_the_first_comment_and_name_channels_without_one(cast, as_x, as_telegram):
    response = client_for(cast.bob).post(
        reverse("publishing:compose_check", kwargs={"slug": cast.workspace.slug}),
        {"text": "Neue Torte!", "channels": [as_x.pk, as_telegram.pk], "first_comment": "Rezept: #torte"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    assert 'aria-label="First comment on X"' in html
    assert '<span class="pv-hashtag">#torte</span>' in html
    assert "14 / 280" in html
    assert "No first comment here: Telegram cannot post one through Stammtisch." in html


def test_the_composer_marks_the_channels_that_can_post_one_and_names_the_others(cast, as_x, as_telegram, frozen):
    response = compose(cast, text="", channels=[as_x.pk, as_telegram.pk], first_comment="Hallo")
    html = response.content.decode()
    assert f'value="{as_x.pk}" checked data-name="Königsbau x" data-first-comment' in html
    assert f'value="{as_telegram.pk}" checked data-name="Königsbau telegram" hx-post' in html
    assert "Not posted on: Königsbau telegram" in html


def test_do_create_post_refuses_a_first_comment_a_network_would_refuse(cast, as_x, frozen):
    with pytest.raises(ActionError, match="Königsbau x: First comment: Too long for X"):
        do_create_post(
            Actor(user=cast.bob, label="bob"),
            cast.workspace,
            text="Neue Torte!",
            channels=[as_x],
            first_comment=X_281,
            scheduled_at=NOW + dt.timedelta(days=1),
        )
    assert not Post.objects.exists()


def test_the_edit_page_changes_the_first_comment_and_duplicate_copies_it(cast, as_x, frozen):
    bob = Actor(user=cast.bob, label="bob")
    post = do_create_post(bob, cast.workspace, text="Neue Torte!", channels=[as_x], first_comment="alt")
    url = reverse("publishing:post_edit", kwargs={"slug": cast.workspace.slug, "post_id": post.pk})
    page = client_for(cast.bob).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">\nalt</textarea>" in page

    response = client_for(cast.bob).post(
        url, {"text": "Neue Torte!", "purpose": "value", "first_comment": "neu #torte"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 302
    post.refresh_from_db()
    assert post.first_comment == "neu #torte"
    assert do_duplicate_post(bob, post).first_comment == "neu #torte"
