"""Connecting an X account: OAuth 2.0 with PKCE and state, a confidential client, reconnect in place."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks.models import Channel
from stammtisch.networks.x.tests.conftest import ACCESS, CLIENT_ID, CLIENT_SECRET, REFRESH, USER_ID, fixture


def connect_url(cast) -> str:
    return reverse("x:connect", kwargs={"slug": cast.workspace.slug})


def callback_url() -> str:
    return reverse("x:callback")


@pytest.fixture
def happy_api(api):
    api.on("POST", "/2/oauth2/token", httpx.Response(200, json=fixture("token.json")))
    api.on("GET", "/2/users/me", httpx.Response(200, json=fixture("users_me.json")))
    return api


def start(client, cast) -> dict[str, str]:
    response = client.post(connect_url(cast))
    assert response.status_code == 302, response.content.decode()[:2000]
    url = urlsplit(response["Location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "x.com", "/i/oauth2/authorize")
    return {key: values[0] for key, values in parse_qs(url.query).items()}


def test_it_sends_the_user_to_x_with_pkce_state_and_the_configured_redirect(cast, happy_api, settings) -> None:
    client = english_client(cast.alice)
    assert "Continue to X" in client.get(connect_url(cast)).content.decode()

    query = start(client, cast)

    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "https://stammtisch.example/x/callback/"
    assert (
        query["scope"] == "tweet.read tweet.write users.read offline.access media.write like.write tweet.moderate.write"
    )
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32 and len(query["code_challenge"]) == 43
    assert happy_api.requests == []  # nothing is asked of X before the user comes back


def test_the_callback_checks_state_sends_the_verifier_with_basic_auth_and_stores_tokens(cast, happy_api) -> None:
    client = english_client(cast.adam)
    query = start(client, cast)

    response = client.get(
        callback_url(),
        {"code": "VGNibzFWSWREZm01bjN1N3dicWlNUG1oa2xRRVNNdmVHelJGY2hFSjFGSUJYOjE2", "state": query["state"]},
        follow=True,
    )

    assert "X account “@cafekoenigsbau” connected." in response.content.decode()
    [token_request] = happy_api.sent("POST", "/2/oauth2/token")
    assert token_request.url == "https://api.x.com/2/oauth2/token"
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    form = {k: v[0] for k, v in parse_qs(token_request.content.decode()).items()}
    assert form["grant_type"] == "authorization_code"
    assert form["redirect_uri"] == "https://stammtisch.example/x/callback/"
    assert "client_secret" not in form  # only in the Authorization header
    challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=").decode()
    assert challenge == query["code_challenge"]
    [me_request] = happy_api.sent("GET", "/2/users/me")
    assert me_request.headers["Authorization"] == f"Bearer {ACCESS}"

    channel = Channel.objects.get(network="x")
    assert (channel.workspace, channel.handle, channel.display_name, channel.remote_account_id) == (
        cast.workspace,
        "cafekoenigsbau",
        "Café Königsbau",
        USER_ID,
    )
    expires = dt.datetime.fromisoformat(channel.credentials["expires_at"])
    assert channel.credentials == {"access_token": ACCESS, "refresh_token": REFRESH, "expires_at": expires.isoformat()}
    assert dt.timedelta(minutes=119) < expires - channel.created_at <= dt.timedelta(hours=2)
    assert channel.token_expires_at is None  # refreshable: the user never has to reconnect in time
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM networks_channel WHERE id = %s", [channel.pk])
        stored = cursor.fetchone()[0]
        assert ACCESS not in stored and REFRESH not in stored  # encrypted at rest
    page = client.get(reverse("networks:channels", kwargs={"slug": cast.workspace.slug})).content.decode()
    assert "cafekoenigsbau" in page and ACCESS not in page
    event = AuditEvent.objects.get(action="channel.connect")
    assert ACCESS not in str(event.data) and event.actor == cast.adam

    again = client.get(callback_url(), {"code": "abc", "state": query["state"]})
    assert again.status_code == 400  # the state is used up
    assert len(happy_api.sent("POST", "/2/oauth2/token")) == 1


def test_a_wrong_foreign_or_stale_state_is_refused(cast, happy_api) -> None:
    query = start(english_client(cast.alice), cast)
    wrong = english_client(cast.alice).get(callback_url(), {"code": "abc", "state": "forged"})
    assert wrong.status_code == 400
    assert "does not belong to a connection you started here" in wrong.content.decode()
    foreign = english_client(cast.charlie).get(callback_url(), {"code": "abc", "state": query["state"]})
    assert foreign.status_code == 400

    client = english_client(cast.alice)
    query = start(client, cast)
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=16)):
        assert client.get(callback_url(), {"code": "abc", "state": query["state"]}).status_code == 400
    assert happy_api.sent("POST", "/2/oauth2/token") == []
    assert not Channel.objects.filter(network="x").exists()


def test_declining_on_x_connects_nothing(cast, happy_api) -> None:
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(callback_url(), {"error": "access_denied", "state": query["state"]}, follow=True)
    assert "permission was not granted" in response.content.decode()
    assert not Channel.objects.filter(network="x").exists()


def test_a_rejected_code_is_explained_and_connects_nothing(cast, api) -> None:
    api.on("POST", "/2/oauth2/token", httpx.Response(400, json=fixture("token_invalid_request.json")))
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(callback_url(), {"code": "used", "state": query["state"]}, follow=True)
    assert "X could not be connected" in response.content.decode()
    assert "Value passed for the token was invalid." in response.content.decode()
    assert not Channel.objects.filter(network="x").exists()


def test_reconnecting_keeps_the_row_even_after_a_rename(cast, happy_api) -> None:
    channel = Channel.objects.create(
        workspace=cast.workspace,
        network="x",
        handle="old_name",
        display_name="Old name",
        remote_account_id=USER_ID,
        credentials={"access_token": "revoked", "refresh_token": "old-refresh"},
        health=Channel.Health.NEEDS_RECONNECT,
    )
    client = english_client(cast.alice)
    query = start(client, cast)
    client.get(callback_url(), {"code": "abc", "state": query["state"]})

    channel.refresh_from_db()
    assert Channel.objects.filter(network="x").count() == 1
    assert channel.handle == "cafekoenigsbau" and channel.health == Channel.Health.OK
    assert (channel.credentials["access_token"], channel.credentials["refresh_token"]) == (ACCESS, REFRESH)
    assert AuditEvent.objects.filter(action="channel.reconnect").count() == 1


def test_editors_cannot_connect_and_outsiders_get_404(cast) -> None:
    assert english_client(cast.bob).get(connect_url(cast)).status_code == 403
    assert english_client(cast.charlie).get(connect_url(cast)).status_code == 404


def test_a_switched_off_x_redirects_with_a_message(cast, settings) -> None:
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "x": False}
    response = english_client(cast.alice).post(connect_url(cast), follow=True)
    assert "X is switched off on this server." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("networks:channels", kwargs={"slug": cast.workspace.slug})


def test_the_channels_page_offers_x_only_when_switched_on(cast, settings) -> None:
    page = reverse("networks:channels", kwargs={"slug": cast.workspace.slug})
    assert f'href="{connect_url(cast)}"' in english_client(cast.alice).get(page).content.decode()
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "x": False}
    assert connect_url(cast) not in english_client(cast.alice).get(page).content.decode()


def test_an_answer_without_a_code_or_after_switching_off_connects_nothing(cast, happy_api, settings) -> None:
    client = english_client(cast.alice)
    response = client.get(callback_url(), {"state": start(client, cast)["state"]})
    assert response.status_code == 400
    assert "X was not connected" in response.content.decode()
    assert "X sent no authorization code. Please start again." in response.content.decode()

    query = start(client, cast)
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "x": False}
    response = client.get(callback_url(), {"code": "abc", "state": query["state"]}, follow=True)
    assert "X is switched off on this server." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("networks:channels", kwargs={"slug": cast.workspace.slug})
    assert happy_api.requests == []
