"""Connecting a Bluesky account by AT Protocol OAuth: PAR with PKCE, state and DPoP, the
callback's checks (state, iss, sub, the issuer's authority), the token exchange and what is
stored; every failure leads back to the channel page and connects nothing."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks.bluesky.tests.oauth.conftest import (
    AS_NONCE,
    CLIENT_ID,
    CLIENT_KEY,
    DID,
    HANDLE,
    ISSUER,
    OTHER_DID,
    PDS,
    PDS_NONCE,
    REDIRECT_URI,
    World,
    ath,
    authorization_server,
    dpop_of,
    fixture,
    form_of,
    identity_routes,
    json_answer,
    resource_server,
    thumbprint,
    verified,
)
from stammtisch.networks.models import Channel, OutboundPost

PAR = "https://bsky.social/oauth/par"
TOKEN = "https://bsky.social/oauth/token"
AUTHORIZE = "https://bsky.social/oauth/authorize"
PROFILE = f"{PDS}/xrpc/app.bsky.actor.getProfile"
CODE = "cod-3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a"


def connect_url(cast: Any) -> str:
    return reverse("bluesky:connect", kwargs={"slug": cast.workspace.slug})


def start_url(cast: Any) -> str:
    return reverse("bluesky:oauth_start", kwargs={"slug": cast.workspace.slug})


def callback_path() -> str:
    return reverse("bluesky:oauth_callback")


def channels_url(cast: Any) -> str:
    return reverse("networks:channels", kwargs={"slug": cast.workspace.slug})


def with_token(body: dict[str, Any]) -> Any:
    return authorization_server(json_answer(200, body))


@pytest.fixture
def bluesky(world: World) -> World:
    """The account's servers as they are, agreeing to everything."""
    identity_routes(world)
    world.on("POST", PAR, authorization_server(json_answer(201, fixture("par.json"))))
    world.on("POST", TOKEN, with_token(fixture("token.json")))
    world.on("GET", PROFILE, resource_server(json_answer(200, fixture("getProfile.json"))))
    return world


def start(client: Any, cast: Any, world: World, account: str = HANDLE) -> str:
    """Press "Continue to Bluesky"; returns the `state` of the pushed request."""
    response = client.post(start_url(cast), {"account": account})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"].startswith(f"{AUTHORIZE}?")
    return form_of(world.sent("POST", PAR)[-1])["state"]


def come_back(client: Any, state: str, **params: str) -> Any:
    query = {"state": state, "iss": ISSUER, "code": CODE, **params}
    return client.get(callback_path(), {k: v for k, v in query.items() if v is not None}, follow=True)


def check_assertion(assertion: str) -> dict[str, Any]:
    header, claims = verified(assertion, CLIENT_KEY.public_key())
    public = json.loads(Client().get("/bluesky/oauth/jwks.json").content)
    assert header["kid"] == thumbprint(public["keys"][0])
    assert (claims["iss"], claims["sub"], claims["aud"]) == (CLIENT_ID, CLIENT_ID, ISSUER)
    assert claims["exp"] - claims["iat"] == 60 and abs(claims["iat"] - timezone.now().timestamp()) < 5
    assert len(claims["jti"]) >= 16
    return claims


def test_starting_pushes_the_request_with_pkce_state_dpop_and_a_client_assertion(cast, bluesky) -> None:
    client = english_client(cast.alice)

    response = client.post(start_url(cast), {"account": "@Cafe-Koenigsbau.bsky.social"})

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == AUTHORIZE
    assert parse_qs(location.query) == {"client_id": [CLIENT_ID], "request_uri": [fixture("par.json")["request_uri"]]}
    first, second = bluesky.sent("POST", PAR)  # the first without a nonce, refused: use_dpop_nonce
    form = form_of(second)
    assert {k: v for k, v in form.items() if k not in ("state", "code_challenge", "client_assertion")} == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "atproto transition:generic",
        "code_challenge_method": "S256",
        "login_hint": HANDLE,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    assert len(form["state"]) >= 32 and len(form["code_challenge"]) == 43
    check_assertion(form["client_assertion"])
    (header1, claims1), (header2, claims2) = dpop_of(first), dpop_of(second)
    assert header1["jwk"] == header2["jwk"] and "d" not in header1["jwk"]
    assert "nonce" not in claims1 and claims2["nonce"] == AS_NONCE
    assert (claims2["htm"], claims2["htu"]) == ("POST", PAR) and "ath" not in claims2
    stored = json.dumps(dict(client.session))
    assert form["state"] in stored and header1["jwk"]["x"] not in stored  # the DPoP key only encrypted
    assert not Channel.objects.filter(network="bluesky").exists()


def test_the_callback_exchanges_the_code_checks_the_account_and_stores_the_channel(cast, bluesky) -> None:
    client = english_client(cast.adam)
    state = start(client, cast, bluesky)
    par = form_of(bluesky.sent("POST", PAR)[-1])
    par_key = dpop_of(bluesky.sent("POST", PAR)[-1])[0]["jwk"]

    response = come_back(client, state)

    assert response.redirect_chain[-1][0] == channels_url(cast)
    assert "Bluesky account “Café Königsbau” connected." in response.content.decode()
    [token_request] = bluesky.sent("POST", TOKEN)  # the nonce learned at PAR: no second try
    form = form_of(token_request)
    assert (form["grant_type"], form["code"], form["redirect_uri"], form["client_id"]) == (
        "authorization_code",
        CODE,
        REDIRECT_URI,
        CLIENT_ID,
    )
    challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=").decode()
    assert challenge == par["code_challenge"]
    check_assertion(form["client_assertion"])
    header, claims = dpop_of(token_request)
    assert header["jwk"] == par_key  # the same DPoP key from PAR on
    assert (claims["htm"], claims["htu"], claims["nonce"]) == ("POST", TOKEN, AS_NONCE)
    # After the token: the DID's PDS is asked again which server speaks for it.
    assert len(bluesky.sent("GET", f"https://plc.directory/{DID}")) == 2
    assert len(bluesky.sent("GET", f"{PDS}/.well-known/oauth-protected-resource")) == 2
    token = fixture("token.json")
    profile_request = bluesky.sent("GET", PROFILE)[-1]
    assert profile_request.headers["Authorization"] == f"DPoP {token['access_token']}"
    assert dpop_of(profile_request)[1]["ath"] == ath(token["access_token"])

    channel = Channel.objects.get(network="bluesky")
    assert (channel.workspace, channel.handle, channel.remote_account_id, channel.display_name) == (
        cast.workspace,
        HANDLE,
        DID,
        "Café Königsbau",
    )
    assert channel.avatar_url.startswith("https://cdn.bsky.app/")
    credentials = channel.credentials
    assert (credentials["auth"], credentials["access_token"], credentials["refresh_token"]) == (
        "oauth",
        token["access_token"],
        token["refresh_token"],
    )
    assert thumbprint(credentials["dpop_jwk"]) == thumbprint(par_key) and credentials["dpop_jwk"]["d"]
    assert (credentials["dpop_nonce_as"], credentials["dpop_nonce_pds"]) == (AS_NONCE, PDS_NONCE)
    expires = dt.datetime.fromisoformat(credentials["expires_at"])
    assert dt.timedelta(minutes=59) < expires - timezone.now() <= dt.timedelta(hours=1)
    assert channel.network_data["pds"] == PDS and channel.network_data["issuer"] == ISSUER
    assert channel.network_data["scope"] == "atproto transition:generic"
    assert dt.timedelta(days=29) < channel.token_expires_at - timezone.now() <= dt.timedelta(days=30)
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM networks_channel WHERE id = %s", [channel.pk])
        raw = str(cursor.fetchone()[0])
    assert (
        token["access_token"] not in raw
        and token["refresh_token"] not in raw
        and credentials["dpop_jwk"]["d"] not in raw
    )
    event = AuditEvent.objects.get(action="channel.connect")
    assert event.actor == cast.adam and token["access_token"] not in str(event.data)

    again = client.get(callback_path(), {"state": state, "iss": ISSUER, "code": CODE})
    assert again.status_code == 400  # the state is used up
    assert len(bluesky.sent("POST", TOKEN)) == 1


def test_reconnecting_an_app_password_channel_by_oauth_keeps_its_row_and_history(
    cast, bluesky, bluesky_channel
) -> None:
    bluesky_channel.handle = "old-name.bsky.social"
    bluesky_channel.network_data = {"pds": "https://bsky.social", "refresh_expires_at": "2027-01-01T00:00:00+00:00"}
    bluesky_channel.health = Channel.Health.NEEDS_RECONNECT
    bluesky_channel.save()
    OutboundPost.objects.create(channel=bluesky_channel, idempotency_key="delivery-1", text_sha256="0" * 64)
    client = english_client(cast.alice)

    come_back(client, start(client, cast, bluesky))

    channel = Channel.objects.get(network="bluesky")
    assert channel.pk == bluesky_channel.pk and channel.handle == HANDLE
    assert channel.health == Channel.Health.OK
    assert OutboundPost.objects.filter(channel=channel).count() == 1
    assert "access_jwt" not in channel.credentials and "refresh_jwt" not in channel.credentials
    assert channel.credentials["auth"] == "oauth"
    assert "refresh_expires_at" not in channel.network_data and channel.network_data["pds"] == PDS
    assert AuditEvent.objects.filter(action="channel.reconnect").count() == 1


def test_a_handle_that_resolves_nowhere_stays_on_the_form(cast, world) -> None:
    world.on(
        "GET",
        "https://bsky.social/xrpc/com.atproto.identity.resolveHandle",
        json_answer(400, fixture("error_resolve_handle.json")),
    )

    response = english_client(cast.alice).post(start_url(cast), {"account": "nobody.bsky.social"})

    assert response.status_code == 200
    assert "does not belong to any Bluesky account" in response.content.decode()
    assert world.sent("POST", PAR) == []


def test_a_refused_request_is_explained_on_the_form(cast, bluesky) -> None:
    bluesky.on(
        "POST",
        PAR,
        authorization_server(
            json_answer(400, {"error": "invalid_client", "error_description": "Client metadata not reachable"})
        ),
    )

    client = english_client(cast.alice)
    response = client.post(start_url(cast), {"account": HANDLE})

    assert response.status_code == 200
    assert "Bluesky could not start the sign-in" in response.content.decode()
    assert "Client metadata not reachable" in response.content.decode()
    assert client.session.get("bluesky_oauth") == {}  # the flow is forgotten


def test_a_foreign_state_goes_back_to_the_channel_page_and_connects_nothing(cast, bluesky) -> None:
    client = english_client(cast.alice)
    start(client, cast, bluesky)

    response = come_back(client, "forged-state")

    assert response.redirect_chain[-1][0] == channels_url(cast)
    assert "does not belong to a connection you started here" in response.content.decode()
    assert bluesky.sent("POST", TOKEN) == []

    stranger = come_back(english_client(cast.charlie), form_of(bluesky.sent("POST", PAR)[-1])["state"])
    assert stranger.status_code == 400  # nothing pending in charlie's session: no channel page to go to
    assert "does not belong to a connection you started here" in stranger.content.decode()
    assert not Channel.objects.filter(network="bluesky").exists()


def test_an_expired_state_goes_back_to_the_channel_page(cast, bluesky) -> None:
    client = english_client(cast.alice)
    state = start(client, cast, bluesky)

    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        response = come_back(client, state)

    assert response.redirect_chain[-1][0] == channels_url(cast)
    assert "The sign-in on Bluesky took too long" in response.content.decode()
    assert bluesky.sent("POST", TOKEN) == []


@pytest.mark.parametrize("iss", [ISSUER, None])
def test_denied_consent_goes_back_with_a_clear_message(cast, bluesky, iss) -> None:
    client = english_client(cast.alice)
    state = start(client, cast, bluesky)

    response = come_back(client, state, code=None, iss=iss, error="access_denied", error_description="Access denied")

    assert response.redirect_chain[-1][0] == channels_url(cast)
    assert "Bluesky was not connected: access was not granted on Bluesky." in response.content.decode()
    assert bluesky.sent("POST", TOKEN) == [] and not Channel.objects.filter(network="bluesky").exists()


@pytest.mark.parametrize("iss", ["https://evil.example", None])
def test_an_answer_from_another_issuer_is_refused(cast, bluesky, iss) -> None:
    client = english_client(cast.alice)
    state = start(client, cast, bluesky)

    response = come_back(client, state, iss=iss)

    assert response.redirect_chain[-1][0] == channels_url(cast)
    assert "did not come from the server Stammtisch asked" in response.content.decode()
    assert bluesky.sent("POST", TOKEN) == [] and not Channel.objects.filter(network="bluesky").exists()


def test_a_token_for_another_account_is_refused(cast, bluesky) -> None:
    bluesky.on("POST", TOKEN, with_token({**fixture("token.json"), "sub": OTHER_DID}))
    client = english_client(cast.alice)

    response = come_back(client, start(client, cast, bluesky))

    assert "Bluesky signed in another account (did:plc:annaschmidt7stuttgartxyz)" in response.content.decode()
    assert not Channel.objects.filter(network="bluesky").exists()


def test_an_issuer_that_does_not_speak_for_the_account_is_refused(cast, bluesky) -> None:
    """Started from a server address, so the account is only known from the token's `sub`: a
    server that is not the account's authorization server must not connect it."""
    evil = {
        **fixture("authorization_server.json"),
        "issuer": "https://evil.example",
        "pushed_authorization_request_endpoint": "https://evil.example/oauth/par",
        "authorization_endpoint": "https://evil.example/oauth/authorize",
        "token_endpoint": "https://evil.example/oauth/token",
    }
    bluesky.on("GET", "https://evil.example/.well-known/oauth-authorization-server", json_answer(200, evil))
    bluesky.on("POST", "https://evil.example/oauth/par", json_answer(201, fixture("par.json")))
    bluesky.on("POST", "https://evil.example/oauth/token", json_answer(200, fixture("token.json")))
    client = english_client(cast.alice)
    response = client.post(start_url(cast), {"account": "https://evil.example"})
    state = form_of(bluesky.sent("POST", "https://evil.example/oauth/par")[-1])["state"]
    assert "login_hint" not in form_of(bluesky.sent("POST", "https://evil.example/oauth/par")[-1])

    response = come_back(client, state, iss="https://evil.example")

    assert (
        "The server that signed you in (https://evil.example) does not speak for the account"
        in response.content.decode()
    )
    assert len(bluesky.sent("POST", "https://evil.example/oauth/token")) == 1
    assert not Channel.objects.filter(network="bluesky").exists()


def test_starting_from_the_pds_address_connects_the_account_the_token_names(cast, bluesky) -> None:
    client = english_client(cast.alice)
    state = start(client, cast, bluesky, account=PDS)
    assert "login_hint" not in form_of(bluesky.sent("POST", PAR)[-1])

    response = come_back(client, state)

    assert "Bluesky account “Café Königsbau” connected." in response.content.decode()
    channel = Channel.objects.get(network="bluesky")
    assert (channel.remote_account_id, channel.handle) == (DID, HANDLE)  # handle verified both ways


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            json_answer(400, {"error": "invalid_grant", "error_description": "Invalid code"}),
            "invalid_grant: Invalid code",
        ),
        (
            json_answer(200, {**fixture("token.json"), "scope": "atproto"}),
            "the access granted lacks transition:generic",
        ),
        (json_answer(200, {**fixture("token.json"), "token_type": "Bearer"}), "holds no DPoP access token"),
        (json_answer(503, {"error": "server_error"}), "HTTP 503"),
    ],
)
def test_a_failed_token_exchange_connects_nothing(cast, bluesky, answer, message) -> None:
    bluesky.on("POST", TOKEN, authorization_server(answer))
    client = english_client(cast.alice)

    response = come_back(client, start(client, cast, bluesky))

    assert response.redirect_chain[-1][0] == channels_url(cast)
    assert "Bluesky could not be connected" in response.content.decode() and message in response.content.decode()
    assert not Channel.objects.filter(network="bluesky").exists()


def test_only_owners_and_admins_may_start(cast, bluesky) -> None:
    assert english_client(cast.bob).post(start_url(cast), {"account": HANDLE}).status_code == 403
    assert english_client(cast.charlie).post(start_url(cast), {"account": HANDLE}).status_code == 404
    assert bluesky.requests == []
