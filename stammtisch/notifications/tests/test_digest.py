"""The daily summary: one e-mail a day at 08:00 in the workspace's zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from stammtisch.accounts.models import Profile
from stammtisch.core.models import Workspace
from stammtisch.notifications import kinds, mailer
from stammtisch.notifications.kinds import EmailMode
from stammtisch.notifications.models import Notification, NotificationPreference
from stammtisch.notifications.notify import EMAIL_DELAY, next_digest_at
from stammtisch.notifications.tests.conftest import NOON, failed_delivery, send_approval_decided, send_failed
from stammtisch.publishing.models import Post

# 08:00 in Stuttgart on the next morning (06:00 UTC in summer).
NEXT_MORNING = dt.datetime(2026, 6, 2, 6, 0, tzinfo=dt.UTC)


def prefer_digest(user, workspace, *keys):
    for key in keys:
        NotificationPreference.objects.create(user=user, workspace=workspace, kind=key, email=EmailMode.DIGEST)


def test_the_summary_is_due_at_eight_in_the_workspaces_zone():
    berlin = Workspace(time_zone="Europe/Berlin")
    new_york = Workspace(time_zone="America/New_York")
    assert next_digest_at(berlin, NOON) == NEXT_MORNING
    assert next_digest_at(berlin, dt.datetime(2026, 6, 1, 5, 0, tzinfo=dt.UTC)) == dt.datetime(
        2026, 6, 1, 6, 0, tzinfo=dt.UTC
    )  # 07:00 in Stuttgart: this morning's summary is still to come
    assert next_digest_at(berlin, dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.UTC)) == NEXT_MORNING
    assert next_digest_at(new_york, NOON) == dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    # Across the change to winter time (25 October 2026): still 08:00 on the wall clock.
    autumn = next_digest_at(berlin, dt.datetime(2026, 10, 24, 12, 0, tzinfo=dt.UTC))
    assert autumn.astimezone(zoneinfo.ZoneInfo("Europe/Berlin")).hour == 8
    assert autumn == dt.datetime(2026, 10, 25, 7, 0, tzinfo=dt.UTC)


def test_bob_gets_one_summary_of_the_day_next_morning(cast, channel, frozen, mailoutbox):
    Profile.objects.create(user=cast.bob, language="en")
    prefer_digest(cast.bob, cast.workspace, kinds.PUBLISHING_FAILED, kinds.APPROVAL_DECIDED)
    send_failed(failed_delivery(cast, channel, author=cast.bob))
    frozen.move_to(NOON + dt.timedelta(hours=3))
    post = Post.objects.create(workspace=cast.workspace, author=cast.bob, text="Neue Herbstkarte")
    send_approval_decided(post, cast.carol, "approved")

    frozen.move_to(NOON + dt.timedelta(hours=3) + EMAIL_DELAY)
    mailer.send_due("w1")
    assert {m.to[0] for m in mailoutbox} == {"alice@example.org", "adam@example.org"}  # at once
    mailoutbox.clear()

    frozen.move_to(NEXT_MORNING - dt.timedelta(minutes=1))
    assert mailer.send_due("w1") == 0
    frozen.move_to(NEXT_MORNING)
    assert mailer.send_due("w1") == 1

    [summary] = mailoutbox
    assert summary.to == ["bob@example.org"]
    assert summary.subject == "[Café Königsbau] Your daily summary: 2 notifications"
    assert "A post failed on Café Facebook" in summary.body
    assert "Carol approved your post" in summary.body
    assert "/notifications/unsubscribe/" in summary.body
    assert mailer.send_due("w1") == 0
    assert not Notification.objects.filter(email_due_at__isnull=False).exists()


def test_notifications_read_before_the_summary_are_left_out(cast, channel, frozen, mailoutbox):
    prefer_digest(cast.bob, cast.workspace, kinds.PUBLISHING_FAILED, kinds.APPROVAL_DECIDED)
    send_failed(failed_delivery(cast, channel, author=cast.bob))
    post = Post.objects.create(workspace=cast.workspace, author=cast.bob, text="Neue Herbstkarte")
    send_approval_decided(post, cast.carol, "approved")
    Notification.objects.filter(recipient=cast.bob, kind=kinds.APPROVAL_DECIDED).update(read_at=NOON)

    frozen.move_to(NEXT_MORNING)
    mailer.send_due("w1")

    [summary] = [m for m in mailoutbox if m.to == ["bob@example.org"]]
    assert "Café Facebook" in summary.body
    assert "Carol" not in summary.body


def test_a_summary_of_only_read_notifications_is_not_sent(cast, channel, frozen, mailoutbox):
    prefer_digest(cast.bob, cast.workspace, kinds.PUBLISHING_FAILED)
    send_failed(failed_delivery(cast, channel, author=cast.bob))
    Notification.objects.filter(recipient=cast.bob).update(read_at=NOON)
    frozen.move_to(NOON + EMAIL_DELAY)
    mailer.send_due("w1")
    mailoutbox.clear()

    frozen.move_to(NEXT_MORNING)
    assert mailer.send_due("w1") == 0
    assert not mailoutbox


def test_a_summary_is_one_mail_even_when_its_rows_span_batches(cast, channel, frozen, mailoutbox):
    prefer_digest(cast.bob, cast.workspace, kinds.PUBLISHING_FAILED)
    for hour in range(5):  # five hours, five notifications for bob
        frozen.move_to(NOON + dt.timedelta(hours=hour))
        send_failed(failed_delivery(cast, channel, author=cast.bob))
    Notification.objects.exclude(recipient=cast.bob).delete()

    frozen.move_to(NEXT_MORNING)
    assert mailer.send_due("w1", limit=2) == 1
    assert len(mailoutbox) == 1
    # bob has no language of his own: the workspace's, German
    assert mailoutbox[0].body.count("Ein Beitrag auf Café Facebook ist fehlgeschlagen") == 5
