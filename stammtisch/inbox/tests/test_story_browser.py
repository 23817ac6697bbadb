"""Issue 4's story in a real browser (Debian's Chromium), keyboard only: a Sandbox follower asked
a question under our post; bob opens the inbox, moves to the conversation with j, presses r,
types the answer and sends it with Ctrl+Enter; it shows as pending; the worker sends it; the
conversation shows it as ours, and the answer is on the Sandbox feed exactly once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import log_in_browser
from stammtisch.core.actions import Actor
from stammtisch.inbox import replies, sync
from stammtisch.inbox.models import Conversation, Reply
from stammtisch.networks.base import Outgoing
from stammtisch.networks.sandbox import clock
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.networks.sandbox.models import SandboxPost

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ANSWER = "Ja, sonntags ab 10 Uhr, bis bald!"


def test_answer_a_sandbox_question_from_the_inbox(browser_page, live_server, cast) -> None:  # type: ignore[no-untyped-def]
    channel = do_connect_sandbox_channel(Actor.system("test"), cast.workspace, "koenigsbau", "Café Königsbau")
    with clock.at(timezone.now() - dt.timedelta(days=3)):
        for n in range(3):
            text = f"Heute frischer Zwetschgenkuchen! Habt ihr Fragen? ({n})"
            channel.connector.publish(channel, Outgoing(text=text), f"story-{n}")
    assert sync.run_due("w1") > 0
    newest = Conversation.objects.exclude(last_message_at=None).order_by("-last_message_at", "-pk").first()
    assert newest is not None
    page = browser_page
    log_in_browser(page, live_server, cast.bob)
    page.goto(reverse("inbox:list", kwargs={"slug": cast.workspace.slug}))
    page.locator("body").press("j")
    page.locator(f'[data-conversation="{newest.pk}"]').wait_for()
    page.locator("body").press("r")
    reply_box = page.locator("[data-reply-text]")
    assert reply_box.evaluate("box => box === document.activeElement")
    reply_box.type(ANSWER)
    reply_box.press("Control+Enter")
    page.locator("[data-pending-reply]").filter(has_text=ANSWER).wait_for()
    assert Reply.objects.get().state == Reply.State.PENDING

    assert replies.run_due("w1") == 1  # the worker
    page.locator("[data-pending-reply]").wait_for(state="detached")  # the pane looked again
    assert page.locator(".inbox-message.direction-out").filter(has_text=ANSWER).count() == 1

    sent = Reply.objects.get()
    assert SandboxPost.objects.filter(idempotency_key=str(sent.idempotency_key)).count() == 1
    root = SandboxPost.objects.get(idempotency_key=str(sent.idempotency_key)).root_id
    page.goto(f"/sandbox/koenigsbau/{root}/")
    assert page.get_by_text(ANSWER).count() == 1
