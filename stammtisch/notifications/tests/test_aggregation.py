"""200 failing posts in an hour are one notification per person, and one e-mail each."""

from __future__ import annotations

import datetime as dt

from django.utils import translation

from stammtisch.networks.models import Channel
from stammtisch.notifications import kinds, mailer
from stammtisch.notifications.models import Notification
from stammtisch.notifications.notify import EMAIL_DELAY
from stammtisch.notifications.tests.conftest import NOON, failed_delivery, send_failed


def test_two_hundred_failures_on_one_channel_become_one_notification_each(
    cast, channel, frozen, mailoutbox, django_assert_max_num_queries
):
    for n in range(200):
        delivery = failed_delivery(cast, channel, author=cast.bob if n < 50 else cast.alice, text=f"Post {n}")
        frozen.move_to(NOON + dt.timedelta(seconds=10 * n))  # spread over 33 minutes
        with django_assert_max_num_queries(12):  # cheap: the same few queries whatever the count
            send_failed(delivery)

    assert Notification.objects.count() == 3  # alice, adam, bob
    counts = dict(Notification.objects.values_list("recipient__username", "count"))
    assert counts == {"alice": 200, "adam": 200, "bob": 50}
    alices = Notification.objects.get(recipient=cast.alice)
    with translation.override("en"):
        assert alices.title == "200 posts failed on Café Facebook"
        assert alices.body.startswith("The latest: “Post 199”.")
    assert alices.link == f"/w/cafe-koenigsbau/calendar/?view=list&channel={channel.pk}"

    assert mailer.send_due("w1") == 3
    assert sorted(m.to[0] for m in mailoutbox) == ["adam@example.org", "alice@example.org", "bob@example.org"]
    assert mailer.send_due("w1") == 0


def test_the_first_mail_waits_a_moment_to_tell_the_whole_burst(cast, channel, frozen, mailoutbox):
    for n in range(12):
        send_failed(failed_delivery(cast, channel, author=None, text=f"Post {n}"))
    assert mailer.send_due("w1") == 0  # not yet: more may follow

    frozen.move_to(NOON + EMAIL_DELAY)
    assert mailer.send_due("w1") == 2
    english = [m for m in mailoutbox if m.to == ["alice@example.org"]]
    assert len(english) == 1
    # The workspace speaks German, alice has chosen nothing: the count is in the mail either way.
    assert "12" in english[0].subject and "Café Facebook" in english[0].subject

    send_failed(failed_delivery(cast, channel, author=None, text="Post 13"))  # later, same hour
    frozen.move_to(NOON + 2 * EMAIL_DELAY)
    assert mailer.send_due("w1") == 0  # no second mail for the same group
    assert Notification.objects.get(recipient=cast.alice).count == 13


def test_the_next_hour_and_another_channel_start_new_notifications(cast, channel, frozen):
    other = Channel.objects.create(workspace=cast.workspace, network="sandbox", handle="cafe-ig", display_name="IG")
    send_failed(failed_delivery(cast, channel, author=None))
    send_failed(failed_delivery(cast, other, author=None))
    frozen.move_to(NOON + dt.timedelta(hours=1))
    send_failed(failed_delivery(cast, channel, author=None))

    alices = Notification.objects.filter(recipient=cast.alice, kind=kinds.PUBLISHING_FAILED)
    assert alices.count() == 3
    assert sorted(alices.values_list("count", flat=True)) == [1, 1, 1]


def test_a_read_notification_comes_back_unread_when_more_fail(cast, channel, frozen):
    send_failed(failed_delivery(cast, channel, author=None))
    Notification.objects.update(read_at=NOON)

    frozen.move_to(NOON + dt.timedelta(minutes=5))
    send_failed(failed_delivery(cast, channel, author=None))

    alices = Notification.objects.get(recipient=cast.alice)
    assert alices.read_at is None
    assert alices.count == 2
    assert alices.updated_at == NOON + dt.timedelta(minutes=5)
    assert alices.created_at == NOON
