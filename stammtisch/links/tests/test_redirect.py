"""The redirector: a 302 to the stored target only, every click stored, no IP address kept."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from stammtisch.links import tracking
from stammtisch.links.models import Click, DailySalt
from stammtisch.links.tests.helpers import BROWSER_UA, drain, make_link

IP = "203.0.113.77"


def visit(client: Client, url: str, ua: str = BROWSER_UA, **extra):
    return client.get(url, HTTP_USER_AGENT=ua, REMOTE_ADDR=IP, HTTP_ACCEPT_LANGUAGE="en", **extra)


def test_it_redirects_to_the_target_with_utm_and_a_click_id(cast) -> None:
    link = make_link(cast, utm_source="flyer", utm_medium="print", utm_campaign="sommer")
    response = visit(Client(), f"/l/{link.code}", HTTP_REFERER="https://www.instagram.com/p/abc?x=1")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "cafe-koenigsbau.example", "/karte")
    query = parse_qs(target.query)
    assert query["utm_source"] == ["flyer"] and query["utm_medium"] == ["print"] and query["utm_campaign"] == ["sommer"]
    assert not Click.objects.exists()  # spooled, not yet imported
    assert drain() == 1
    click = Click.objects.get()
    assert tracking.click_uid_of(query["stm_click"][0]) == click.uid
    assert response["Cache-Control"] == "no-store"


def test_a_click_keeps_a_hash_and_no_ip_address(cast) -> None:
    link = make_link(cast)
    visit(Client(), f"/l/{link.code}", HTTP_REFERER="https://www.instagram.com/p/abc?x=1")
    drain()
    click = Click.objects.get()
    assert len(click.visitor_hash) == 64 and int(click.visitor_hash, 16) >= 0
    assert click.referrer_domain == "instagram.com"  # the domain only, no path or query
    assert click.device == "mobile" and not click.is_bot and not click.via_qr
    stored = [str(getattr(click, field.attname)) for field in Click._meta.concrete_fields]
    assert not any(IP in value or "iPhone" in value for value in stored)
    # The same person on the same day gives the same hash; another address another one.
    visit(Client(), f"/l/{link.code}")
    Client().get(f"/l/{link.code}", HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="198.51.100.1")
    drain()
    first, second, third = Click.objects.order_by("pk")
    assert first.visitor_hash == second.visitor_hash != third.visitor_hash


def test_the_salt_rotates_daily_and_old_salts_are_deleted(cast) -> None:
    tracking.forget_salt()
    today = timezone.now().date()
    yesterday = today - dt.timedelta(days=1)
    old = tracking.visitor_hash(cast.workspace.pk, IP, BROWSER_UA, today=yesterday)
    tracking.forget_salt()
    new = tracking.visitor_hash(cast.workspace.pk, IP, BROWSER_UA, today=today)
    assert old != new
    assert list(DailySalt.objects.values_list("day", flat=True)) == [today]


def test_request_parameters_never_change_where_it_goes(cast) -> None:
    link = make_link(cast)
    response = visit(Client(), f"/l/{link.code}?next=https://evil.example/&url=javascript:alert(1)")
    assert urlsplit(response["Location"]).netloc == "cafe-koenigsbau.example"
    assert "evil" not in response["Location"] and "javascript" not in response["Location"]


def test_qr_scans_and_bots_are_marked(cast) -> None:
    link = make_link(cast)
    visit(Client(), f"/l/{link.code}?qr=1")
    visit(Client(), f"/l/{link.code}", ua="facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)")
    visit(Client(), f"/l/{link.code}", ua="")
    Client().head(f"/l/{link.code}", HTTP_USER_AGENT=BROWSER_UA)
    drain()
    rows = list(Click.objects.order_by("pk").values_list("via_qr", "is_bot", "device"))
    assert rows == [(True, False, "mobile"), (False, True, "bot"), (False, True, "bot"), (False, True, "bot")]


@pytest.mark.parametrize(
    ("ua", "device"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "desktop"),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15", "tablet"),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "tablet"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        ("python-httpx/0.28.1", "bot"),
    ],
)
def test_device_classes(ua: str, device: str) -> None:
    assert tracking.device_class(ua) == device


def test_unknown_and_expired_codes_get_a_friendly_404(cast) -> None:
    response = visit(Client(), "/l/nosuchcode")
    assert response.status_code == 404
    assert b"This link does not exist" in response.content
    link = make_link(cast, expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = visit(Client(), f"/l/{link.code}")
    assert response.status_code == 404 and b"This link does not exist" in response.content
    assert visit(Client(), "/l/" + "x" * 40).status_code == 404
    assert drain() == 0 and not Click.objects.exists()


def test_an_edited_target_keeps_the_code(cast) -> None:
    from stammtisch.core.actions import Actor
    from stammtisch.links.actions import do_update_link

    link = make_link(cast)
    code = link.code
    visit(Client(), f"/l/{code}")  # cached now
    do_update_link(Actor.system("test"), link, target="https://cafe-koenigsbau.example/sommer")
    link.refresh_from_db()
    assert link.code == code
    assert urlsplit(visit(Client(), f"/l/{code}")["Location"]).path == "/sommer"


def test_without_click_ids_the_target_is_unchanged(cast) -> None:
    from stammtisch.core.actions import Actor
    from stammtisch.links.actions import do_update_link_settings

    do_update_link_settings(Actor.system("test"), cast.workspace, append_click_id=False)
    link = make_link(cast)
    assert visit(Client(), f"/l/{link.code}")["Location"] == "https://cafe-koenigsbau.example/karte"


def test_the_click_id_goes_before_a_fragment_and_unicode_is_encoded(cast) -> None:
    link = make_link(cast, target="https://café.example/karte?tag=1#mittag")
    location = visit(Client(), f"/l/{link.code}")["Location"]
    assert location.startswith("https://caf%C3%A9.example/karte?tag=1&stm_click=")
    assert location.endswith("#mittag")
