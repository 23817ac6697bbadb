"""Everyone chooses per workspace and kind: in the app, by e-mail at once, daily, or not at all."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from conftest import client_for
from stammtisch.core.models import AuditEvent
from stammtisch.notifications import kinds, mailer
from stammtisch.notifications.kinds import EmailMode
from stammtisch.notifications.models import Notification, NotificationPreference
from stammtisch.notifications.notify import EMAIL_DELAY
from stammtisch.notifications.tests.conftest import NOON, failed_delivery, send_failed

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def choose(user, workspace, kind, *, in_app=True, email=EmailMode.IMMEDIATE):
    NotificationPreference.objects.create(user=user, workspace=workspace, kind=kind, in_app=in_app, email=email)


def test_in_app_off_means_e_mail_only(cast, channel, frozen, mailoutbox):
    choose(cast.alice, cast.workspace, kinds.PUBLISHING_FAILED, in_app=False)
    send_failed(failed_delivery(cast, channel, author=None))
    frozen.move_to(NOON + EMAIL_DELAY)
    mailer.send_due("w1")

    assert "alice@example.org" in [m.to[0] for m in mailoutbox]
    response = client_for(cast.alice).get(reverse("notifications:list"), **EN)
    assert "failed on Café Facebook" not in response.content.decode()


def test_e_mail_off_means_the_bell_only(cast, channel, frozen, mailoutbox):
    choose(cast.alice, cast.workspace, kinds.PUBLISHING_FAILED, email=EmailMode.OFF)
    send_failed(failed_delivery(cast, channel, author=None))
    frozen.move_to(NOON + EMAIL_DELAY)
    mailer.send_due("w1")

    assert [m.to[0] for m in mailoutbox] == ["adam@example.org"]
    assert Notification.objects.get(recipient=cast.alice).in_app


def test_both_off_means_nothing_at_all(cast, channel, frozen):
    choose(cast.alice, cast.workspace, kinds.PUBLISHING_FAILED, in_app=False, email=EmailMode.OFF)
    send_failed(failed_delivery(cast, channel, author=None))

    assert not Notification.objects.filter(recipient=cast.alice).exists()
    assert Notification.objects.filter(recipient=cast.adam).exists()


def test_a_choice_made_after_the_event_still_counts_for_the_mail(cast, channel, frozen, mailoutbox):
    send_failed(failed_delivery(cast, channel, author=None))
    choose(cast.alice, cast.workspace, kinds.PUBLISHING_FAILED, email=EmailMode.OFF)
    choose(cast.adam, cast.workspace, kinds.PUBLISHING_FAILED, email=EmailMode.DIGEST)
    frozen.move_to(NOON + EMAIL_DELAY)

    assert mailer.send_due("w1") == 0
    assert not mailoutbox
    adams = Notification.objects.get(recipient=cast.adam)
    assert adams.email == EmailMode.DIGEST  # moved to tomorrow's summary
    assert adams.email_due_at is not None and adams.email_due_at.hour == 6  # 08:00 in Stuttgart


def test_the_preferences_page_offers_each_member_what_their_role_can_get(cast):
    page = client_for(cast.alice).get(reverse("notifications:preferences"), **EN).content.decode()
    for label in ("Publishing failed", "Channel needs reconnection", "Approval needed", "Approval decided"):
        assert label in page
    assert f'name="w{cast.workspace.pk}-publishing_failed-email"' in page

    carols = client_for(cast.carol).get(reverse("notifications:preferences"), **EN).content.decode()
    assert "Approval needed" in carols and "Publishing failed" not in carols

    annas = client_for(cast.anna).get(reverse("notifications:preferences"), **EN).content.decode()
    assert "Your role in this workspace gets no notifications." in annas


def form_data(workspace, **choices):
    prefix = f"w{workspace.pk}"
    data = {"workspace": workspace.slug}
    for key in kinds.KINDS:
        in_app, email = choices.get(key, (True, "immediate"))
        if in_app:
            data[f"{prefix}-{key}-in_app"] = "on"
        data[f"{prefix}-{key}-email"] = email
    return data


def test_saving_preferences(cast):
    client = client_for(cast.alice)
    data = form_data(cast.workspace, publishing_failed=(True, "digest"), approval_requested=(False, "off"))

    response = client.post(reverse("notifications:preferences"), data, **EN)

    assert response.status_code == 302
    assert response["Location"].endswith("#w-cafe-koenigsbau")
    saved = {p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=cast.alice)}
    assert saved == {"publishing_failed": (True, "digest"), "approval_requested": (False, "off")}
    event = AuditEvent.objects.get(action="notifications.preferences")
    assert event.actor == cast.alice
    assert event.data["kinds"] == {"publishing_failed": [True, "digest"], "approval_requested": [False, "off"]}

    page = client.get(reverse("notifications:preferences"), **EN).content.decode()
    assert re.search(r'<option value="digest" selected>', page)


def test_a_wrong_choice_is_explained_and_nothing_is_saved(cast):
    data = form_data(cast.workspace, publishing_failed=(True, "hourly"))

    response = client_for(cast.alice).post(reverse("notifications:preferences"), data, **EN)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not NotificationPreference.objects.exists()


def test_nobody_sets_preferences_for_a_workspace_they_are_not_in(cast):
    response = client_for(cast.charlie).post(reverse("notifications:preferences"), form_data(cast.workspace))

    assert response.status_code == 404
    assert not NotificationPreference.objects.exists()


def unsubscribe_link(mailoutbox, user) -> str:
    message = next(m for m in mailoutbox if m.to == [user.email])
    return message.extra_headers["List-Unsubscribe"].strip("<>").removeprefix("http://127.0.0.1:8000")


def test_the_link_in_the_mail_stops_these_mails_in_one_click(cast, channel, frozen, mailoutbox):
    send_failed(failed_delivery(cast, channel, author=None))
    frozen.move_to(NOON + EMAIL_DELAY)
    mailer.send_due("w1")
    link = unsubscribe_link(mailoutbox, cast.alice)

    anonymous = Client(enforce_csrf_checks=True)  # a mail program, not logged in, no CSRF token
    confirm = anonymous.get(link, **EN)
    assert confirm.status_code == 200 and "Publishing failed" in confirm.content.decode()
    assert not NotificationPreference.objects.exists()  # a GET (a link preview) changes nothing

    done = anonymous.post(link, {"List-Unsubscribe": "One-Click"}, **EN)
    assert done.status_code == 200
    assert "E-mails switched off" in done.content.decode()
    pref = NotificationPreference.objects.get(user=cast.alice, workspace=cast.workspace, kind=kinds.PUBLISHING_FAILED)
    assert (pref.in_app, pref.email) == (True, EmailMode.OFF)
    assert AuditEvent.objects.get(action="notifications.unsubscribe").actor == cast.alice


def test_a_forged_or_broken_link_changes_nothing(cast):
    for token in ("sample-token", "eyJ1IjoxLCJ3IjoxLCJrIjoiKiJ9:1wTzS8:forged"):
        response = Client().post(reverse("notifications:unsubscribe", args=[token]), **EN)
        assert response.status_code == 400
        assert "This link is not valid" in response.content.decode()
    assert not NotificationPreference.objects.exists()


def test_the_summarys_link_stops_every_mail_of_that_workspace(cast):
    token = mailer.unsubscribe_token(cast.bob.pk, cast.workspace.pk, mailer.ALL_KINDS)

    Client().post(reverse("notifications:unsubscribe", args=[token]))

    modes = set(NotificationPreference.objects.filter(user=cast.bob).values_list("kind", "email"))
    assert modes == {(key, "off") for key in kinds.KINDS}


def test_the_settings_page_costs_the_same_queries_for_one_or_six_workspaces(cast, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stammtisch.core.models import Membership, Workspace

    client = client_for(cast.alice)
    client.get(reverse("notifications:preferences"))  # warm up (session, language)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("notifications:preferences"))
    for n in range(5):
        workspace = Workspace.objects.create(name=f"Filiale {n}", slug=f"filiale-{n}")
        Membership.objects.create(user=cast.alice, workspace=workspace, role="admin")
        choose(cast.alice, workspace, kinds.PUBLISHING_FAILED, email=EmailMode.DIGEST)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get(reverse("notifications:preferences")).content.decode()
    assert page.count("<section") == 6
