"""A real browser (Debian's Chromium): bob types "@", picks a suggestion with the keyboard and
writes a first comment, which shows only while a ticked channel can post one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import log_in_browser
from stammtisch.networks.models import Channel
from stammtisch.networks.sandbox.models import SandboxAccount, SandboxEvent, SandboxPersona, SandboxPost
from stammtisch.publishing.models import Post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bob_mentions_someone_with_the_keyboard_and_adds_a_first_comment(browser_page, live_server, cast) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    account = SandboxAccount.objects.create(
        handle="koenigsbau", display_name="Café Königsbau", workspace=cast.workspace, simulated_until=now
    )
    as_x = Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle="koenigsbau",
        display_name="Königsbau X",
        stands_in_for="x",
        credentials={"token": "t"},
    )
    as_telegram = Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle="koenigsbau_tg",
        display_name="Königsbau TG",
        stands_in_for="telegram",
        credentials={"token": "t"},
    )
    ours = SandboxPost.objects.create(account=account, text="Brezeln!", published_at=now - dt.timedelta(days=1))
    for pk, handle, name in [(1, "lena_koch", "Lena Koch"), (2, "leon_b", "Leon Bauer")]:
        persona = SandboxPersona.objects.create(
            id=pk, handle=handle, name=name, language="de", interests=[], active_profile="evening", habits={}
        )
        SandboxEvent.objects.create(
            account=account, kind="comment", persona=persona, post=ours, occurs_at=now - dt.timedelta(hours=pk)
        )

    page = browser_page
    log_in_browser(page, live_server, cast.bob)
    page.goto(reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}))
    first_comment = page.locator("[data-first-comment-field]")
    assert first_comment.is_hidden()  # no channel ticked yet

    page.locator(f'input[name="channels"][value="{as_telegram.pk}"]').check()
    assert first_comment.is_hidden()  # Telegram cannot post one
    page.locator(f'input[name="channels"][value="{as_x.pk}"]').check()
    first_comment.wait_for(state="visible")
    assert "Königsbau TG" in page.locator("[data-first-comment-missing]").inner_text()

    text = page.locator('textarea[name="text"]')
    text.click()
    text.press_sequentially("Danke @le")
    listbox = page.locator("#mention-suggestions[role=listbox]")
    listbox.locator("[role=option]").first.wait_for()
    assert listbox.locator("[role=option]").count() == 2
    assert text.get_attribute("aria-expanded") == "true"

    text.press("ArrowDown")
    text.press("ArrowDown")  # the second: Leon
    active = listbox.locator("[aria-selected=true]")
    assert active.get_attribute("data-mention") == "@leon_b"
    assert text.get_attribute("aria-activedescendant") == active.get_attribute("id")
    text.press("Enter")
    assert text.input_value() == "Danke @leon_b "
    assert listbox.is_hidden()

    text.press_sequentially("und @len")
    listbox.locator("[role=option]").first.wait_for()
    text.press("Escape")  # closes without inserting
    assert listbox.is_hidden()
    assert text.input_value() == "Danke @leon_b und @len"

    page.locator('textarea[name="first_comment"]').fill("Rezept: #brezel")
    page.locator("#compose-checks .pv-comment .pv-hashtag").filter(has_text="#brezel").first.wait_for()

    page.locator('input[name="when"][value="draft"]').check()
    page.locator("form.compose-form button[type=submit]").first.click()
    page.wait_for_url("**/posts/*/")
    post = Post.objects.get()
    assert post.text == "Danke @leon_b und @len"
    assert post.first_comment == "Rezept: #brezel"
