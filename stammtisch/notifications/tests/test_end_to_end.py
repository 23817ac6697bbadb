"""The whole way: a Sandbox post fails for good, alice sees the bell and gets one e-mail."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.core.worker import Worker, default_jobs, notification_emails
from stammtisch.networks.sandbox import clock, faults
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.networks.sandbox.models import SandboxToken
from stammtisch.notifications import kinds
from stammtisch.notifications.models import Notification
from stammtisch.notifications.notify import EMAIL_DELAY
from stammtisch.notifications.tests.conftest import NOON
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _no_random_faults(settings):
    settings.SANDBOX_FAULT_RATE = 0.0
    faults.clear()
    yield
    faults.clear()


@pytest.fixture
def sandbox_channel(cast):
    with clock.at(NOON - dt.timedelta(days=1)):
        return do_connect_sandbox_channel(
            Actor.system("test"), cast.workspace, "cafe-koenigsbau", "Café Königsbau", "facebook"
        )


class FakeClock:
    """The worker's monotonic clock, moved by hand: every periodic job is due at each tick."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 10_000.0
        return self.now


def bell_count(html: str) -> int:
    match = re.search(r'<span class="bell-count" aria-hidden="true">(\d+)</span>', html)
    return int(match.group(1)) if match else 0


def test_the_worker_sends_notification_mails():
    assert any(job.run is notification_emails and not job.atomic for job in default_jobs())


def test_a_sandbox_post_failing_for_good_rings_alices_bell_and_sends_her_one_mail(
    cast, sandbox_channel, frozen, mailoutbox
):
    post = do_create_post(
        Actor(user=cast.alice, label="alice"),
        cast.workspace,
        text="Heute Abend: Live-Musik im Café!",
        channels=[sandbox_channel],
        scheduled_at=NOON,
    )
    faults.inject(faults.SERVER_ERROR, times=publisher.MAX_ATTEMPTS)
    worker = Worker(worker_id="w1", clock=FakeClock())

    delivery = Delivery.objects.get(post=post)
    for _ in range(publisher.MAX_ATTEMPTS):
        frozen.move_to(max(delivery.due_at, NOON))
        worker.tick()
        delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED
    assert not mailoutbox  # the e-mail waits a moment for more failures

    [notification] = Notification.objects.filter(recipient=cast.alice)
    assert notification.kind == kinds.PUBLISHING_FAILED
    page = client_for(cast.alice).get(reverse("notifications:list"), **EN).content.decode()
    assert bell_count(page) == 1
    assert "A post failed on Café Königsbau" in page

    frozen.move_to(notification.created_at + EMAIL_DELAY)
    worker.tick()
    worker.tick()
    alices = [m for m in mailoutbox if m.to == ["alice@example.org"]]
    assert len(alices) == 1
    assert "Heute Abend: Live-Musik im Café!" in alices[0].body
    assert f"/w/cafe-koenigsbau/posts/{post.pk}/" in alices[0].body


def test_a_revoked_sandbox_token_reports_the_failure_and_the_reconnection(cast, sandbox_channel, frozen, mailoutbox):
    post = do_create_post(
        Actor(user=cast.bob, label="bob"),
        cast.workspace,
        text="Neue Kuchen!",
        channels=[sandbox_channel],
        scheduled_at=NOON,
    )
    SandboxToken.objects.all().delete()  # the user revoked our access on the network

    publisher.run_once("w1")

    assert Delivery.objects.get(post=post).state == Delivery.State.FAILED
    mine = {(user, kind) for user, kind in Notification.objects.values_list("recipient__username", "kind")}
    assert mine == {
        ("bob", kinds.PUBLISHING_FAILED),
        ("alice", kinds.PUBLISHING_FAILED),
        ("adam", kinds.PUBLISHING_FAILED),
        ("alice", kinds.CHANNEL_RECONNECT),
        ("adam", kinds.CHANNEL_RECONNECT),
    }


def test_the_approval_round_trip_notifies_reviewers_then_the_author(
    cast, sandbox_channel, frozen, mailoutbox, django_capture_on_commit_callbacks
):
    from stammtisch.publishing import approvals

    draft = do_create_post(
        Actor(user=cast.bob), cast.workspace, text="Herbstkarte ab Montag!", channels=[sandbox_channel]
    )
    with django_capture_on_commit_callbacks(execute=True):
        approvals.do_submit_for_approval(Actor(user=cast.bob), draft, NOON + dt.timedelta(days=1))
    asked = set(
        Notification.objects.filter(kind=kinds.APPROVAL_REQUESTED).values_list("recipient__username", flat=True)
    )
    assert asked == {"carol", "alice", "adam"}

    with django_capture_on_commit_callbacks(execute=True):
        approvals.do_request_changes(Actor(user=cast.carol), draft, "Bitte mit Preis")
    [told] = Notification.objects.filter(kind=kinds.APPROVAL_DECIDED)
    assert told.recipient == cast.bob
    assert told.data == {
        "actor": "Carol",
        "decision": "changes_requested",
        "comment": "Bitte mit Preis",
        "post": "Herbstkarte ab Montag!",
        "post_id": draft.pk,
    }
    page = client_for(cast.bob).get(reverse("notifications:list"), **EN).content.decode()
    assert "Carol asked for changes to your post" in page
    assert "Comment: “Bitte mit Preis”" in page
