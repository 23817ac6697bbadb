"""Mention help: suggestions from the handles this workspace knows (never another workspace's
people), each network's mention form, and an honest preview."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from conftest import client_for
from stammtisch.networks.models import Channel
from stammtisch.networks.sandbox.models import SandboxAccount, SandboxEvent, SandboxPersona, SandboxPost
from stammtisch.publishing import composer

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def sandbox_channel(workspace, handle: str, name: str, stands_in_for: str = "") -> Channel:
    SandboxAccount.objects.create(handle=handle, display_name=name, workspace=workspace, simulated_until=NOW)
    return Channel.objects.create(
        workspace=workspace,
        network="sandbox",
        handle=handle,
        display_name=name,
        stands_in_for=stands_in_for,
        credentials={"token": "t"},
    )


def persona(pk: int, handle: str, name: str) -> SandboxPersona:
    return SandboxPersona.objects.create(
        id=pk, handle=handle, name=name, language="de", interests=[], active_profile="evening", habits={}
    )


def interaction(channel: Channel, who: SandboxPersona, kind: str = "comment", at: dt.datetime = NOW) -> None:
    account = SandboxAccount.objects.get(handle=channel.handle)
    post = SandboxPost.objects.create(account=account, text="Unser Post", published_at=at - dt.timedelta(hours=2))
    SandboxEvent.objects.create(
        account=account, kind=kind, persona=who, post=post, occurs_at=at - dt.timedelta(hours=1)
    )


@pytest.fixture
def known(cast, frozen):
    """Café Königsbau's Sandbox channel with two people who interacted on it; Charlie's Chili's
    channel with a person who interacted only there."""
    ours = sandbox_channel(cast.workspace, "koenigsbau", "Café Königsbau", "instagram")
    theirs = sandbox_channel(cast.other_workspace, "chili", "Charlie's Chili")
    lena, leon, lea = (
        persona(1, "lena_koch", "Lena Koch"),
        persona(2, "leon_b", "Leon Bauer"),
        persona(3, "lea_s", "Lea S"),
    )
    interaction(ours, lena)
    interaction(ours, lena, "like")
    interaction(ours, leon, "follow")
    interaction(theirs, lea)
    return ours, theirs


def test_people_who_interacted_and_own_channels_are_suggested(cast, known):
    found = composer.mention_suggestions(cast.workspace, "le")

    assert [(s.mention, s.name, s.source) for s in found] == [
        ("@lena_koch", "Lena Koch", "audience"),  # two interactions: first
        ("@leon_b", "Leon Bauer", "audience"),
    ]
    own = composer.mention_suggestions(cast.workspace, "koe")
    assert [(s.mention, s.source, s.network) for s in own] == [("@koenigsbau", "channel", "sandbox")]


def test_another_workspaces_people_are_never_suggested(cast, known):
    everyone = composer.mention_suggestions(cast.workspace, "")
    assert "@lea_s" not in [s.mention for s in everyone]
    assert "@chili" not in [s.mention for s in everyone]
    # ... and the other way round.
    theirs = composer.mention_suggestions(cast.other_workspace, "")
    assert {s.mention for s in theirs} == {"@lea_s", "@chili"}


def test_an_interaction_that_has_not_happened_yet_does_not_count(cast, known):
    ours, _theirs = known
    interaction(ours, persona(4, "lenz", "Lenz"), at=NOW + dt.timedelta(days=2))
    assert "@lenz" not in [s.mention for s in composer.mention_suggestions(cast.workspace, "len")]


def test_suggestions_follow_the_ticked_channels_networks(cast, known):
    Channel.objects.create(
        workspace=cast.workspace, network="fake_mastodon", handle="koenigsbau@social.example", display_name="Königsbau"
    )
    only_mastodon = composer.mention_suggestions(cast.workspace, "", ["fake_mastodon"])
    assert [(s.mention, s.network) for s in only_mastodon] == [("@koenigsbau@social.example", "fake_mastodon")]
    assert composer.mention_suggestions(cast.workspace, "", ["sandbox"])[0].network == "sandbox"


def mentions_url(cast, slug: str | None = None) -> str:
    return reverse("publishing:compose_mentions", kwargs={"slug": slug or cast.workspace.slug})


def test_the_suggestions_view_renders_a_listbox_of_options(cast, known):
    ours, _theirs = known
    response = client_for(cast.bob).get(
        mentions_url(cast), {"q": "len", "channels": [ours.pk]}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'role="option"' in html and 'data-mention="@lena_koch"' in html
    assert "Lena Koch" in html and "interacted with you" in html
    assert "lea_s" not in html


def test_the_suggestions_view_ignores_another_workspaces_channel_ids(cast, known):
    _ours, theirs = known
    html = client_for(cast.bob).get(mentions_url(cast), {"q": "le", "channels": [theirs.pk]}).content.decode()
    assert "lea_s" not in html and "lena_koch" in html


def test_the_suggestions_view_is_for_editors_of_the_workspace(cast, known):
    assert client_for(cast.anna).get(mentions_url(cast), {"q": "le"}).status_code == 403
    assert client_for(cast.charlie).get(mentions_url(cast), {"q": "le"}).status_code in (403, 404)


def test_a_name_with_markup_is_escaped(cast, frozen):
    ours = sandbox_channel(cast.workspace, "koenigsbau", "Café Königsbau")
    interaction(ours, persona(9, "evil", '<script>alert("x")</script>'))
    html = client_for(cast.bob).get(mentions_url(cast), {"q": "ev"}).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


# --- previews --------------------------------------------------------------------------------


def test_x_bluesky_and_mastodon_previews_link_mentions_to_the_profile():
    x = composer.preview_html("Danke @lena_koch!", "x")
    assert '<a class="pv-mention" href="https://x.com/lena_koch"' in x
    bluesky = composer.preview_html("Danke @lena.bsky.social.", "bluesky")
    assert 'href="https://bsky.app/profile/lena.bsky.social"' in bluesky and ">@lena.bsky.social</a>." in bluesky
    mastodon = composer.preview_html("Danke @lena@social.example", "mastodon")
    assert 'href="https://social.example/@lena"' in mastodon and ">@lena@social.example</a>" in mastodon


def test_facebook_instagram_and_linkedin_show_a_mention_as_plain_text_and_say_so(cast):
    channel = Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="kb", display_name="KB", stands_in_for="facebook"
    )
    with translation.override("en"):
        check = composer.check_channel(channel, "Danke @lena_koch!")
        assert "pv-mention" not in check.preview_html and "@lena_koch" in check.preview_html
        assert "does not tag anyone" in check.mention_note
    assert composer.check_channel(channel, "Ohne Erwähnung").mention_note == ""


def test_the_checks_show_the_honest_note(cast, frozen):
    channel = Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="kb", display_name="KB", stands_in_for="linkedin"
    )
    response = client_for(cast.bob).post(
        reverse("publishing:compose_check", kwargs={"slug": cast.workspace.slug}),
        {"text": "Danke @lena_koch", "channels": [channel.pk], "purpose": "value"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "LinkedIn does not tag anyone from an @name" in response.content.decode()


def test_the_composer_explains_each_networks_mention_form(cast):
    html = (
        client_for(cast.bob)
        .get(reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}), HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert "@user@instance" in html and "@handle.bsky.social" in html
    assert "Facebook, Instagram and LinkedIn do not tag anyone" in html
    assert 'data-mentions-url="/w/cafe-koenigsbau/compose/mentions/"' in html
