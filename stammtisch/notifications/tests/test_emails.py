"""Notification e-mails: sent by the worker once, in the reader's language, with a way out."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from stammtisch.accounts.models import Profile
from stammtisch.notifications import mailer
from stammtisch.notifications.models import Notification
from stammtisch.notifications.notify import EMAIL_DELAY
from stammtisch.notifications.tests.conftest import NOON, failed_delivery, send_failed

LATER = NOON + EMAIL_DELAY


def mails_to(outbox, user):
    return [m for m in outbox if m.to == [user.email]]


def test_each_mail_is_sent_once(cast, channel, frozen, mailoutbox):
    send_failed(failed_delivery(cast, channel, author=cast.bob))
    frozen.move_to(LATER)

    assert mailer.send_due("w1") == 3
    assert mailer.send_due("w1") == 0
    assert mailer.send_due("w2") == 0
    assert len(mailoutbox) == 3
    sent = Notification.objects.get(recipient=cast.bob)
    assert sent.emailed_at == LATER
    assert sent.email_due_at is None and sent.email_lease_owner == ""


def test_a_german_user_gets_a_german_mail(cast, channel, frozen, mailoutbox):
    # bob has no language of his own: the workspace's (German) decides; adam chose English.
    Profile.objects.create(user=cast.adam, language="en")
    send_failed(failed_delivery(cast, channel, author=cast.bob))
    frozen.move_to(LATER)
    mailer.send_due("w1")

    [german] = mails_to(mailoutbox, cast.bob)
    [english] = mails_to(mailoutbox, cast.adam)
    # The time of the event, in the workspace's zone (12:00 in Stuttgart), named the reader's way.
    assert "1. Juni 2026 12:00" in german.body
    assert "Juni" in german.alternatives[0][0]
    assert "June 1, 2026" in english.body
    assert english.subject == "[Café Königsbau] A post failed on Café Facebook"
    assert "“Heute gibt es Maultaschen!” could not be published." in english.body
    assert "The network said: Sandbox: 503 Service Unavailable" in english.body


def test_a_user_with_a_german_profile_in_an_english_workspace_reads_german(cast, channel, frozen, mailoutbox):
    cast.workspace.language = "en"
    cast.workspace.save()
    Profile.objects.create(user=cast.alice, language="de")
    send_failed(failed_delivery(cast, channel, author=None))
    frozen.move_to(LATER)
    mailer.send_due("w1")

    assert "Juni" in mails_to(mailoutbox, cast.alice)[0].body
    assert "June" in mails_to(mailoutbox, cast.adam)[0].body


def test_every_mail_has_html_a_link_and_a_way_to_stop_it(cast, channel, frozen, mailoutbox, settings):
    settings.BASE_URL = "https://social.example.org"
    delivery = failed_delivery(cast, channel, author=None, text="<script>alert(1)</script> Kuchen")
    send_failed(delivery)
    frozen.move_to(LATER)
    mailer.send_due("w1")

    message = mails_to(mailoutbox, cast.alice)[0]
    assert f"https://social.example.org/w/cafe-koenigsbau/posts/{delivery.post_id}/" in message.body
    assert "https://social.example.org/notifications/preferences/#w-cafe-koenigsbau" in message.body
    unsubscribe = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("https://social.example.org/notifications/unsubscribe/")
    assert unsubscribe in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert unsubscribe in html


def test_no_mail_for_users_without_an_address(cast, channel, frozen, mailoutbox):
    cast.alice.email = ""
    cast.alice.save()
    send_failed(failed_delivery(cast, channel, author=None))
    frozen.move_to(LATER)

    assert mailer.send_due("w1") == 1  # adam only
    assert [m.to for m in mailoutbox] == [["adam@example.org"]]
    alices = Notification.objects.get(recipient=cast.alice)
    assert alices.in_app and alices.email_due_at is None  # still under her bell


def test_a_notification_read_in_the_app_before_its_mail_is_not_mailed(cast, channel, frozen, mailoutbox):
    send_failed(failed_delivery(cast, channel, author=None))
    Notification.objects.filter(recipient=cast.alice).update(read_at=NOON)
    frozen.move_to(LATER)

    mailer.send_due("w1")

    assert [m.to for m in mailoutbox] == [["adam@example.org"]]
    assert Notification.objects.get(recipient=cast.alice).email_due_at is None


def test_a_mail_server_failure_is_retried_later_then_given_up(cast, channel, frozen, mailoutbox, monkeypatch):
    send_failed(failed_delivery(cast, channel, author=None))
    Notification.objects.exclude(recipient=cast.alice).delete()
    frozen.move_to(LATER)

    def refuse(self, *args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", refuse)
    assert mailer.send_due("w1") == 0
    row = Notification.objects.get()
    assert row.email_attempts == 1
    assert row.email_due_at == LATER + mailer.RETRY_BASE
    assert row.email_lease_owner == ""

    for _ in range(mailer.MAX_ATTEMPTS - 1):
        frozen.move_to(Notification.objects.get().email_due_at)
        mailer.send_due("w1")
    row = Notification.objects.get()
    assert row.email_attempts == mailer.MAX_ATTEMPTS
    assert row.email_due_at is None and row.emailed_at is None
    assert not mailoutbox


def test_a_mail_leased_by_a_running_worker_is_left_alone_until_its_lease_expires(cast, channel, frozen, mailoutbox):
    send_failed(failed_delivery(cast, channel, author=None))
    frozen.move_to(LATER)
    claimed = mailer.claim("dead-worker")  # claimed, then the worker died before sending
    assert len(claimed.ids) == 2

    assert mailer.send_due("w2") == 0
    frozen.move_to(LATER + mailer.LEASE + dt.timedelta(seconds=1))
    assert mailer.send_due("w2") == 2
    assert len(mailoutbox) == 2


def test_a_crash_after_sending_resends_at_most_that_one_mail(cast, channel, frozen, mailoutbox, monkeypatch):
    send_failed(failed_delivery(cast, channel, author=None))
    frozen.move_to(LATER)

    finish = mailer._finish

    def crash_after_first(worker, ids, *, sent_at):
        if sent_at is not None:
            raise SystemExit("killed between sending and marking")
        return finish(worker, ids, sent_at=sent_at)

    monkeypatch.setattr(mailer, "_finish", crash_after_first)
    with pytest.raises(SystemExit):
        mailer.send_due("w1")
    monkeypatch.undo()
    assert len(mailoutbox) == 1  # one mail went out, the second was never tried

    frozen.move_to(LATER + mailer.LEASE + dt.timedelta(seconds=1))
    assert mailer.send_due("w2") == 2
    assert len(mailoutbox) == 3  # the first mail once more (documented), the second once


def test_mails_left_over_when_the_time_budget_is_spent_go_out_in_the_next_run(cast, channel, frozen, mailoutbox):
    send_failed(failed_delivery(cast, channel, author=None))
    frozen.move_to(LATER)

    assert mailer.send_due("w1", budget=0) == 0  # out of time before the first mail
    assert not Notification.objects.exclude(email_lease_owner="").exists()  # released at once
    assert mailer.send_due("w1") == 2
    assert len(mailoutbox) == 2
