"""The composer's live checks (htmx): length, problems, hashtags and a preview per channel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import client_for
from stammtisch.networks.models import Channel
from stammtisch.publishing import composer


@pytest.fixture
def as_x(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="kx", display_name="Königsbau auf X", stands_in_for="x"
    )


@pytest.fixture
def as_instagram(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle="ki",
        display_name="Königsbau auf Instagram",
        stands_in_for="instagram",
    )


def check(cast, user=None, **data):
    url = reverse("publishing:compose_check", kwargs={"slug": cast.workspace.slug})
    return client_for(user or cast.bob).post(url, {"purpose": "value", **data}, HTTP_ACCEPT_LANGUAGE="en")


def test_a_text_too_long_for_x_is_flagged_on_the_channel_standing_in_for_x(cast, as_x):
    response = check(cast, text="a" * 300, channels=[as_x.pk])

    page = response.content.decode()
    assert response.status_code == 200
    assert "300 / 280" in page
    assert "Too long for X: 300 of 280 characters" in page


def test_a_text_that_fits_says_so(cast, as_x):
    page = check(cast, text="Guten Morgen, Stuttgart!", channels=[as_x.pk]).content.decode()

    assert "24 / 280" in page
    assert "Fits this network." in page


def test_the_channel_variant_is_what_is_checked(cast, as_x):
    page = check(cast, text="a" * 300, channels=[as_x.pk], **{f"variant_{as_x.pk}": "kurz"}).content.decode()

    assert "4 / 280" in page
    assert "Too long" not in page


def test_the_preview_escapes_the_text_before_marking_it_up(cast, as_x):
    page = check(
        cast, text='<script>alert("x")</script> #Brezel @anna https://example.org/a?b=1&c=2', channels=[as_x.pk]
    ).content.decode()

    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert '<span class="pv-hashtag">#Brezel</span>' in page
    assert '<a class="pv-mention" href="https://x.com/anna" rel="noopener noreferrer" target="_blank">@anna</a>' in page
    assert '<span class="pv-link">https://example.org/a?b=1&amp;c=2</span>' in page
    assert 'class="pv pv-x"' in page


def test_preview_html_keeps_line_breaks_and_escapes_markup_in_a_hashtag_position() -> None:
    html = composer.preview_html('Zeile 1\n#tag"><img src=x>')
    assert html == 'Zeile 1\n<span class="pv-hashtag">#tag</span>&quot;&gt;&lt;img src=x&gt;'


def test_hashtags_are_counted_against_instagrams_limit(cast, as_instagram):
    tags = " ".join(f"#tag{n}" for n in range(31))

    page = check(cast, text=f"Brunch {tags}", channels=[as_instagram.pk]).content.decode()

    assert "Hashtags: 31 of 30" in page
    assert "Instagram allows at most 30 hashtags (this has 31)" in page
    assert '<span class="pv-hashtag">#tag30</span>' in page


def test_instagrams_missing_image_is_a_problem_now_that_posts_take_media(cast, as_instagram):
    page = check(cast, text="Brunch", channels=[as_instagram.pk]).content.decode()

    assert "Instagram needs at least one image or video" in page
    assert "Fits this network." not in page  # with an image it fits: see test_media_compose.py


def test_the_purpose_warning_follows_the_chosen_purpose(cast, as_x):
    page = check(cast, text="Angebot!", channels=[as_x.pk], purpose="promotion").content.decode()

    assert "1 of the last 1 posts (this one included) were promotion" in page


def test_no_channels_chosen_asks_for_them(cast, as_x):
    page = check(cast, text="Hallo").content.decode()

    assert "choose channels" in page


def test_an_analyst_may_not_use_it(cast, as_x):
    assert check(cast, user=cast.anna, text="Hallo", channels=[as_x.pk]).status_code == 403


def test_another_workspaces_channel_is_ignored(cast):
    foreign = Channel.objects.create(
        workspace=cast.other_workspace, network="sandbox", handle="f", display_name="Fremd"
    )

    page = check(cast, text="Hallo", channels=[foreign.pk]).content.decode()

    assert "Fremd" not in page
