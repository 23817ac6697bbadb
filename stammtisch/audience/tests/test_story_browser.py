"""Issue 5's story in a real browser (Debian's Chromium): alice opens the profile of a Sandbox
commenter, sees their history, tags them, makes them a referral link, exports their data, erases
them, and afterwards their handle and personal code appear nowhere: not in the pages, not in a
dump of the database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from conftest import log_in_browser
from stammtisch.audience import consume
from stammtisch.audience.models import Engagement, Identity, Person
from stammtisch.core.actions import Actor
from stammtisch.inbox import sync
from stammtisch.inbox.models import Conversation, Message
from stammtisch.networks.base import Outgoing
from stammtisch.networks.sandbox import clock
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def database_dump() -> str:
    """Every row of every table as text, except the Sandbox's own tables (`sandbox_*`): they are
    the simulated network's copy of its personas, as a real network keeps its users' data, which
    no erasure in Stammtisch can or should reach (docs/people.md "Privacy")."""
    lines = []
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table.startswith("sandbox_"):
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # table names from the schema
            lines += [f"{table}: {row!r}" for row in cursor.fetchall()]
    return "\n".join(lines)


def _a_commenter() -> Person:
    """A person who commented, with a handle that no other person's handle, name or text contains
    (so finding it after the erasure could only mean a copy of theirs was left)."""
    for engagement in Engagement.objects.filter(kind="comment").select_related("person").order_by("pk"):
        person = engagement.person
        handle = person.identities.get().handle
        others = Identity.objects.exclude(person=person)
        if (
            len(handle) >= 4
            and not others.filter(Q(handle__icontains=handle) | Q(display_name__icontains=handle)).exists()
            and not Message.objects.filter(text__icontains=handle).exclude(author_handle=handle).exists()
        ):
            return person
    raise AssertionError("the simulated audience left no comment")


def test_alice_erases_a_sandbox_commenter_and_their_handle_is_gone(browser_page, live_server, cast) -> None:  # type: ignore[no-untyped-def]
    channel = do_connect_sandbox_channel(Actor.system("test"), cast.workspace, "koenigsbau", "Café Königsbau")
    with clock.at(timezone.now() - dt.timedelta(days=3)):
        for n in range(3):
            text = f"Heute frischer Zwetschgenkuchen! Was sagt ihr? ({n})"
            channel.connector.publish(channel, Outgoing(text=text), f"story-{n}")
    assert sync.run_due("w1") > 0
    consume.consume()
    person = _a_commenter()
    handle = person.identities.get().handle
    comment = Message.objects.filter(author_handle=handle).exclude(text="").first()
    assert comment is not None
    slug = cast.workspace.slug
    profile = reverse("audience:person", args=[slug, person.pk])

    page = browser_page
    log_in_browser(page, live_server, cast.alice)
    page.goto(reverse("audience:list", args=[slug]) + f"?q={handle}")
    page.locator(f'a[href="{profile}"]').click()
    page.wait_for_url(f"**{profile}")
    assert handle in page.content()
    page.locator(".people-timeline").get_by_text(comment.text[:40]).first.wait_for()  # their history

    page.locator('input[name="tags"]').fill("Kuchenfan")
    page.locator(f'form[action="{reverse("audience:edit", args=[slug, person.pk])}"] button[type="submit"]').click()
    page.wait_for_url(f"**{profile}")
    assert person.tags.get().name == "Kuchenfan"

    # A referral link for them, with its QR code and their personal code.
    page.locator('select[name="target_kind"]').select_option("website")
    page.locator('input[name="target"]').fill("https://cafe-koenigsbau.example/reservieren")
    page.locator(
        f'form[action="{reverse("audience:referral_new", args=[slug, person.pk])}"] button[type="submit"]'
    ).click()
    page.wait_for_url(f"**{profile}#referrals")
    referral = person.referrals.get()
    code = referral.code
    assert code in page.locator("[data-referral-code]").inner_text()
    page.locator(f'img[src="{reverse("links:qr_svg", args=[slug, referral.link.pk])}"]').wait_for()

    page.locator(f'a[href="{reverse("audience:export_html", args=[slug, person.pk])}"]').click()
    page.wait_for_url("**/export/")
    assert handle in page.content() and comment.text[:40] in page.content()
    exported = page.request.get(reverse("audience:export_json", args=[slug, person.pk]))
    assert exported.ok and exported.json()["identities"][0]["handle"] == handle

    assert handle.lower() in database_dump().lower()  # the check below can find it
    page.goto(reverse("audience:erase", args=[slug, person.pk]))
    page.locator('button[type="submit"].danger').click()
    page.wait_for_url(f"**{reverse('audience:list', args=[slug])}")

    person.refresh_from_db()
    assert person.is_erased
    conversation = Conversation.objects.get(pk=comment.conversation_id)
    for url in [
        reverse("audience:list", args=[slug]),
        profile,
        reverse("audience:segments", args=[slug]),
        reverse("inbox:list", args=[slug]),
        reverse("inbox:conversation", args=[slug, conversation.pk]),
        reverse("core:audit", args=[slug]),
    ]:
        page.goto(url)
        assert handle.lower() not in page.content().lower(), url
    dump = database_dump().lower()
    assert handle.lower() not in dump
    assert "kuchenfan" not in dump  # the tag only they had is gone too
    assert code.lower() not in dump  # their personal code (it starts with their first name)
    referral.refresh_from_db()
    assert referral.person is None and referral.link.target.endswith("/reservieren")  # the QR code still leads on
