"""Conversions: the website snippet, the signed server endpoint and attribution."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal

from django.test import Client

from stammtisch.links import conversions, tracking
from stammtisch.links.actions import conversion_secret, settings_for
from stammtisch.links.models import Click, Conversion
from stammtisch.links.tests.helpers import BROWSER_UA, drain, make_link

IP = "203.0.113.5"


def click_on(cast, client: Client | None = None):
    link = make_link(cast)
    response = (client or Client()).get(f"/l/{link.code}", HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR=IP)
    token = response["Location"].split("stm_click=")[1]
    drain()
    return link, Click.objects.get(uid=tracking.click_uid_of(token)), token


def post_signed(cast, body: dict, *, secret: str | None = None, timestamp: str | None = None, signature=None):
    link_settings = settings_for(cast.workspace)
    raw = json.dumps(body).encode()
    timestamp = timestamp or str(int(time.time()))
    secret = conversion_secret(link_settings) if secret is None else secret
    headers = {
        "HTTP_X_STAMMTISCH_TIMESTAMP": timestamp,
        "HTTP_X_STAMMTISCH_SIGNATURE": signature or conversions.sign(secret, timestamp, raw),
    }
    return Client().post(f"/c/{link_settings.site_key}/conversions", raw, content_type="application/json", **headers)


def test_a_signed_purchase_is_attributed_by_its_click_id(cast) -> None:
    link, click, token = click_on(cast)
    response = post_signed(cast, {"kind": "purchase", "value": "23.50", "currency": "eur", "click": token, "id": "o-1"})
    assert response.status_code == 201
    conversion = Conversion.objects.get()
    assert (conversion.kind, conversion.value, conversion.currency) == ("purchase", Decimal("23.50"), "EUR")
    assert conversion.click_id == click.pk and conversion.link_id == link.pk
    assert response.json()["attributed"] is True
    # The website retries: stored once.
    assert post_signed(cast, {"kind": "purchase", "value": "23.50", "currency": "EUR", "id": "o-1"}).status_code == 201
    assert Conversion.objects.count() == 1


def test_a_server_report_is_attributed_by_the_visitors_hash(cast) -> None:
    _link, click, _token = click_on(cast)
    response = post_signed(cast, {"kind": "reservation", "visitor": {"ip": IP, "user_agent": BROWSER_UA}})
    assert response.status_code == 201
    assert Conversion.objects.get().click_id == click.pk


def test_a_bad_signature_gets_403_and_records_nothing(cast, caplog) -> None:
    _link, _click, token = click_on(cast)
    body = {"kind": "purchase", "value": "99.00", "currency": "EUR", "click": token}
    assert post_signed(cast, body, secret="not-the-secret").status_code == 403
    assert post_signed(cast, body, signature="sha256=" + "0" * 64).status_code == 403
    old = str(int(time.time()) - 3600)
    response = post_signed(cast, body, timestamp=old)
    assert response.status_code == 403 and response.json()["error"] == "bad_signature"
    assert Client().post("/c/unknown-key/conversions", b"{}", content_type="application/json").status_code == 403
    assert not Conversion.objects.exists()
    assert "bad or missing signature" in caplog.text


def test_a_bad_body_gets_400(cast) -> None:
    assert post_signed(cast, {"kind": "lottery"}).status_code == 400
    assert post_signed(cast, {"kind": "purchase", "value": "12.345", "currency": "EUR"}).status_code == 400
    assert post_signed(cast, {"kind": "purchase", "value": "12", "currency": ""}).status_code == 400
    assert not Conversion.objects.exists()


def test_the_snippet_reports_a_visit_once_and_a_signup(cast) -> None:
    _link, click, token = click_on(cast)
    site_key = settings_for(cast.workspace).site_key
    script = Client().get(f"/c/{site_key}.js")
    assert script.status_code == 200 and b"stm_click" in script.content
    browser = {"HTTP_USER_AGENT": BROWSER_UA, "REMOTE_ADDR": IP}
    pixel = Client().get(f"/c/{site_key}/hit", {"k": "visit", "c": token}, **browser)
    assert pixel.status_code == 200 and pixel["Content-Type"] == "image/gif"
    Client().get(f"/c/{site_key}/hit", {"k": "visit", "c": token}, **browser)  # a reload: no second visit
    Client().get(f"/c/{site_key}/hit", {"k": "signup"}, **browser)  # a later page without the id: the hash
    kinds = sorted(Conversion.objects.values_list("kind", "click_id"))
    assert kinds == [("signup", click.pk), ("visit", click.pk)]


def test_visits_not_from_a_short_link_and_bots_are_not_stored(cast) -> None:
    site_key = settings_for(cast.workspace).site_key
    Client().get(f"/c/{site_key}/hit", {"k": "visit"}, HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR=IP)
    Client().get(f"/c/{site_key}/hit", {"k": "signup"}, HTTP_USER_AGENT="Googlebot/2.1", REMOTE_ADDR=IP)
    assert not Conversion.objects.exists()


def test_clicks_outside_the_window_are_not_credited(cast) -> None:
    _link, click, _token = click_on(cast)
    Click.objects.filter(pk=click.pk).update(occurred_at=click.occurred_at - dt.timedelta(days=31))
    click.refresh_from_db()
    conversion = conversions.record(cast.workspace, kind="signup", source="server", click=click)
    assert conversion.click_id is None


def test_another_workspaces_click_id_is_ignored(cast) -> None:
    _link, _click, token = click_on(cast)
    conversion = conversions.record(cast.other_workspace, kind="signup", source="server", click_token=token)
    assert conversion.click_id is None
    assert tracking.click_uid_of(token.split(".")[0] + ".forged") is None


def test_a_report_before_the_click_import_is_still_attributed(cast) -> None:
    """The website can report a visit a moment after the redirect, before the worker imported
    the spooled click: the click is imported on the spot."""
    link = make_link(cast)
    response = Client().get(f"/l/{link.code}", HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR=IP)
    token = response["Location"].split("stm_click=")[1]
    assert not Click.objects.exists()
    site_key = settings_for(cast.workspace).site_key
    Client().get(f"/c/{site_key}/hit", {"k": "visit", "c": token}, HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR=IP)
    conversion = Conversion.objects.get()
    assert conversion.click == Click.objects.get(link=link) and conversion.link_id == link.pk
