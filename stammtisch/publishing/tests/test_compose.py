"""The composer: per-channel texts, checks on submit, drafts that do not fit yet, the purpose mix."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.models import Channel
from stammtisch.publishing import composer
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, Post

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)
TOO_LONG_FOR_X = "Maultaschen " * 29 + "Maultaschen!"  # 360 characters: fine on Mastodon's 500, not on X's 280


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def sandbox(cast, handle: str, name: str, stands_in_for: str = "") -> Channel:
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
    return sandbox(cast, "koenigsbau_x", "Königsbau auf X", "x")


@pytest.fixture
def as_mastodon(cast) -> Channel:
    return sandbox(cast, "koenigsbau_m", "Königsbau auf Mastodon", "mastodon")


def compose(cast, follow: bool = False, **data):
    form = {"purpose": "value", "when": "draft", **data}
    return client_for(cast.bob).post(
        reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}),
        form,
        follow=follow,
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_a_sandbox_channel_is_checked_by_the_rules_of_the_network_it_stands_in_for(cast, as_x):
    plain = sandbox(cast, "plain", "Plain Sandbox")
    assert composer.rules_key_for(as_x) == "x"
    assert composer.rules_key_for(plain) == "sandbox"
    assert not composer.check_channel(as_x, TOO_LONG_FOR_X).ok
    assert composer.check_channel(plain, TOO_LONG_FOR_X).ok


def test_each_channel_keeps_its_own_text(cast, as_x, as_mastodon, frozen):
    response = compose(
        cast,
        text="Heute frische Maultaschen! #stuttgart",
        channels=[as_x.pk, as_mastodon.pk],
        **{f"variant_{as_x.pk}": "Maultaschen, heute. #stuttgart", f"variant_{as_mastodon.pk}": "  "},
        when="schedule",
        scheduled_local="2026-03-22T10:30",
    )

    post = Post.objects.get()
    assert response.status_code == 302
    texts = dict(Delivery.objects.filter(post=post).values_list("channel_id", "text"))
    assert texts == {
        as_x.pk: "Maultaschen, heute. #stuttgart",
        as_mastodon.pk: "Heute frische Maultaschen! #stuttgart",  # an empty variant: the post's text
    }
    assert AuditEvent.objects.get(action="post.schedule").data["variants"] == [as_x.pk]


def test_scheduling_a_text_too_long_for_one_channel_is_refused_naming_it(cast, as_x, as_mastodon, frozen):
    response = compose(
        cast,
        text=TOO_LONG_FOR_X,
        channels=[as_x.pk, as_mastodon.pk],
        when="schedule",
        scheduled_local="2026-03-22T10:30",
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "The text does not fit every channel yet" in page
    assert "Königsbau auf X: Too long for X: 360 of 280 characters" in page
    assert "Königsbau auf Mastodon:" not in page  # that one fits
    assert not Post.objects.exists()


def test_publishing_now_is_refused_too(cast, as_x, frozen):
    response = compose(cast, text=TOO_LONG_FOR_X, channels=[as_x.pk], when="now")

    assert response.status_code == 200
    assert "Too long for X" in response.content.decode()
    assert not Post.objects.exists()


def test_a_short_variant_makes_a_long_text_schedulable(cast, as_x, as_mastodon, frozen):
    response = compose(
        cast,
        text=TOO_LONG_FOR_X,
        channels=[as_x.pk, as_mastodon.pk],
        **{f"variant_{as_x.pk}": "Maultaschen!"},
        when="schedule",
        scheduled_local="2026-03-22T10:30",
    )

    assert response.status_code == 302
    assert Post.objects.get().status == Post.Status.SCHEDULED


def test_a_draft_that_does_not_fit_is_saved_and_says_so(cast, as_x, frozen):
    response = compose(cast, text=TOO_LONG_FOR_X, channels=[as_x.pk], when="draft", follow=True)

    post = Post.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "publishing:post", kwargs={"slug": cast.workspace.slug, "post_id": post.pk}
    )
    assert post.status == Post.Status.DRAFT
    page = response.content.decode()
    assert "Saved as a draft, but not ready to schedule: Königsbau auf X: Too long for X" in page


def test_the_composer_shows_a_field_per_channel(cast, as_x):
    response = client_for(cast.bob).get(reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}))

    page = response.content.decode()
    assert response.status_code == 200
    assert f'name="variant_{as_x.pk}"' in page
    assert 'hx-trigger="input changed delay:300ms"' in page


def promote(cast, count: int, purpose: str, at: dt.datetime) -> None:
    """`count` drafts with `purpose`, written at `at`."""
    for number in range(count):
        post = do_create_post(Actor.system(), cast.workspace, text=f"{purpose} {number}", channels=[], purpose=purpose)
        Post.objects.filter(pk=post.pk).update(created_at=at)


def test_the_purpose_mix_counts_the_last_30_days_and_this_post(cast, frozen):
    promote(cast, 2, "promotion", NOW - dt.timedelta(days=3))
    promote(cast, 5, "value", NOW - dt.timedelta(days=3))
    promote(cast, 9, "promotion", NOW - dt.timedelta(days=45))  # too old to count

    mix = composer.purpose_mix(cast.workspace, "promotion")

    assert (mix.promotion, mix.total, mix.drifting) == (3, 8, True)  # 37.5 %
    assert not composer.purpose_mix(cast.workspace, "value").drifting  # 2 of 8: 25 %


def test_the_composer_warns_when_promotion_passes_30_percent(cast, frozen):
    promote(cast, 3, "promotion", NOW - dt.timedelta(days=1))
    promote(cast, 3, "value", NOW - dt.timedelta(days=1))

    response = client_for(cast.bob).get(
        reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert "3 of the last 7 posts (this one included) were promotion" in response.content.decode()


def test_no_warning_for_a_mostly_valuable_mix(cast, frozen):
    promote(cast, 1, "promotion", NOW - dt.timedelta(days=1))
    promote(cast, 8, "value", NOW - dt.timedelta(days=1))

    response = client_for(cast.bob).get(
        reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert "were promotion" not in response.content.decode()


def test_every_description_a_compose_field_points_to_is_on_the_page(cast, as_x) -> None:
    """Screen readers read a field's help through `aria-describedby`: each id it names exists
    (Django names a help text `<id>_helptext`)."""
    import re

    page = client_for(cast.bob).get(
        reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}), HTTP_ACCEPT_LANGUAGE="en"
    )
    html = page.content.decode()
    described = {name for value in re.findall(r'aria-describedby="([^"]+)"', html) for name in value.split()}
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    assert "id_pillar_helptext" in described  # the pillar field's help, from Django's widget
    assert described <= ids, sorted(described - ids)
