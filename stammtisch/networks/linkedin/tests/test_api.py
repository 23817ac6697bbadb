"""The small pieces of api.py and the connector that need no scripted API: LinkedIn's little text
format, URNs, the upload-address guard, link titles, and the health page's expiry warnings."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import time_machine

from stammtisch.networks import health
from stammtisch.networks.base import NetworkError
from stammtisch.networks.linkedin import api
from stammtisch.networks.linkedin.connector import article_title
from stammtisch.networks.linkedin.tests.conftest import REFRESH, fixture
from stammtisch.notifications.models import Notification


def test_reserved_characters_are_escaped_but_not_in_urls_or_hashtags() -> None:
    text = "Kuchen (neu) für 3,50 € & mehr: *Zimt*_Schnecke ~ {heute} <3 @Anna #Sonntag # allein \\ https://cafe-koenigsbau.de/karte_(neu)?a=1"
    escaped = api.escape_commentary(text)
    assert escaped == (
        r"Kuchen \(neu\) für 3,50 € & mehr: \*Zimt\*\_Schnecke \~ \{heute\} \<3 \@Anna #Sonntag \# allein \\ "
        "https://cafe-koenigsbau.de/karte_(neu)?a=1"
    )
    assert api.unescape_commentary(escaped) == text


def test_linkedins_templates_and_mentions_read_back_as_plain_text() -> None:
    little = r"Danke @[Café Königsbau](urn:li:organization:2414183) für {hashtag|\#|Kaffee} \(und Kuchen\)"
    assert api.unescape_commentary(little) == "Danke Café Königsbau für #Kaffee (und Kuchen)"


def test_the_fingerprint_ignores_what_linkedin_may_change_but_not_the_words() -> None:
    assert api.text_fingerprint(" Hallo\r\nWelt https://lnkd.in/abc ") == api.text_fingerprint(
        "Hallo\nWelt https://cafe-koenigsbau.de/x"
    )
    assert api.text_fingerprint("Hallo Welt") != api.text_fingerprint("Hallo Welt!")


def test_comment_urns_name_their_thread() -> None:
    assert api.parse_comment_urn("urn:li:comment:(urn:li:activity:6631349431612559360,6636062862760562688)") == (
        "urn:li:activity:6631349431612559360",
        "6636062862760562688",
    )
    assert api.parse_comment_urn("urn:li:share:1") is None
    assert api.enc("urn:li:comment:(urn:li:activity:1,2)") == "urn%3Ali%3Acomment%3A%28urn%3Ali%3Aactivity%3A1%2C2%29"
    assert api.restli_list(["urn:li:share:1", "urn:li:share:2"]) == "List(urn%3Ali%3Ashare%3A1,urn%3Ali%3Ashare%3A2)"


@pytest.mark.parametrize(
    "url",
    [
        "http://www.linkedin.com/dms-uploads/x",
        "https://www.linkedin.com.example.org/x",
        "https://evil-linkedin.com/x",
        "",
        None,
    ],
)
def test_uploads_go_to_linkedin_only(url) -> None:
    with pytest.raises(NetworkError) as caught:
        api.check_upload_url(url)
    assert caught.value.permanent
    assert (
        api.check_upload_url("https://www.linkedin.com/dms-uploads/sp/x") == "https://www.linkedin.com/dms-uploads/sp/x"
    )


def test_a_link_title_comes_from_the_pages_title_tag(api) -> None:  # type: ignore[no-untyped-def]
    page = "<html><head><title>\n  Café Königsbau &#8211; Karte\n</title></head><body>…</body></html>"
    api.on("GET", "/karte", httpx.Response(200, text=page, headers={"Content-Type": "text/html"}))
    api.on("GET", "/menu.pdf", httpx.Response(200, content=b"%PDF", headers={"Content-Type": "application/pdf"}))
    assert article_title("https://cafe-koenigsbau.de/karte") == "Café Königsbau \u2013 Karte"
    assert article_title("https://cafe-koenigsbau.de/menu.pdf") == "cafe-koenigsbau.de"


def test_a_link_to_a_private_address_is_not_fetched(settings, api) -> None:  # type: ignore[no-untyped-def]
    settings.HTTP_ALLOW_PRIVATE = False
    assert article_title("http://127.0.0.1/admin") == "127.0.0.1"
    assert api.requests == []


def test_the_health_job_tries_a_refresh_and_still_warns_before_the_refresh_token_ends(page_channel, api) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime(2026, 11, 27, 10, 10, tzinfo=dt.UTC)
    ends = now + dt.timedelta(days=5)
    page_channel.token_expires_at = ends
    page_channel.credentials = {
        **page_channel.credentials,
        "expires_at": (now + dt.timedelta(hours=5)).isoformat(),
        "refresh_expires_at": ends.isoformat(),
    }
    page_channel.save()
    refreshed = {**fixture("token_refreshed.json"), "refresh_token_expires_in": 5 * 86400}
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(200, json=refreshed))

    with time_machine.travel(now, tick=False):
        sent = health.warn_expiring_tokens(now)

    page_channel.refresh_from_db()
    assert page_channel.credentials["access_token"] == refreshed["access_token"]
    assert page_channel.credentials["refresh_token"] == REFRESH
    assert page_channel.token_expires_at == ends  # refreshing never extends the refresh token
    assert sent == 1 and Notification.objects.filter(workspace=page_channel.workspace).exists()
