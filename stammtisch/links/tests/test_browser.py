"""In Chromium: the link-in-bio page, both embeds as script tag and iframe on a foreign page, and
the links page with a QR code."""

from __future__ import annotations

import pytest

from conftest import log_in_browser
from stammtisch.links.models import Click
from stammtisch.links.tests.helpers import drain, make_link
from stammtisch.links.tests.test_pages import channel_with_followers

pytestmark = pytest.mark.django_db(transaction=True)


def test_bio_and_embeds_render_in_chromium(cast, browser_page, live_server, settings) -> None:
    settings.BASE_URL = live_server.url  # short links point at this server
    page = browser_page
    # The "company website" is the live server itself: the browser never leaves the machine.
    offer = make_link(
        cast, target=f"{live_server.url}/healthz?from=promo", title="Mittagstisch 9,50 €", in_bio=True, in_promo=True
    )
    channel_with_followers(cast, 1234)
    slug = cast.workspace.slug

    page.goto(f"{live_server.url}/bio/{slug}/")
    assert page.locator("#bio-links a").first.inner_text() == "Mittagstisch 9,50 €"
    assert page.locator('meta[property="og:title"]').get_attribute("content") == "Café Königsbau"

    # A blog article of the company, on another origin, with both kinds of embed.
    page.set_content(
        f"""<html><body><article><p>Unser Rezept …</p>
        <script src="{live_server.url}/embed/{slug}/follow.js"></script>
        <script src="{live_server.url}/embed/{slug}/promo.js"></script>
        <iframe id="frame" src="{live_server.url}/embed/{slug}/promo/" style="width:600px;height:300px"></iframe>
        </article></body></html>"""
    )
    follow = page.locator('article > [data-stammtisch="follow"]')
    assert "Café Königsbau" in follow.inner_text()
    assert "1.234" in follow.inner_text()  # German number format (the browser's language)
    promo = page.locator('article > [data-stammtisch="promo"] a')
    assert promo.get_attribute("href").endswith(f"/l/{offer.code}")
    frame = page.frame_locator("#frame")
    assert frame.locator("a").first.inner_text().startswith("Mittagstisch")

    # A click in the promo block (a new tab) goes through the redirector and is counted.
    with page.context.expect_page() as opened:
        promo.click()
    shop = opened.value
    shop.wait_for_url("**/healthz?**")
    assert "from=promo" in shop.url and "stm_click=" in shop.url
    drain()
    click = Click.objects.get(link=offer)
    assert click.is_bot  # headless Chromium says "HeadlessChrome": kept, but not counted as a person


def test_the_links_page_shows_a_qr_code(cast, browser_page, live_server) -> None:
    page = browser_page
    link = make_link(cast, title="Tischaufsteller")
    log_in_browser(page, live_server, cast.alice)
    page.goto(f"{live_server.url}/w/{cast.workspace.slug}/links/{link.pk}/")
    image = page.locator(f'img[src$="/links/{link.pk}/qr.svg"]')
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert f"/l/{link.code}" in page.locator("#short-url").inner_text()
