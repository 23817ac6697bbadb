"""The SEO pages: social visits beside search figures per page, one page's figures, and the
Search Console import (upload, preview, confirm, delete) through the browser's requests."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conftest import client_for
from stammtisch.analytics import rollups
from stammtisch.analytics.tests.builders import channel
from stammtisch.core.actions import Actor
from stammtisch.links import seo_import
from stammtisch.links.models import Click, SearchConsoleRow, ShortLink
from stammtisch.links.seo_actions import do_import_search_console

KARTE = "cafe-koenigsbau.example/karte"


def url(cast, name: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/w/{cast.workspace.slug}/links/seo/{name}"


def today(cast) -> dt.date:  # type: ignore[no-untyped-def]
    return timezone.localdate(timezone=cast.workspace.tz)


def social_clicks(cast, count: int) -> ShortLink:  # type: ignore[no-untyped-def]
    koenigsbau = channel(cast.workspace)
    link = ShortLink.objects.create(workspace=cast.workspace, target=f"https://{KARTE}/", channel=koenigsbau)
    # An hour ago, but never before the workspace's local midnight: the tests count them as today's.
    midnight = dt.datetime.combine(today(cast), dt.time(), tzinfo=cast.workspace.tz)
    occurred_at = max(timezone.now() - dt.timedelta(hours=1), midnight)
    for n in range(count):
        Click.objects.create(
            link=link,
            workspace=cast.workspace,
            channel=koenigsbau,
            occurred_at=occurred_at,
            visitor_hash=f"v{n}",
        )
    return link


def search_rows(cast, workspace=None, clicks: int = 12) -> None:  # type: ignore[no-untyped-def]
    day = today(cast) - dt.timedelta(days=2)
    text = f"Date,Page,Query,Clicks,Impressions,Position\n{day},https://{KARTE},frühstück,{clicks},300,4.5\n"
    actor = Actor.system("test")
    do_import_search_console(actor, workspace or cast.workspace, text.encode())


def upload(client, cast, text: str, **fields):  # type: ignore[no-untyped-def]
    headers = {name: fields.pop(name) for name in list(fields) if name.startswith("HTTP_")}
    data = {"file": SimpleUploadedFile("Pages.csv", text.encode(), content_type="text/csv"), **fields}
    return client.post(url(cast, "import/"), data, **headers)


def test_the_seo_page_shows_social_visits_beside_search_figures(cast) -> None:
    social_clicks(cast, 3)
    search_rows(cast)
    rollups.refresh(cast.workspace, today(cast) - dt.timedelta(days=89), today(cast))
    response = client_for(cast.anna).get(url(cast), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-page="{KARTE}"' in page
    row = page.split(f'data-page="{KARTE}"')[1].split("</tr>")[0]
    assert 'data-social-clicks="3"' in row and 'data-search-clicks="12"' in row
    assert 'data-total="social-clicks">3<' in page and 'data-total="search-clicks">12<' in page
    assert 'data-search-days="1"' in page
    assert "frühstück" in page  # the top queries
    assert "SEO signals" in page


def test_the_seo_page_speaks_german(cast) -> None:
    social_clicks(cast, 1)
    client = client_for(cast.alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    page = client.get(url(cast)).content.decode()
    assert '<html lang="de">' in page
    assert "SEO-Signale" in page and "Klicks auf Kurzlinks aus sozialen Netzwerken" in page
    detail = client.get(url(cast, "page/"), {"page": KARTE}).content.decode()
    assert "Nach Netzwerk und Kanal" in detail


def test_another_workspaces_figures_never_show(cast) -> None:
    search_rows(cast, workspace=cast.other_workspace, clicks=99)
    page = client_for(cast.alice).get(url(cast)).content.decode()
    assert KARTE not in page and ">99<" not in page
    detail = client_for(cast.alice).get(url(cast, "page/"), {"page": KARTE}).content.decode()
    assert "frühstück" not in detail
    assert client_for(cast.charlie).get(url(cast)).status_code == 404


def test_one_pages_figures_by_day_and_channel(cast) -> None:
    social_clicks(cast, 2)
    search_rows(cast)
    client = client_for(cast.carol)
    response = client.get(url(cast, "page/"), {"page": f"https://www.{KARTE}/?utm_source=x", "days": "28"})
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-day="{today(cast).isoformat()}"' in page
    assert f'data-day="{(today(cast) - dt.timedelta(days=2)).isoformat()}"' in page
    assert "Koenigsbau" in page and "frühstück" in page
    assert client.get(url(cast, "page/")).status_code == 302
    assert client.get(url(cast, "page/"), {"page": "javascript:alert(1)"}).status_code == 200  # a page without figures


def test_importing_a_date_less_export_asks_for_its_range_then_previews_and_imports(cast) -> None:
    client = client_for(cast.bob)
    assert client.get(url(cast, "import/")).status_code == 200
    pages = "Top pages,Clicks,Impressions,CTR,Position\nhttps://cafe-koenigsbau.example/karte,30,900,3.3%,5.2\n"
    missing = upload(client, cast, pages, HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 400 and "no dates" in missing.content.decode()
    first, last = today(cast) - dt.timedelta(days=28), today(cast) - dt.timedelta(days=1)
    preview = upload(client, cast, pages, first_day=first.isoformat(), last_day=last.isoformat())
    assert preview.status_code == 200
    body = preview.content.decode()
    assert 'name="token"' in body and f'name="first_day" value="{first.isoformat()}"' in body
    assert not SearchConsoleRow.objects.exists()  # the preview stores nothing
    token = body.split('name="token" value="')[1].split('"')[0]
    confirmed = client.post(
        url(cast, "import/confirm/"), {"token": token, "first_day": first.isoformat(), "last_day": last.isoformat()}
    )
    assert confirmed.status_code == 302 and f"from={first.isoformat()}" in confirmed["Location"]
    row = SearchConsoleRow.objects.get()
    assert (row.first_day, row.last_day, row.page, row.clicks) == (first, last, KARTE, 30)
    # The period's own page shows its totals.
    period_page = client.get(confirmed["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "period of an imported file without dates" in period_page and 'data-search-clicks="30"' in period_page
    # The same preview cannot be imported twice.
    again = client.post(url(cast, "import/confirm/"), {"token": token})
    assert again.status_code == 302 and again["Location"].endswith("/links/seo/import/")
    assert SearchConsoleRow.objects.count() == 1


def test_a_file_with_a_bad_row_shows_every_problem_and_offers_no_import(cast) -> None:
    client = client_for(cast.bob)
    text = "Datum;Seite;Klicks;Impressionen\n2026-05-01;https://cafe-koenigsbau.example/;3;100\n2026-05-02;;x;100\n"
    response = upload(client, cast, text, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-row="3"' in page and "The page is missing." in page and "is not a whole number" in page
    assert 'name="token"' not in page
    assert not SearchConsoleRow.objects.exists()


def test_a_file_too_large_is_refused_with_a_message(cast, monkeypatch) -> None:
    monkeypatch.setattr(seo_import, "MAX_BYTES", 100)
    text = "Date,Clicks,Impressions\n" + "2026-05-01,1,1\n" * 10
    response = upload(client_for(cast.bob), cast, text, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "larger than" in response.content.decode()
    assert not SearchConsoleRow.objects.exists()


def test_an_analyst_reads_but_may_not_import(cast) -> None:
    anna = client_for(cast.anna)
    assert anna.get(url(cast)).status_code == 200
    assert anna.get(url(cast, "import/")).status_code == 403
    assert upload(anna, cast, "Date,Clicks,Impressions\n2026-05-01,1,1\n").status_code == 403


def test_figures_imported_with_a_wrong_range_can_be_deleted(cast) -> None:
    search_rows(cast)
    search_rows(cast, workspace=cast.other_workspace)
    day = (today(cast) - dt.timedelta(days=2)).isoformat()
    response = client_for(cast.bob).post(url(cast, "import/delete/"), {"first_day": day, "last_day": day})
    assert response.status_code == 302
    assert not SearchConsoleRow.objects.filter(workspace=cast.workspace).exists()
    assert SearchConsoleRow.objects.filter(workspace=cast.other_workspace).count() == 1
    refused = client_for(cast.bob).post(url(cast, "import/delete/"), {"first_day": day})
    assert refused.status_code == 302
