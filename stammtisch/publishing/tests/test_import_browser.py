"""A real browser (Debian's Chromium): bob uploads a CSV with a bad row, sees it in the preview,
uploads the fixed file, imports it and finds the posts in the calendar's list view."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import log_in_browser
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bob_fixes_a_bad_row_and_imports_the_file(browser_page, live_server, cast) -> None:  # type: ignore[no-untyped-def]
    Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle="koenigsbau_x",
        display_name="Königsbau X",
        stands_in_for="x",
    )
    page = browser_page
    log_in_browser(page, live_server, cast.bob)
    day = timezone.localdate(timezone=cast.workspace.tz) + dt.timedelta(days=10)
    german = day.strftime("%d.%m.%Y")

    def csv(second_channel: str) -> bytes:
        return (
            "Text;Datum;Uhrzeit;Kanäle\r\n"
            f"Frühstück im Königsbau: Brezel und Kaffee;{german};08:30;koenigsbau_x\r\n"
            f"Mittagstisch: Maultaschen mit Kartoffelsalat;{german};11:45;{second_channel}\r\n"
        ).encode("cp1252")

    page.goto(reverse("publishing:calendar", kwargs={"slug": cast.workspace.slug}))
    page.locator(f'a[href="{reverse("publishing:import", kwargs={"slug": cast.workspace.slug})}"]').click()
    page.locator('input[name="file"]').set_input_files(
        files=[{"name": "wochenplan.csv", "mimeType": "text/csv", "buffer": csv("koenigsbau_instagram")}]
    )
    page.locator("form.import-upload button[type=submit]").click()

    problem = page.locator('.import-problems li[data-row="3"]')
    problem.wait_for()
    assert "koenigsbau_instagram" in problem.inner_text()
    assert page.locator(".import-problems li").count() == 1
    assert page.locator('form[action$="/import/confirm/"]').count() == 0
    assert not Post.objects.exists()

    page.locator('input[name="file"]').set_input_files(
        files=[{"name": "wochenplan.csv", "mimeType": "text/csv", "buffer": csv("koenigsbau_x")}]
    )
    page.locator("form.import-upload button[type=submit]").click()
    confirm = page.locator('form[action$="/import/confirm/"] button[type=submit]')
    confirm.wait_for()
    assert page.locator("table.import-preview tbody tr").count() == 2
    confirm.click()

    page.wait_for_url("**/calendar/?view=list*")
    texts = page.locator(".cal-list .cal-text").all_inner_texts()
    assert any("Frühstück im Königsbau" in text for text in texts)
    assert any("Mittagstisch: Maultaschen" in text for text in texts)
    assert page.locator(".cal-list time").all_inner_texts()[:2] == ["08:30", "11:45"]
    assert Post.objects.filter(source=Post.Source.CSV, status=Post.Status.SCHEDULED).count() == 2
