"""The connector with a channel connected by OAuth: every XRPC call carries `Authorization:
DPoP <token>` and a proof made with the channel's own key (checked here against that key), the
PDS's nonce is followed and kept, and tokens are refreshed at the issuer with DPoP and a client
assertion. App-password channels are covered by ../test_connector.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from django.utils import timezone

from stammtisch.networks import health
from stammtisch.networks.base import NetworkError, Outgoing
from stammtisch.networks.bluesky import api
from stammtisch.networks.bluesky.connector import BlueskyNetwork
from stammtisch.networks.bluesky.tests.conftest import APP_PASSWORD, session_answer
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
    World,
    ath,
    authorization_server,
    fixture,
    form_of,
    json_answer,
    public_key_of,
    resource_server,
    verified,
)
from stammtisch.networks.models import Channel

CREATE_RECORD = f"{PDS}/xrpc/{api.CREATE_RECORD}"
GET_PROFILE = f"{PDS}/xrpc/{api.GET_PROFILE}"
TOKEN = "https://bsky.social/oauth/token"
AS_METADATA = f"{ISSUER}/.well-known/oauth-authorization-server"


def proof_of(request: httpx.Request, channel: Channel) -> dict[str, Any]:
    """The request's DPoP claims, verified with the channel's stored DPoP key (not only with
    the key the proof names)."""
    stored = {k: v for k, v in channel.credentials["dpop_jwk"].items() if k != "d"}
    header, claims = verified(request.headers["DPoP"], public_key_of(stored))
    assert header["typ"] == "dpop+jwt" and header["jwk"] == stored
    assert abs(claims["iat"] - timezone.now().timestamp()) < 5
    return claims


@pytest.fixture
def network() -> BlueskyNetwork:
    return BlueskyNetwork()


def test_a_post_is_sent_with_a_dpop_proof_bound_to_the_token_and_the_nonce(oauth_channel, world, network) -> None:
    world.on("POST", CREATE_RECORD, resource_server(json_answer(200, fixture("createRecord.json"))))
    token = oauth_channel.credentials["access_token"]

    remote = network.publish(oauth_channel, Outgoing(text="Frische Brezeln ab 7 Uhr!"), "delivery-1")

    assert remote.id == fixture("createRecord.json")["uri"]
    [request] = world.sent("POST", CREATE_RECORD)  # the stored nonce was right: one request
    assert request.headers["Authorization"] == f"DPoP {token}"
    claims = proof_of(request, oauth_channel)
    assert (claims["htm"], claims["htu"], claims["ath"], claims["nonce"]) == (
        "POST",
        CREATE_RECORD,
        ath(token),
        PDS_NONCE,
    )
    assert set(claims) == {"jti", "htm", "htu", "iat", "nonce", "ath"}
    assert world.hosts() == ["shiitake.us-east.host.bsky.network"]


def test_a_new_nonce_is_followed_once_and_kept_for_next_time(oauth_channel, world, network) -> None:
    world.on(
        "POST", CREATE_RECORD, resource_server(json_answer(200, fixture("createRecord.json")), nonce="rotated-nonce")
    )

    network.publish(oauth_channel, Outgoing(text="Guten Morgen!"), "delivery-1")

    first, second = world.sent("POST", CREATE_RECORD)
    assert proof_of(first, oauth_channel)["nonce"] == PDS_NONCE
    assert proof_of(second, oauth_channel)["nonce"] == "rotated-nonce"
    assert proof_of(first, oauth_channel)["jti"] != proof_of(second, oauth_channel)["jti"]
    oauth_channel.refresh_from_db()
    assert oauth_channel.credentials["dpop_nonce_pds"] == "rotated-nonce"
    assert oauth_channel.credentials["access_token"] == fixture("token.json")["access_token"]


def test_a_read_proves_the_url_without_its_query(oauth_channel, world, network) -> None:
    world.on("GET", GET_PROFILE, resource_server(json_answer(200, fixture("getProfile.json"))))

    [metric] = network.fetch_metrics(oauth_channel, [])

    assert metric.values["followers"] == 1284
    [request] = world.sent("GET", GET_PROFILE)
    assert request.url.params["actor"] == DID
    claims = proof_of(request, oauth_channel)
    assert (claims["htm"], claims["htu"]) == ("GET", GET_PROFILE)


@pytest.fixture
def issuer(world: World) -> World:
    world.on("GET", AS_METADATA, json_answer(200, fixture("authorization_server.json")))
    world.on("POST", TOKEN, authorization_server(json_answer(200, fixture("token_refreshed.json"))))
    world.on("POST", CREATE_RECORD, resource_server(json_answer(200, fixture("createRecord.json"))))
    return world


def test_an_expiring_token_is_refreshed_first_with_dpop_and_a_client_assertion(oauth_channel, issuer, network) -> None:
    old = dict(oauth_channel.credentials)
    oauth_channel.credentials = {**old, "expires_at": (timezone.now() + dt.timedelta(minutes=2)).isoformat()}
    oauth_channel.save()

    network.publish(oauth_channel, Outgoing(text="Mittagstisch: Maultaschen"), "delivery-1")

    [refresh] = issuer.sent("POST", TOKEN)
    form = form_of(refresh)
    assert (form["grant_type"], form["refresh_token"], form["client_id"]) == (
        "refresh_token",
        old["refresh_token"],
        CLIENT_ID,
    )
    _header, assertion = verified(form["client_assertion"], CLIENT_KEY.public_key())
    assert (assertion["iss"], assertion["sub"], assertion["aud"]) == (CLIENT_ID, CLIENT_ID, ISSUER)
    claims = proof_of(refresh, oauth_channel)
    assert (claims["htm"], claims["htu"], claims["nonce"]) == ("POST", TOKEN, AS_NONCE)
    assert "ath" not in claims and "Authorization" not in refresh.headers
    fresh = fixture("token_refreshed.json")
    [post] = issuer.sent("POST", CREATE_RECORD)
    assert post.headers["Authorization"] == f"DPoP {fresh['access_token']}"
    assert proof_of(post, oauth_channel)["ath"] == ath(fresh["access_token"])

    oauth_channel.refresh_from_db()
    stored = oauth_channel.credentials
    assert (stored["access_token"], stored["refresh_token"]) == (fresh["access_token"], fresh["refresh_token"])
    assert stored["dpop_jwk"] == old["dpop_jwk"] and stored["auth"] == "oauth"
    assert dt.timedelta(minutes=59) < dt.datetime.fromisoformat(stored["expires_at"]) - timezone.now()
    assert dt.timedelta(days=29) < oauth_channel.token_expires_at - timezone.now() <= dt.timedelta(days=30)


def test_a_refused_token_is_refreshed_and_the_call_repeated(oauth_channel, issuer, network) -> None:
    expired = httpx.Response(
        401,
        json=fixture("error_invalid_token.json"),
        headers={"WWW-Authenticate": 'DPoP error="invalid_token"', "DPoP-Nonce": PDS_NONCE},
    )
    issuer.on("POST", CREATE_RECORD, expired, resource_server(json_answer(200, fixture("createRecord.json"))))

    network.publish(oauth_channel, Outgoing(text="Heute Ruhetag"), "delivery-1")

    assert len(issuer.sent("POST", TOKEN)) == 1
    first, second = issuer.sent("POST", CREATE_RECORD)
    assert first.headers["Authorization"] == f"DPoP {fixture('token.json')['access_token']}"
    assert second.headers["Authorization"] == f"DPoP {fixture('token_refreshed.json')['access_token']}"


def test_an_answer_without_a_refresh_token_keeps_the_stored_one(oauth_channel, issuer, network) -> None:
    answer = {k: v for k, v in fixture("token_refreshed.json").items() if k != "refresh_token"}
    issuer.on("POST", TOKEN, authorization_server(json_answer(200, answer)))
    before = oauth_channel.token_expires_at

    network.refresh_credentials(oauth_channel)

    oauth_channel.refresh_from_db()
    assert oauth_channel.credentials["refresh_token"] == fixture("token.json")["refresh_token"]
    assert oauth_channel.credentials["access_token"] == answer["access_token"]
    assert oauth_channel.token_expires_at == before  # no new refresh token: the deadline stays


@pytest.mark.parametrize(
    ("answer", "auth"),
    [
        (json_answer(400, fixture("error_invalid_grant.json")), True),
        (json_answer(200, {**fixture("token_refreshed.json"), "sub": OTHER_DID}), True),
        (json_answer(503, {"error": "server_error"}), False),
    ],
)
def test_a_failed_refresh_keeps_the_stored_tokens(oauth_channel, issuer, network, answer, auth) -> None:
    issuer.on("POST", TOKEN, authorization_server(answer))
    before = dict(oauth_channel.credentials)

    with pytest.raises(NetworkError) as caught:
        network.refresh_credentials(oauth_channel)

    assert caught.value.auth is auth
    oauth_channel.refresh_from_db()
    assert oauth_channel.credentials == before


def test_the_reconnect_deadline_never_passes_the_sessions_end(oauth_channel, issuer, network) -> None:
    started = timezone.now() - dt.timedelta(days=360)
    oauth_channel.network_data = {**oauth_channel.network_data, "oauth_started_at": started.isoformat()}
    oauth_channel.save()

    network.refresh_credentials(oauth_channel)

    oauth_channel.refresh_from_db()
    assert oauth_channel.token_expires_at == started + dt.timedelta(days=365)


def test_the_health_job_refreshes_an_oauth_channel_before_it_must_be_reconnected(oauth_channel, issuer) -> None:
    oauth_channel.token_expires_at = timezone.now() + dt.timedelta(days=5)
    oauth_channel.save()

    assert health.warn_expiring_tokens() == 0  # refreshed: nobody needs to be warned

    oauth_channel.refresh_from_db()
    assert oauth_channel.credentials["refresh_token"] == fixture("token_refreshed.json")["refresh_token"]
    assert oauth_channel.token_expires_at - timezone.now() > dt.timedelta(days=29)


def test_a_channel_without_its_dpop_key_must_be_reconnected(oauth_channel, world, network) -> None:
    oauth_channel.credentials = {k: v for k, v in oauth_channel.credentials.items() if k != "dpop_jwk"}
    oauth_channel.save()

    with pytest.raises(NetworkError) as caught:
        network.publish(oauth_channel, Outgoing(text="Hallo"), "delivery-1")

    assert caught.value.auth and world.requests == []


def test_signing_in_with_an_app_password_again_drops_the_oauth_session(cast, oauth_channel, pds) -> None:
    from stammtisch.core.actions import Actor
    from stammtisch.networks.bluesky.actions import do_connect_bluesky_channel

    session = session_answer()
    pds.on(api.CREATE_SESSION, json_answer(200, session))
    pds.on(api.GET_PROFILE, json_answer(200, fixture("getProfile.json")))

    channel = do_connect_bluesky_channel(
        Actor(user=cast.alice), cast.workspace, identifier=HANDLE, app_password=APP_PASSWORD, pds=api.DEFAULT_PDS
    )

    assert channel.pk == oauth_channel.pk
    assert channel.credentials == {"access_jwt": session["accessJwt"], "refresh_jwt": session["refreshJwt"]}
    assert "issuer" not in channel.network_data and channel.network_data["pds"] == api.DEFAULT_PDS
