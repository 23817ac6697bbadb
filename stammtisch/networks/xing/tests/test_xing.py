"""XING's assisted publishing: adding a channel by hand, the publisher waiting for a person, the
"assisted post" page, confirming and skipping (docs/networks/xing.md)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import translation

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.models import Channel
from stammtisch.networks.xing.actions import do_confirm_assisted, do_skip_assisted
from stammtisch.notifications import kinds
from stammtisch.notifications.models import Notification
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, DeliveryAttempt, Post

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
State = Delivery.State
POST_URL = "https://www.xing.com/discover/updates/posts/abc123"


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def xing(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace,
        network="xing",
        handle="pages/cafe-koenigsbau",
        display_name="Café Königsbau auf XING",
        network_data={"url": "https://www.xing.com/pages/cafe-koenigsbau", "assisted": True},
    )


def due_post(cast, channel, text="Wir suchen Verstärkung im Service!") -> Post:
    return do_create_post(Actor(user=cast.bob), cast.workspace, text=text, channels=[channel], scheduled_at=NOON)


def assisted_url(cast, delivery) -> str:
    return reverse("xing:assisted", kwargs={"slug": cast.workspace.slug, "delivery_id": delivery.pk})


# --- adding a channel ---------------------------------------------------------------------------


def test_an_admin_adds_a_company_page_by_hand(client, cast):
    client.force_login(cast.adam)
    url = reverse("xing:connect", kwargs={"slug": cast.workspace.slug})
    response = client.post(url, {"url": "https://www.xing.com/pages/cafe-koenigsbau?sc=1", "display_name": "Café"})
    assert response.status_code == 302
    channel = Channel.objects.get(workspace=cast.workspace, network="xing")
    assert channel.handle == "pages/cafe-koenigsbau"
    assert channel.network_data["url"] == "https://www.xing.com/pages/cafe-koenigsbau"
    assert channel.credentials == {}
    assert AuditEvent.objects.filter(action="channel.connect", object_id=str(channel.pk)).exists()


@pytest.mark.parametrize(
    "bad",
    [
        "https://www.linkedin.com/company/x",
        "https://xing.com.evil.example/pages/x",
        "https://www.xing.com/jobs",
        "xing",
    ],
)
def test_only_a_xing_profile_or_page_is_accepted(client, cast, bad):
    client.force_login(cast.alice)
    response = client.post(
        reverse("xing:connect", kwargs={"slug": cast.workspace.slug}), {"url": bad, "display_name": "X"}, **EN
    )
    assert response.status_code == 200
    assert "xing.com" in response.content.decode() or "XING profile" in response.content.decode()
    assert not Channel.objects.filter(network="xing").exists()


def test_an_editor_cannot_add_a_channel(client, cast):
    client.force_login(cast.bob)
    response = client.get(reverse("xing:connect", kwargs={"slug": cast.workspace.slug}))
    assert response.status_code == 403


def test_the_connect_page_says_honestly_that_xing_has_no_api(client, cast):
    client.force_login(cast.alice)
    page = client.get(reverse("xing:connect", kwargs={"slug": cast.workspace.slug}), **EN).content.decode()
    assert "XING closed its publishing interface in 2019" in page


# --- the publisher ------------------------------------------------------------------------------


def test_at_the_due_time_nothing_is_sent_and_the_author_is_asked_to_post(cast, xing, frozen, mailoutbox):
    post = due_post(cast, xing)

    assert publisher.run_once("w1") == 1

    delivery = Delivery.objects.get(post=post)
    assert delivery.state == State.RETRY_WAIT
    assert delivery.last_error == "Waiting for you to post it on XING"
    assert delivery.due_at == NOON + dt.timedelta(days=30)
    assert delivery.remote_id == ""
    [attempt] = DeliveryAttempt.objects.filter(delivery=delivery)
    assert attempt.outcome == "retry"
    recipients = set(
        Notification.objects.filter(kind=kinds.ASSISTED_POST_DUE).values_list("recipient__username", flat=True)
    )
    assert recipients == {"bob", "alice", "adam"}
    note = Notification.objects.get(kind=kinds.ASSISTED_POST_DUE, recipient=cast.bob)
    assert note.link == assisted_url(cast, delivery)
    assert note.email == "immediate"
    with translation.override("en"):
        assert note.title == "Time to post on Café Königsbau auf XING"
    # Nothing more happens until a person acts, or 30 days later (a reminder).
    assert publisher.run_once("w1", now=NOON + dt.timedelta(days=29)) == 0
    assert publisher.run_once("w1", now=NOON + dt.timedelta(days=30)) == 1
    assert Notification.objects.filter(kind=kinds.ASSISTED_POST_DUE, recipient=cast.bob).count() == 2


# --- the assisted post page ---------------------------------------------------------------------


def test_the_page_shows_the_text_a_copy_button_and_a_link_to_xing(client, cast, xing, frozen):
    post = due_post(cast, xing, text="Wir suchen <Verstärkung>!")
    publisher.run_once("w1")
    delivery = Delivery.objects.get(post=post)
    client.force_login(cast.bob)

    page = client.get(assisted_url(cast, delivery), **EN).content.decode()

    assert "Wir suchen &lt;Verstärkung&gt;!" in page
    assert 'data-copy-target="assisted-text"' in page
    assert 'href="https://www.xing.com/"' in page
    assert "XING has no interface through which Stammtisch could publish" in page
    assert "I posted it" in page


def test_the_page_gives_the_deliverys_short_link_instead_of_the_posts_link(client, cast, xing, frozen):
    from stammtisch.links import actions
    from stammtisch.links.models import ShortLink

    link = "https://cafe-koenigsbau.example/jobs"
    post = do_create_post(
        Actor(user=cast.bob),
        cast.workspace,
        text=f"Wir suchen Verstärkung: {link}",
        link=link,
        channels=[xing],
        scheduled_at=NOON,
    )
    publisher.run_once("w1")
    delivery = Delivery.objects.get(post=post)
    short = ShortLink.objects.get(delivery=delivery)
    client.force_login(cast.bob)

    page = client.get(assisted_url(cast, delivery), **EN).content.decode()

    short_url = actions.short_url(short.code)
    assert f">Wir suchen Verstärkung: {short_url}</textarea>" in page
    assert f"<code>{short_url}</code>" in page
    assert link not in page
    assert ShortLink.objects.filter(delivery=delivery).count() == 1  # the page made no second one


def test_the_post_page_leads_to_the_assisted_page_once_it_is_due(client, cast, xing, frozen):
    post = due_post(cast, xing)
    client.force_login(cast.bob)
    post_url = reverse("publishing:post", kwargs={"slug": cast.workspace.slug, "post_id": post.pk})
    delivery = Delivery.objects.get(post=post)
    assert assisted_url(cast, delivery) not in client.get(post_url, **EN).content.decode()  # not due yet

    publisher.run_once("w1")

    page = client.get(post_url, **EN).content.decode()
    assert f'href="{assisted_url(cast, delivery)}"' in page and "Post it on XING by hand" in page


def test_confirming_with_the_posts_address_marks_it_published(client, cast, xing, frozen):
    post = due_post(cast, xing)
    publisher.run_once("w1")
    delivery = Delivery.objects.get(post=post)
    client.force_login(cast.bob)

    response = client.post(assisted_url(cast, delivery), {"url": POST_URL})

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.state, delivery.remote_url, delivery.last_error) == (State.PUBLISHED, POST_URL, "")
    assert delivery.published_at == NOON
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED
    event = AuditEvent.objects.get(action="delivery.confirm_assisted")
    assert event.data["url"] == POST_URL
    # Published: the worker leaves it alone, even after 30 days.
    assert publisher.run_once("w1", now=NOON + dt.timedelta(days=31)) == 0


@pytest.mark.parametrize(
    "bad", ["https://www.linkedin.com/feed/update/1", "javascript:alert(1)", "https://evilxing.com/p", ""]
)
def test_an_address_not_on_xing_is_refused(client, cast, xing, frozen, bad):
    post = due_post(cast, xing)
    publisher.run_once("w1")
    delivery = Delivery.objects.get(post=post)
    client.force_login(cast.bob)
    response = client.post(assisted_url(cast, delivery), {"url": bad}, **EN)
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == State.RETRY_WAIT


def test_confirming_cannot_race_a_worker_holding_the_delivery(cast, xing, frozen):
    post = due_post(cast, xing)
    [claim] = publisher.claim("w1")
    delivery = Delivery.objects.get(post=post)
    assert delivery.state == State.PUBLISHING
    with pytest.raises(ActionError):
        do_confirm_assisted(Actor(user=cast.bob), delivery, POST_URL)
    delivery.refresh_from_db()
    assert delivery.state == State.PUBLISHING and delivery.remote_url == ""
    # The worker finishes its step as usual.
    assert publisher.process(claim, "w1") == State.RETRY_WAIT


def test_confirming_twice_is_refused(cast, xing, frozen):
    post = due_post(cast, xing)
    delivery = Delivery.objects.get(post=post)
    do_confirm_assisted(Actor(user=cast.bob), delivery, POST_URL)
    with pytest.raises(ActionError):
        do_confirm_assisted(Actor(user=cast.bob), delivery, POST_URL + "x")
    delivery.refresh_from_db()
    assert delivery.remote_url == POST_URL


def test_an_analyst_cannot_confirm(cast, xing, frozen):
    delivery = Delivery.objects.get(post=due_post(cast, xing))
    with pytest.raises(PermissionDenied):
        do_confirm_assisted(Actor(user=cast.anna), delivery, POST_URL)
    delivery.refresh_from_db()
    assert delivery.state == State.SCHEDULED


def test_skip_cancels_only_the_xing_delivery(client, cast, xing, frozen):
    post = due_post(cast, xing)
    publisher.run_once("w1")
    delivery = Delivery.objects.get(post=post)
    client.force_login(cast.bob)

    response = client.post(
        reverse("xing:assisted_skip", kwargs={"slug": cast.workspace.slug, "delivery_id": delivery.pk})
    )

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == State.CANCELLED
    assert AuditEvent.objects.filter(action="delivery.skip_assisted").exists()
    with pytest.raises(ActionError):
        do_skip_assisted(Actor(user=cast.bob), delivery)


def test_a_delivery_of_another_network_is_not_assisted(client, cast, frozen):
    sandbox = Channel.objects.create(workspace=cast.workspace, network="sandbox", handle="k", display_name="K")
    delivery = Delivery.objects.get(post=due_post(cast, sandbox))
    client.force_login(cast.bob)
    response = client.get(assisted_url(cast, delivery))
    assert response.status_code == 302
    with pytest.raises(ActionError):
        do_confirm_assisted(Actor(user=cast.bob), delivery, POST_URL)


def test_an_outsider_cannot_see_the_page(client, cast, xing, frozen):
    delivery = Delivery.objects.get(post=due_post(cast, xing))
    client.force_login(cast.charlie)
    assert client.get(assisted_url(cast, delivery)).status_code == 404
    other = reverse("xing:assisted", kwargs={"slug": cast.other_workspace.slug, "delivery_id": delivery.pk})
    assert client.get(other).status_code == 404


def test_the_waiting_list_shows_posts_due_on_xing(client, cast, xing, frozen):
    post = due_post(cast, xing)
    publisher.run_once("w1")
    client.force_login(cast.bob)
    page = client.get(reverse("xing:waiting", kwargs={"slug": cast.workspace.slug})).content.decode()
    assert assisted_url(cast, Delivery.objects.get(post=post)) in page
