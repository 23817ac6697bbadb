"""Connecting LinkedIn: 3-legged OAuth with state, a confidential client, profile or company pages,
reconnect in place."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks.linkedin.tests.conftest import (
    ACCESS,
    CLIENT_ID,
    CLIENT_SECRET,
    MEMBER_URN,
    ORG_URN,
    REDIRECT_URI,
    REFRESH,
    fixture,
)
from stammtisch.networks.models import Channel

MEMBER_SCOPES = "openid profile w_member_social"
PAGES_SCOPES = (
    "openid profile w_member_social r_organization_social w_organization_social rw_organization_admin "
    "r_member_postAnalytics r_member_profileAnalytics"
)


def connect_url(cast) -> str:
    return reverse("linkedin:connect", kwargs={"slug": cast.workspace.slug})


def select_url(cast) -> str:
    return reverse("linkedin:select", kwargs={"slug": cast.workspace.slug})


def channels_url(cast) -> str:
    return reverse("networks:channels", kwargs={"slug": cast.workspace.slug})


def callback_url() -> str:
    return reverse("linkedin:callback")


@pytest.fixture
def happy_api(api):
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(200, json=fixture("token.json")))
    api.on("GET", "/v2/userinfo", httpx.Response(200, json=fixture("userinfo.json")))
    return api


@pytest.fixture
def pages_api(api):
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(200, json=fixture("token_pages.json")))
    api.on("GET", "/v2/userinfo", httpx.Response(200, json=fixture("userinfo.json")))
    api.on(
        "GET",
        "/rest/organizationAcls",
        httpx.Response(200, json=fixture("organization_acls_page1.json")),
        httpx.Response(200, json=fixture("organization_acls_page2.json")),
    )
    api.on("GET", "/rest/organizations/2414183", httpx.Response(200, json=fixture("organization_2414183.json")))
    api.on("GET", "/rest/organizations/90210", httpx.Response(200, json=fixture("organization_90210.json")))
    return api


def start(client, cast, mode: str = "member") -> dict[str, str]:
    response = client.post(connect_url(cast), {"mode": mode})
    assert response.status_code == 302, response.content.decode()[:2000]
    url = urlsplit(response["Location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "www.linkedin.com", "/oauth/v2/authorization")
    return {key: values[0] for key, values in parse_qs(url.query).items()}


def test_it_sends_the_user_to_linkedin_with_state_scopes_and_the_configured_redirect(cast, happy_api) -> None:
    client = english_client(cast.alice)
    page = client.get(connect_url(cast)).content.decode()
    assert "Connect my profile" in page and "Connect company pages" in page

    query = start(client, cast)

    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["response_type"] == "code"
    assert query["scope"] == MEMBER_SCOPES
    assert len(query["state"]) >= 32
    assert "code_challenge" not in query  # LinkedIn's web flow takes no PKCE; the state is checked
    assert start(client, cast, "pages")["scope"] == PAGES_SCOPES
    assert happy_api.requests == []  # nothing is asked of LinkedIn before the user comes back


def test_the_callback_checks_state_exchanges_the_code_and_connects_the_profile(cast, happy_api) -> None:
    client = english_client(cast.adam)
    query = start(client, cast)

    response = client.get(
        callback_url(), {"code": "AQTQmah11lalyH65DAIivsjsAQV5P", "state": query["state"]}, follow=True
    )

    assert "LinkedIn profile “Maria Königsbau” connected." in response.content.decode()
    [token_request] = happy_api.sent("POST", "/oauth/v2/accessToken")
    assert token_request.url == "https://www.linkedin.com/oauth/v2/accessToken"
    form = {k: v[0] for k, v in parse_qs(token_request.content.decode()).items()}
    assert form == {
        "grant_type": "authorization_code",
        "code": "AQTQmah11lalyH65DAIivsjsAQV5P",
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    [me] = happy_api.sent("GET", "/v2/userinfo")
    assert me.url == "https://api.linkedin.com/v2/userinfo"
    assert me.headers["Authorization"] == f"Bearer {ACCESS}"

    channel = Channel.objects.get(network="linkedin")
    assert (channel.workspace, channel.handle, channel.display_name, channel.remote_account_id) == (
        cast.workspace,
        "782bbtaQ",
        "Maria Königsbau",
        MEMBER_URN,
    )
    assert channel.credentials["access_token"] == ACCESS and channel.credentials["refresh_token"] == REFRESH
    expires = dt.datetime.fromisoformat(channel.credentials["expires_at"])
    assert dt.timedelta(days=59, hours=23) < expires - channel.created_at <= dt.timedelta(days=60)
    # Must reconnect by: the refresh token's end (365 days; refreshing never extends it).
    assert channel.token_expires_at is not None
    assert dt.timedelta(days=364, hours=23) < channel.token_expires_at - channel.created_at <= dt.timedelta(days=365)
    assert channel.network_data == {
        "kind": "member",
        "scopes": ["openid", "profile", "w_member_social"],
        "connected_by": "782bbtaQ",
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM networks_channel WHERE id = %s", [channel.pk])
        stored = cursor.fetchone()[0]
        assert ACCESS not in stored and REFRESH not in stored  # encrypted at rest
    page = english_client(cast.alice).get(channels_url(cast)).content.decode()
    assert "Maria Königsbau" in page and ACCESS not in page
    event = AuditEvent.objects.get(action="channel.connect")
    assert ACCESS not in str(event.data) and event.actor == cast.adam

    again = client.get(callback_url(), {"code": "abc", "state": query["state"]})
    assert again.status_code == 400  # the state is used up
    assert len(happy_api.sent("POST", "/oauth/v2/accessToken")) == 1


def test_without_refresh_tokens_the_access_tokens_end_is_the_reconnect_deadline(cast, api) -> None:
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(200, json=fixture("token_without_refresh.json")))
    api.on("GET", "/v2/userinfo", httpx.Response(200, json=fixture("userinfo.json")))
    client = english_client(cast.alice)
    client.get(callback_url(), {"code": "abc", "state": start(client, cast)["state"]})

    channel = Channel.objects.get(network="linkedin")
    assert "refresh_token" not in channel.credentials or not channel.credentials["refresh_token"]
    assert channel.token_expires_at is not None
    assert dt.timedelta(days=59, hours=23) < channel.token_expires_at - channel.created_at <= dt.timedelta(days=60)


def test_a_wrong_foreign_or_expired_state_is_refused(cast, happy_api) -> None:
    query = start(english_client(cast.alice), cast)
    wrong = english_client(cast.alice).get(callback_url(), {"code": "abc", "state": "forged"})
    assert wrong.status_code == 400
    assert "does not belong to a connection you started here" in wrong.content.decode()
    foreign = english_client(cast.charlie).get(callback_url(), {"code": "abc", "state": query["state"]})
    assert foreign.status_code == 400

    client = english_client(cast.alice)
    query = start(client, cast)
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=16)):
        expired = client.get(callback_url(), {"code": "abc", "state": query["state"]})
    assert expired.status_code == 400
    assert happy_api.sent("POST", "/oauth/v2/accessToken") == []
    assert not Channel.objects.filter(network="linkedin").exists()


def test_cancelling_on_linkedin_connects_nothing_and_says_so(cast, happy_api) -> None:
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(
        callback_url(),
        {
            "error": "user_cancelled_login",
            "error_description": "The user cancelled LinkedIn login",
            "state": query["state"],
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == channels_url(cast)
    assert "the sign-in was cancelled on LinkedIn" in response.content.decode()
    assert happy_api.requests == []
    assert not Channel.objects.filter(network="linkedin").exists()


def test_an_app_without_the_pages_product_gets_a_clear_message(cast, happy_api) -> None:
    client = english_client(cast.alice)
    query = start(client, cast, "pages")
    response = client.get(
        callback_url(),
        {
            "error": "unauthorized_scope_error",
            "error_description": "Scope r_organization_social is not authorized",
            "state": query["state"],
        },
        follow=True,
    )
    assert "Community Management API" in response.content.decode()
    assert not Channel.objects.filter(network="linkedin").exists()


def test_a_rejected_code_is_explained_and_connects_nothing(cast, api) -> None:
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(400, json=fixture("token_invalid_request.json")))
    client = english_client(cast.alice)
    response = client.get(callback_url(), {"code": "used", "state": start(client, cast)["state"]}, follow=True)
    page = response.content.decode()
    assert "LinkedIn could not be connected" in page and "authorization code expired" in page
    assert response.redirect_chain[-1][0] == connect_url(cast)
    assert not Channel.objects.filter(network="linkedin").exists()


def test_a_rejected_client_secret_is_a_server_problem(cast, api) -> None:
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(401, json=fixture("token_invalid_client.json")))
    client = english_client(cast.alice)
    response = client.get(callback_url(), {"code": "abc", "state": start(client, cast)["state"]}, follow=True)
    assert "client id or secret was rejected" in response.content.decode()


def test_pages_flow_lists_administered_pages_and_connects_the_chosen_ones(cast, pages_api) -> None:
    client = english_client(cast.alice)
    query = start(client, cast, "pages")

    response = client.get(callback_url(), {"code": "abc", "state": query["state"]})

    assert response.status_code == 302 and response["Location"] == select_url(cast)
    acl_requests = pages_api.sent("GET", "/rest/organizationAcls")
    assert [dict(r.url.params)["start"] for r in acl_requests] == ["0", "2"]  # paged
    assert acl_requests[0].headers["LinkedIn-Version"] == "202606"
    assert acl_requests[0].headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert pages_api.sent("GET", "/rest/organizations/5515715") == []  # an analyst cannot post
    page = client.get(select_url(cast)).content.decode()
    assert "Signed in on LinkedIn as Maria Königsbau." in page
    assert "Café Königsbau" in page and "Konditorei am Schlossplatz" in page
    assert "content admin of this page" in page  # the CONTENT_ADMINISTRATOR page
    assert ACCESS not in page
    assert not Channel.objects.filter(network="linkedin").exists()  # nothing before the choice

    response = client.post(select_url(cast), {"account": ["member", "organization:2414183"]}, follow=True)

    assert "Connected: Maria Königsbau, Café Königsbau." in response.content.decode()
    member = Channel.objects.get(network="linkedin", remote_account_id=MEMBER_URN)
    org = Channel.objects.get(network="linkedin", remote_account_id=ORG_URN)
    assert (org.handle, org.display_name) == ("cafe-koenigsbau", "Café Königsbau")
    assert org.network_data["kind"] == "organization" and org.network_data["role"] == "ADMINISTRATOR"
    assert "w_organization_social" in org.network_data["scopes"]
    assert org.credentials["access_token"] == member.credentials["access_token"] == ACCESS
    assert not Channel.objects.filter(remote_account_id="urn:li:organization:90210").exists()
    # The choice is used up.
    assert client.get(select_url(cast)).status_code == 302


def test_the_choice_must_be_one_of_the_listed_accounts(cast, pages_api) -> None:
    client = english_client(cast.alice)
    client.get(callback_url(), {"code": "abc", "state": start(client, cast, "pages")["state"]})
    for chosen in ([], ["organization:5515715"], ["organization:2414183", "organization:1"]):
        response = client.post(select_url(cast), {"account": chosen})
        assert response.status_code == 400
    assert not Channel.objects.filter(network="linkedin").exists()
    assert english_client(cast.bob).post(select_url(cast), {"account": ["member"]}).status_code == 403


def test_the_choice_expires(cast, pages_api) -> None:
    client = english_client(cast.alice)
    client.get(callback_url(), {"code": "abc", "state": start(client, cast, "pages")["state"]})
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=31)):
        response = client.post(select_url(cast), {"account": ["member"]}, follow=True)
    assert "Please sign in with LinkedIn first" in response.content.decode()
    assert not Channel.objects.filter(network="linkedin").exists()


def test_reconnecting_keeps_the_row_and_its_refresh_token(cast, api) -> None:
    channel = Channel.objects.create(
        workspace=cast.workspace,
        network="linkedin",
        handle="old-handle",
        display_name="Old name",
        remote_account_id=MEMBER_URN,
        credentials={"access_token": "revoked", "refresh_token": "old-refresh"},
        health=Channel.Health.NEEDS_RECONNECT,
    )
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(200, json=fixture("token_without_refresh.json")))
    api.on("GET", "/v2/userinfo", httpx.Response(200, json=fixture("userinfo.json")))
    client = english_client(cast.alice)
    client.get(callback_url(), {"code": "abc", "state": start(client, cast)["state"]})

    channel.refresh_from_db()
    assert Channel.objects.filter(network="linkedin").count() == 1
    assert channel.handle == "782bbtaQ" and channel.health == Channel.Health.OK
    assert (channel.credentials["access_token"], channel.credentials["refresh_token"]) == (ACCESS, "old-refresh")
    assert AuditEvent.objects.filter(action="channel.reconnect").count() == 1


def test_editors_cannot_connect_and_outsiders_get_404(cast) -> None:
    assert english_client(cast.bob).get(connect_url(cast)).status_code == 403
    assert english_client(cast.charlie).get(connect_url(cast)).status_code == 404
    assert english_client(cast.charlie).get(select_url(cast)).status_code == 404


def test_a_switched_off_linkedin_redirects_with_a_message(cast, settings) -> None:
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "linkedin": False}
    response = english_client(cast.alice).post(connect_url(cast), {"mode": "member"}, follow=True)
    assert "LinkedIn is switched off on this server." in response.content.decode()
    assert response.redirect_chain[-1][0] == channels_url(cast)


def test_the_channels_page_offers_linkedin_only_when_switched_on(cast, settings) -> None:
    assert f'href="{connect_url(cast)}"' in english_client(cast.alice).get(channels_url(cast)).content.decode()
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "linkedin": False}
    assert connect_url(cast) not in english_client(cast.alice).get(channels_url(cast)).content.decode()


def test_an_answer_without_a_code_or_after_switching_off_connects_nothing(cast, happy_api, settings) -> None:
    client = english_client(cast.alice)
    response = client.get(callback_url(), {"state": start(client, cast)["state"]})
    assert response.status_code == 400
    assert "LinkedIn was not connected" in response.content.decode()
    assert "LinkedIn sent no authorization code. Please start again." in response.content.decode()

    query = start(client, cast)
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "linkedin": False}
    response = client.get(callback_url(), {"code": "abc", "state": query["state"]}, follow=True)
    assert "LinkedIn is switched off on this server." in response.content.decode()
    assert response.redirect_chain[-1][0] == channels_url(cast)
    assert happy_api.requests == []


def test_another_error_from_linkedin_is_named(cast, happy_api) -> None:
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(callback_url(), {"error": "server_error", "state": query["state"]}, follow=True)
    assert "LinkedIn was not connected: LinkedIn answered “server_error”." in response.content.decode()
    assert response.redirect_chain[-1][0] == channels_url(cast)
