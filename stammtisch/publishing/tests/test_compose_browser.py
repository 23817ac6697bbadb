"""A real browser (Debian's Chromium): the composer checks each channel's text while bob types."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import log_in_browser
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Delivery, Post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bob_sees_checks_and_previews_while_typing(browser_page, live_server, cast) -> None:  # type: ignore[no-untyped-def]
    as_x = Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="kx", display_name="Königsbau X", stands_in_for="x"
    )
    page = browser_page
    log_in_browser(page, live_server, cast.bob)
    page.goto(reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}))

    page.locator(f'input[name="channels"][value="{as_x.pk}"]').check()
    page.locator('textarea[name="text"]').fill("a" * 300 + " #brezel")
    page.locator("#compose-checks .compose-length").filter(has_text="308 / 280").wait_for()
    assert page.locator("#compose-checks .pv-x .pv-hashtag").inner_text() == "#brezel"

    variant = page.locator(f'textarea[name="variant_{as_x.pk}"]')
    variant.focus()  # an empty channel text starts from the post's text
    assert variant.input_value() == "a" * 300 + " #brezel"
    variant.fill("Kurz und gut #brezel")
    page.locator("#compose-checks .compose-length").filter(has_text="20 / 280").wait_for()

    page.locator('input[name="when"][value="draft"]').check()
    page.locator("form.compose-form button[type=submit]").click()
    page.wait_for_url("**/posts/*/")
    post = Post.objects.get()
    assert Delivery.objects.get(post=post).text == "Kurz und gut #brezel"
