"""The bell, the notifications page, marking read: everyone sees their own, nobody else's."""

from __future__ import annotations

import re

from django.urls import reverse

from conftest import client_for
from stammtisch.core.models import Membership
from stammtisch.notifications import kinds
from stammtisch.notifications.models import Notification
from stammtisch.notifications.notify import notify
from stammtisch.notifications.tests.conftest import failed_delivery, send_failed

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def bell_count(html: str) -> int:
    match = re.search(r'<span class="bell-count" aria-hidden="true">(\d+)</span>', html)
    return int(match.group(1)) if match else 0


def reconnect(cast, user, channel_name="Café Facebook", workspace=None):
    notify(
        kinds.CHANNEL_RECONNECT,
        workspace or cast.workspace,
        [user],
        data={"channel": channel_name, "error": ""},
        link="/w/cafe-koenigsbau/channels/",
    )
    return Notification.objects.filter(recipient=user).latest("id")


def test_the_bell_counts_unread_notifications_on_every_page(cast, channel, frozen):
    send_failed(failed_delivery(cast, channel, author=None))
    client = client_for(cast.alice)

    page = client.get(reverse("accounts:profile"), **EN).content.decode()
    assert bell_count(page) == 1
    assert "1 unread" in page
    partial = client.get(reverse("notifications:bell"), **EN)
    assert partial.status_code == 200
    assert bell_count(partial.content.decode()) == 1
    assert 'hx-trigger="every 60s"' in partial.content.decode()

    Notification.objects.update(read_at=Notification.objects.get(recipient=cast.alice).created_at)
    assert bell_count(client.get(reverse("notifications:bell")).content.decode()) == 0


def test_the_bell_costs_one_query(cast, channel, frozen, django_assert_num_queries):
    send_failed(failed_delivery(cast, channel, author=None))
    from stammtisch.notifications.actions import unread_count

    with django_assert_num_queries(1):
        assert unread_count(cast.alice) == 1


def test_the_list_shows_my_notifications_newest_first(cast, channel, frozen):
    send_failed(failed_delivery(cast, channel, author=None))
    reconnect(cast, cast.alice, "Café Instagram")

    page = client_for(cast.alice).get(reverse("notifications:list"), **EN).content.decode()

    assert page.index("Café Instagram needs to be reconnected") < page.index("A post failed on Café Facebook")
    assert "The network said: Sandbox: 503 Service Unavailable" in page


def test_the_list_costs_the_same_queries_for_3_or_40_notifications(
    cast, channel, frozen, django_assert_max_num_queries
):
    client = client_for(cast.alice)
    for n in range(3):
        reconnect(cast, cast.alice, f"Kanal {n}")
    client.get(reverse("notifications:list"))  # warm up (session, language)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("notifications:list"))
    for n in range(3, 40):
        reconnect(cast, cast.alice, f"Kanal {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("notifications:list"))
    assert response.content.decode().count('class="notification ') == 30  # one page


def test_opening_a_notification_marks_it_read_and_goes_there(cast, channel, frozen):
    delivery = failed_delivery(cast, channel, author=None)
    send_failed(delivery)
    notification = Notification.objects.get(recipient=cast.alice)

    response = client_for(cast.alice).post(reverse("notifications:read", args=[notification.pk]), {"open": "1"})

    assert response.status_code == 302
    assert response["Location"] == f"/w/cafe-koenigsbau/posts/{delivery.post_id}/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_marking_read_returns_to_the_page_never_elsewhere(cast, frozen):
    notification = reconnect(cast, cast.alice)
    client = client_for(cast.alice)

    back = client.post(reverse("notifications:read", args=[notification.pk]), {"next": "/notifications/?unread=1"})
    assert back["Location"] == "/notifications/?unread=1"
    evil = client.post(reverse("notifications:read", args=[notification.pk]), {"next": "//evil.example/"})
    assert evil["Location"] == "/notifications/"


def test_bob_cannot_mark_alices_notification_read(cast, frozen):
    notification = reconnect(cast, cast.alice)

    response = client_for(cast.bob).post(reverse("notifications:read", args=[notification.pk]), {"open": "1"})

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_charlie_sees_nothing_of_alices_workspace(cast, channel, frozen):
    send_failed(failed_delivery(cast, channel, author=None))
    reconnect(cast, cast.charlie, "Chili TikTok", workspace=cast.other_workspace)
    client = client_for(cast.charlie)

    for url in (reverse("notifications:list"), reverse("notifications:list") + "?workspace=cafe-koenigsbau"):
        page = client.get(url, **EN).content.decode()
        assert "Café Facebook" not in page and "Café Königsbau" not in page
        assert "Chili TikTok" in page
    assert bell_count(client.get(reverse("notifications:bell")).content.decode()) == 1
    # charlie marking all read touches only his own.
    client.post(reverse("notifications:read_all"))
    assert Notification.objects.filter(recipient=cast.alice, read_at__isnull=True).exists()
    assert client.post(reverse("notifications:read_all"), {"workspace": "cafe-koenigsbau"}).status_code == 404


def test_filter_by_workspace_and_mark_all_read_there(cast, frozen):
    Membership.objects.create(user=cast.alice, workspace=cast.other_workspace, role="editor")
    reconnect(cast, cast.alice, "Café Facebook")
    reconnect(cast, cast.alice, "Chili TikTok", workspace=cast.other_workspace)
    client = client_for(cast.alice)

    page = client.get(reverse("notifications:list") + "?workspace=charlies-chili", **EN).content.decode()
    assert "Chili TikTok" in page and "Café Facebook" not in page

    client.post(reverse("notifications:read_all"), {"workspace": "charlies-chili"})
    unread = Notification.objects.filter(recipient=cast.alice, read_at__isnull=True)
    assert list(unread.values_list("data__channel", flat=True)) == ["Café Facebook"]
    page = client.get(reverse("notifications:list") + "?unread=1", **EN).content.decode()
    assert "Café Facebook" in page and "Chili TikTok" not in page


def test_a_member_who_left_no_longer_sees_that_workspaces_notifications(cast, frozen):
    reconnect(cast, cast.adam)
    Membership.objects.filter(user=cast.adam).delete()
    client = client_for(cast.adam)

    assert "Café Facebook" not in client.get(reverse("notifications:list"), **EN).content.decode()
    assert bell_count(client.get(reverse("notifications:bell")).content.decode()) == 0
    notification = Notification.objects.get(recipient=cast.adam)
    assert client.post(reverse("notifications:read", args=[notification.pk])).status_code == 404


def test_notification_text_from_networks_is_escaped(cast, frozen):
    reconnect(cast, cast.alice, "<img src=x onerror=alert(1)>")

    page = client_for(cast.alice).get(reverse("notifications:list"), **EN).content.decode()

    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_anonymous_visitors_are_sent_to_log_in(db):
    from django.test import Client

    for name in ("notifications:list", "notifications:bell", "notifications:preferences"):
        assert Client().get(reverse(name)).status_code == 302
