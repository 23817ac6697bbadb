"""The public Sandbox feed /sandbox/<handle>/: a small social network's timeline."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.urls import reverse

from stammtisch.core.access import ACCESS_ATTR
from stammtisch.networks.base import Outgoing, Remote
from stammtisch.networks.sandbox import clock, views
from stammtisch.networks.sandbox.models import SandboxPost
from stammtisch.networks.sandbox.tests.conftest import START

DAY = dt.timedelta(days=1)
NOW = START + 40 * DAY


def publish(network, channel, when, text, key, **kwargs) -> Remote:
    with clock.at(when):
        return network.publish(channel, Outgoing(text=text, **kwargs), key)


def get(client: Client, url: str, at: dt.datetime = NOW):
    with clock.at(at):
        return client.get(url, HTTP_ACCEPT_LANGUAGE="en")


def test_it_is_a_public_view() -> None:
    for view in (views.feed, views.post_detail):
        assert getattr(view, ACCESS_ATTR) == ("public", None)
    assert getattr(views.connect, ACCESS_ATTR) == ("workspace", "manage")


def test_it_shows_posts_newest_first_with_counts_and_comments(client, network, channel, account) -> None:
    publish(network, channel, START + DAY, "Erster Beitrag: unser Kaffee! Wie trinkt ihr ihn?", "k1")
    publish(network, channel, START + 2 * DAY, "Zweiter Beitrag: frische Brezeln. Was meint ihr?", "k2")
    comment = SandboxPost.objects.exclude(author_persona=None).order_by("published_at").first()
    with clock.at(START + 5 * DAY):
        network.reply(channel, Remote(id=comment.remote_id), "Danke für deinen Kommentar!", "r1")

    response = get(client, reverse("sandbox:feed", args=[account.handle]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Sandbox" in html and "Café Königsbau" in html and "@cafe-koenigsbau" in html
    assert html.index("Zweiter Beitrag") < html.index("Erster Beitrag")
    assert "likes" in html and "views" in html and "followers" in html
    assert comment.author_persona.name in html
    assert "Danke für deinen Kommentar!" in html


def test_it_escapes_what_people_write(client, network, channel, account) -> None:
    publish(network, channel, START, "<script>alert('x')</script> <b>fett</b>", "k1", link="javascript:alert(1)")
    html = get(client, reverse("sandbox:feed", args=[account.handle])).content.decode()
    assert "<script>alert" not in html and "<b>fett</b>" not in html
    assert "&lt;script&gt;alert" in html
    assert 'href="javascript:' not in html


def test_it_hides_what_has_not_happened_yet(client, network, channel, account) -> None:
    publish(network, channel, START + DAY, "Von gestern", "k1")
    publish(network, channel, START + 3 * DAY, "Aus der Zukunft", "k2")
    html = get(client, reverse("sandbox:feed", args=[account.handle]), at=START + 2 * DAY).content.decode()
    assert "Von gestern" in html and "Aus der Zukunft" not in html


def test_it_hides_deleted_posts(client, network, channel, account) -> None:
    remote = publish(network, channel, START, "Bald gelöscht", "k1")
    with clock.at(START + DAY):
        network.delete(channel, remote)
    assert "Bald gelöscht" not in get(client, reverse("sandbox:feed", args=[account.handle])).content.decode()


def test_it_pages_with_a_constant_number_of_queries(
    client, network, channel, account, django_assert_max_num_queries
) -> None:
    for i in range(25):
        publish(
            network, channel, START + i * dt.timedelta(hours=10), f"Beitrag Nummer {i}: Kaffee und Kuchen?", f"k{i}"
        )
    url = reverse("sandbox:feed", args=[account.handle])
    with django_assert_max_num_queries(8):
        first = get(client, url)
    second = get(client, url + "?page=2")
    assert "Beitrag Nummer 24" in first.content.decode() and "Beitrag Nummer 4:" not in first.content.decode()
    assert "Beitrag Nummer 4:" in second.content.decode()
    assert "Beitrag Nummer 5:" in first.content.decode()


def test_it_shows_one_post_with_its_thread(client, network, channel, account) -> None:
    remote = publish(network, channel, START, "Ein einzelner Beitrag über Maultaschen", "k1")
    response = get(client, reverse("sandbox:post", args=[account.handle, remote.id.removeprefix("post-")]))
    assert response.status_code == 200
    assert "Ein einzelner Beitrag" in response.content.decode()


def test_it_says_not_found_for_an_unknown_handle_or_post(client, account) -> None:
    assert get(client, reverse("sandbox:feed", args=["nobody-here"])).status_code == 404
    assert get(client, reverse("sandbox:post", args=[account.handle, 999999])).status_code == 404
