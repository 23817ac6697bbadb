"""The links pages, QR downloads, the link-in-bio page and the website embeds."""

from __future__ import annotations

import datetime as dt
import json

from django.test import Client
from django.utils import timezone

from conftest import client_for
from stammtisch.analytics.models import ChannelMetricSnapshot
from stammtisch.core.actions import Actor
from stammtisch.links.actions import do_update_link_settings
from stammtisch.links.models import Click
from stammtisch.links.tests.helpers import drain, make_link
from stammtisch.networks.models import Channel


def test_the_list_shows_click_counts_without_bots(cast) -> None:
    link = make_link(cast, title="Sommerkarte")
    Client().get(f"/l/{link.code}", HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0)")
    Client().get(f"/l/{link.code}", HTTP_USER_AGENT="Twitterbot/1.0")
    drain()
    assert Click.objects.count() == 2
    page = client_for(cast.anna).get(f"/w/{cast.workspace.slug}/links/").content.decode()
    assert "Sommerkarte" in page and 'data-clicks="1"' in page
    detail = client_for(cast.anna).get(f"/w/{cast.workspace.slug}/links/{link.pk}/")
    assert detail.status_code == 200


def test_qr_codes_download_in_the_workspaces_colours(cast) -> None:
    do_update_link_settings(Actor.system("t"), cast.workspace, qr_dark="#7a1f2b", qr_light="#fff8e7")
    link = make_link(cast, title="Tischkarte")
    client = client_for(cast.carol)
    svg = client.get(f"/w/{cast.workspace.slug}/links/{link.pk}/qr.svg?download=1")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert "attachment" in svg["Content-Disposition"] and svg["Content-Disposition"].endswith('.svg"')
    body = svg.content.decode()
    assert "#7a1f2b" in body and "#fff8e7" in body
    png = client.get(f"/w/{cast.workspace.slug}/links/{link.pk}/qr.png?download=1")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png.content)).convert("RGB")
    assert image.getpixel((1, 1)) == (0xFF, 0xF8, 0xE7)  # the quiet zone in the light colour


def test_a_qr_scan_is_counted_apart(cast) -> None:
    link = make_link(cast)
    Client().get(f"/l/{link.code}?qr=1", HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile")
    drain()
    assert Click.objects.get().via_qr


def channel_with_followers(cast, followers: int) -> Channel:
    channel = Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="koenigsbau", display_name="Café Königsbau"
    )
    now = timezone.now()
    for days, count in ((3, followers - 10), (1, followers)):
        ChannelMetricSnapshot.objects.create(
            workspace=cast.workspace,
            channel=channel,
            day=(now - dt.timedelta(days=days)).date(),
            observed_at=now - dt.timedelta(days=days),
            followers=count,
        )
    return channel


def test_the_link_in_bio_page_is_public_with_meta_tags(cast) -> None:
    make_link(cast, title="Tisch reservieren", in_bio=True)
    make_link(cast, title="Nicht in der Bio")
    make_link(cast, title="Abgelaufen", in_bio=True, expires_at=timezone.now() - dt.timedelta(hours=1))
    channel_with_followers(cast, 1234)
    response = Client().get(f"/bio/{cast.workspace.slug}/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 200
    assert '<meta property="og:title" content="Café Königsbau">' in page and 'rel="canonical"' in page
    assert "Tisch reservieren" in page and "Nicht in der Bio" not in page and "Abgelaufen" not in page
    assert "/sandbox/koenigsbau/" in page
    assert "Set-Cookie" not in str(response.headers)
    do_update_link_settings(Actor.system("t"), cast.workspace, bio_public=False)
    assert Client().get("/bio/charlies-chili/").status_code == 200
    from django.core.cache import cache

    cache.clear()
    assert Client().get(f"/bio/{cast.workspace.slug}/").status_code == 404


def test_the_follow_embed_shows_the_latest_follower_count(cast) -> None:
    channel_with_followers(cast, 1234)
    frame = Client().get(f"/embed/{cast.workspace.slug}/follow/", HTTP_ACCEPT_LANGUAGE="en")
    assert frame.status_code == 200 and "X-Frame-Options" not in frame.headers
    page = frame.content.decode()
    assert "1,234 followers" in page and "1,224" not in page
    assert "utm_source=website" in page and "utm_medium=embed" in page
    script = Client().get(f"/embed/{cast.workspace.slug}/follow.js", HTTP_ACCEPT_LANGUAGE="en")
    assert script["Content-Type"].startswith("text/javascript")
    html = json.loads(script.content.decode().split("'beforebegin', ", 1)[1].rsplit("); })();", 1)[0])
    assert "1,234 followers" in html


def test_the_promo_embed_shows_selected_links_through_short_links(cast) -> None:
    link = make_link(cast, title="Mittagstisch", in_promo=True, utm_source="blog", utm_medium="embed")
    page = Client().get(f"/embed/{cast.workspace.slug}/promo/").content.decode()
    assert "Mittagstisch" in page and f"/l/{link.code}" in page
    script = Client().get(f"/embed/{cast.workspace.slug}/promo.js").content.decode()
    assert f"/l/{link.code}" in script
