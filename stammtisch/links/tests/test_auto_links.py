"""A post with a link, published to the Sandbox, carries its own short link per channel; the
Sandbox audience's clicks and conversions are recorded attributed to post and channel."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from stammtisch.core.actions import Actor
from stammtisch.links import auto
from stammtisch.links.actions import do_update_link_settings
from stammtisch.links.models import Click, Conversion, ShortLink
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.networks.sandbox.models import SandboxEvent, SandboxPost
from stammtisch.publishing import publisher, ratelimit
from stammtisch.publishing.actions import do_create_post

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
LINK = "https://cafe-koenigsbau.example/sommerkarte"


@pytest.fixture(autouse=True)
def limiter(monkeypatch) -> None:
    monkeypatch.setattr(publisher, "LIMITER", ratelimit.Limiter())


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def publish(cast, channels, text=f"Unsere Sommerkarte ist da: {LINK}", link=LINK):
    post = do_create_post(
        Actor.system("test"),
        cast.workspace,
        text=text,
        channels=channels,
        scheduled_at=NOON,
        link=link,
        pillar="Saisonales",
    )
    publisher.run_once("w1", now=NOON)
    return post


def test_each_channel_gets_its_own_short_link_in_the_text(cast, frozen) -> None:
    do_update_link_settings(Actor.system("t"), cast.workspace, utm_campaign_template="{goal}-{pillar}")
    first = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau", "Café Königsbau")
    second = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau-2", "Café Zwei")
    post = publish(cast, [first, second])
    links = {link.channel_id: link for link in ShortLink.objects.filter(post=post)}
    assert set(links) == {first.pk, second.pk}
    assert links[first.pk].code != links[second.pk].code
    for channel in (first, second):
        link = links[channel.pk]
        sandbox_post = SandboxPost.objects.get(account__handle=channel.handle, parent__isnull=True)
        assert f"/l/{link.code}" in sandbox_post.text and LINK not in sandbox_post.text
        assert sandbox_post.link.endswith(f"/l/{link.code}")
        query = parse_qs(urlsplit(link.destination).query)
        assert query == {
            "utm_source": ["sandbox"],
            "utm_medium": ["social"],
            "utm_campaign": ["value-saisonales"],
            "utm_content": [f"post-{post.pk}"],
        }
        assert link.delivery.channel_id == channel.pk


def test_posts_without_a_link_get_none(cast, frozen) -> None:
    channel = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau", "Café Königsbau")
    publish(cast, [channel], text="Guten Morgen!", link="")
    assert not ShortLink.objects.exists()
    assert SandboxPost.objects.get(parent__isnull=True).text == "Guten Morgen!"


def test_a_retry_keeps_the_same_short_link(cast, frozen) -> None:
    channel = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau", "Café Königsbau")
    post = publish(cast, [channel])
    delivery = post.deliveries.get()
    delivery.post = post
    delivery.channel = channel
    again = auto.for_deliveries([delivery])
    assert again == {delivery.pk: again[delivery.pk]} and again[delivery.pk].endswith(ShortLink.objects.get().code)
    assert ShortLink.objects.count() == 1


def test_simulated_clicks_and_conversions_are_attributed(cast, frozen) -> None:
    channel = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau", "Café Königsbau")
    post = publish(cast, [channel])
    link = ShortLink.objects.get()
    clicks = SandboxEvent.objects.filter(kind="click").count()
    assert clicks > 0, "the seeded audience clicks a post with a link"
    frozen.move_to(NOON + dt.timedelta(days=4))
    assert auto.record_sandbox_clicks() == clicks
    assert auto.record_sandbox_clicks() == 0  # each once
    recorded = Click.objects.filter(link=link)
    assert recorded.count() == clicks
    assert set(recorded.values_list("post_id", "channel_id")) == {(post.pk, channel.pk)}
    conversions = Conversion.objects.filter(workspace=cast.workspace)
    assert conversions.exists()
    assert set(conversions.values_list("post_id", "channel_id", "link_id")) == {(post.pk, channel.pk, link.pk)}
    assert post.purpose == "value"  # the goal of the attributed post


def test_the_composer_counts_the_link_as_the_short_link_that_replaces_it(settings) -> None:
    """Bluesky counts a link's characters (300 at most): what counts is the short link sent."""
    from stammtisch.networks.models import Channel
    from stammtisch.publishing import composer

    settings.SHORT_URL_BASE = "https://kurz.cafe-koenigsbau.example"
    bluesky = Channel(network="bluesky", display_name="Café")
    original = "https://cafe.example/k"
    short_length = len("https://kurz.cafe-koenigsbau.example/l/") + 7
    text = "x" * (300 - len(original) - 1) + " " + original  # 300 with the original link
    assert composer.check_channel(bluesky, text).ok  # the text alone: as typed
    assert not composer.check_channel(bluesky, text, link=original).ok  # as sent: longer
    fits = "x" * (300 - short_length - 1) + " " + original
    assert composer.check_channel(bluesky, fits, link=original).ok
    # A long address becomes a short link: a text too long with it fits as sent.
    long_link = "https://cafe.example/" + "karte/" * 60
    long_text = "Unsere Karte: " + long_link
    assert not composer.check_channel(bluesky, long_text).ok
    assert composer.check_channel(bluesky, long_text, link=long_link).ok
    # A link the publisher makes no short link for (not http/https) is counted as it is.
    assert composer.as_sent("see ftp://x.example/f", "ftp://x.example/f") == "see ftp://x.example/f"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Neu: https://cafe.example/spargel/", "Neu: https://s.example/l/abc"),
        # A blog feed writes the link with its own UTM parameters: the whole address is replaced.
        (
            "Neu: https://cafe.example/spargel/?utm_source=x&utm_medium=social, lesen!",
            "Neu: https://s.example/l/abc, lesen!",
        ),
        (
            "<https://cafe.example/spargel/#top> und https://cafe.example/spargel/",
            "<https://s.example/l/abc> und https://s.example/l/abc",
        ),
        ("Ohne Link", "Ohne Link"),
        ("Lesen (https://cafe.example/spargel/).", "Lesen (https://s.example/l/abc)."),
        ("https://cafe.example/spargel/", "https://s.example/l/abc"),
    ],
)
def test_the_outgoing_text_carries_the_short_link_instead_of_the_whole_address(text, expected) -> None:
    assert auto.outgoing_text(text, "https://cafe.example/spargel/", "https://s.example/l/abc") == expected


def test_a_link_ending_in_a_bracket_is_replaced_whole() -> None:
    original = "https://de.wikipedia.org/wiki/Maultasche_(Gericht)"
    assert auto.outgoing_text(f"Siehe {original}.", original, "https://s.example/l/abc") == (
        "Siehe https://s.example/l/abc."
    )
