"""A real browser (Debian's Chromium): bob uploads a photo in the composer, sees it, and the
Instagram check turns from "needs an image" to fine."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import log_in_browser
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import MediaAsset, Post, PostMedia
from stammtisch.publishing.tests.media_samples import image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bob_uploads_a_photo_and_instagram_is_satisfied(browser_page, live_server, cast) -> None:  # type: ignore[no-untyped-def]
    as_instagram = Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle="ki",
        display_name="Königsbau Instagram",
        stands_in_for="instagram",
    )
    page = browser_page
    log_in_browser(page, live_server, cast.bob)
    page.goto(reverse("publishing:compose", kwargs={"slug": cast.workspace.slug}))

    page.locator(f'input[name="channels"][value="{as_instagram.pk}"]').check()
    page.locator('textarea[name="text"]').fill("Frische Brezeln am Schlossplatz #brezel")
    check = page.locator("#compose-checks .compose-check")
    check.locator(".compose-problems").wait_for()
    assert check.locator(".compose-ok").count() == 0

    page.locator("#compose-upload").set_input_files(
        files=[{"name": "brezel.jpg", "mimeType": "image/jpeg", "buffer": image("JPEG", (1080, 1350), "#b5651d")}]
    )

    thumb = page.locator("#compose-media .compose-media-thumb")
    thumb.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 1080", arg=thumb.element_handle())
    check.locator(".compose-ok").wait_for()  # the checks ran again with the photo: Instagram is fine
    assert check.locator(".compose-problems").count() == 0
    assert check.locator(".pv-media img").count() == 1  # and the preview shows it

    asset = MediaAsset.objects.get()
    page.locator(f'textarea[name="alt_{asset.pk}"]').fill("Drei Brezeln auf einem Holzbrett")
    page.locator('input[name="when"][value="draft"]').check()
    page.locator("form.compose-form button[type=submit]").click()
    page.wait_for_url("**/posts/*/")

    post = Post.objects.get()
    assert list(PostMedia.objects.filter(post=post).values_list("asset_id", flat=True)) == [asset.pk]
    asset.refresh_from_db()
    assert asset.alt_text == "Drei Brezeln auf einem Holzbrett"
    assert page.locator('.post-media img[alt="Drei Brezeln auf einem Holzbrett"]').count() == 1
