"""Connecting a Bluesky account with an app password: checked with createSession."""

from __future__ import annotations

import json

import httpx
import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks.bluesky import api
from stammtisch.networks.bluesky.tests.conftest import APP_PASSWORD, DID, HANDLE, error, ok, session_answer
from stammtisch.networks.models import Channel

FORM = {"identifier": "@cafe-koenigsbau.bsky.social", "app_password": APP_PASSWORD, "pds_url": ""}


def connect_url(cast) -> str:
    return reverse("bluesky:connect", kwargs={"slug": cast.workspace.slug})


@pytest.fixture
def good_pds(pds):
    session = session_answer()
    pds.on(api.CREATE_SESSION, ok(session))
    pds.on(api.GET_PROFILE, ok("getProfile.json"))
    pds.session = session
    return pds


def test_it_signs_in_and_keeps_the_session_but_not_the_app_password(cast, good_pds) -> None:
    client = english_client(cast.alice)
    assert "App passwords" in client.get(connect_url(cast)).content.decode()

    response = client.post(connect_url(cast), FORM, follow=True)

    page = response.content.decode()
    assert "Bluesky account “Café Königsbau” connected." in page
    assert APP_PASSWORD not in page
    sign_in = good_pds.calls(api.CREATE_SESSION)[0]
    assert sign_in.url.host == "bsky.social"
    assert json.loads(sign_in.content) == {"identifier": HANDLE, "password": APP_PASSWORD}
    channel = Channel.objects.get(network="bluesky")
    assert (channel.handle, channel.remote_account_id, channel.display_name) == (HANDLE, DID, "Café Königsbau")
    assert channel.avatar_url.startswith("https://cdn.bsky.app/")
    assert channel.credentials == {
        "access_jwt": good_pds.session["accessJwt"],
        "refresh_jwt": good_pds.session["refreshJwt"],
    }
    assert channel.token_expires_at == api.jwt_expiry(good_pds.session["refreshJwt"])
    assert channel.network_data == {
        "pds": "https://bsky.social",
        "refresh_expires_at": api.jwt_expiry(good_pds.session["refreshJwt"]).isoformat(),
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM networks_channel WHERE id = %s", [channel.pk])
        stored = str(cursor.fetchone()[0])
    assert APP_PASSWORD not in stored and good_pds.session["refreshJwt"] not in stored  # encrypted at rest
    assert APP_PASSWORD not in str(AuditEvent.objects.get(action="channel.connect").data)


def test_a_self_hosted_pds_is_used_for_sign_in_and_kept(cast, good_pds) -> None:
    english_client(cast.alice).post(connect_url(cast), {**FORM, "pds_url": "pds.example.de/"})

    assert good_pds.calls(api.CREATE_SESSION)[0].url.host == "pds.example.de"
    assert Channel.objects.get().network_data["pds"] == "https://pds.example.de"


@pytest.mark.parametrize(
    ("pds_url", "message"),
    [
        ("https://pds.intranet.example", "points to a private or local address"),
        ("http://pds.example.de", "Please give the server as https://host"),
        ("https://pds.example.de/xrpc", "Please give the server as https://host"),
        ("https://nowhere.invalid", "cannot be found"),
    ],
)
def test_a_pds_address_that_is_unsafe_or_malformed_is_refused(cast, pds, pds_url, message) -> None:
    response = english_client(cast.alice).post(connect_url(cast), {**FORM, "pds_url": pds_url})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert pds.requests == [] and not Channel.objects.exists()


def test_an_account_password_is_refused_before_asking_bluesky(cast, pds) -> None:
    response = english_client(cast.alice).post(connect_url(cast), {**FORM, "app_password": "MeinGeheimesPasswort1"})

    assert "This is not an app password" in response.content.decode()
    assert pds.requests == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (error(401, "error_authentication_required.json"), "does not accept this handle and app password"),
        (error(401, "error_auth_factor_token_required.json"), "asks for a sign-in code by e-mail"),
        (error(500, "error_internal.json"), "cannot be reached right now"),
        (
            error(429, "error_rate_limit.json", {"ratelimit-reset": "9999999999"}),
            "Bluesky asks us to slow down",
        ),
        (ok({**session_answer(), "active": False, "status": "deactivated"}), "not active (status: deactivated)"),
    ],
)
def test_it_explains_what_is_wrong(cast, pds, answer, message) -> None:
    pds.on(api.CREATE_SESSION, answer)

    response = english_client(cast.alice).post(connect_url(cast), FORM)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Channel.objects.exists()


def test_a_timeout_during_sign_in_is_explained(cast, pds) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    pds.on(api.CREATE_SESSION, timeout)
    response = english_client(cast.alice).post(connect_url(cast), FORM)
    assert "cannot be reached right now" in response.content.decode()


def test_reconnecting_keeps_the_channel_even_after_a_handle_change(cast, good_pds) -> None:
    channel = Channel.objects.create(
        workspace=cast.workspace,
        network="bluesky",
        handle="old-name.bsky.social",
        display_name="Alt",
        remote_account_id=DID,
        credentials={"access_jwt": "old", "refresh_jwt": "old-refresh"},
        health=Channel.Health.NEEDS_RECONNECT,
    )

    english_client(cast.adam).post(connect_url(cast), FORM)

    channel.refresh_from_db()
    assert Channel.objects.filter(network="bluesky").count() == 1
    assert (channel.handle, channel.health) == (HANDLE, "ok")
    assert channel.credentials["refresh_jwt"] == good_pds.session["refreshJwt"]
    assert AuditEvent.objects.filter(action="channel.reconnect").count() == 1


def test_a_slow_appview_does_not_stop_the_connection(cast, pds) -> None:
    pds.on(api.CREATE_SESSION, ok(session_answer()))
    pds.on(api.GET_PROFILE, error(400, "error_invalid_request.json"))

    english_client(cast.alice).post(connect_url(cast), FORM)

    assert Channel.objects.get().display_name == HANDLE


def test_only_owners_and_admins_connect(cast, pds) -> None:
    assert english_client(cast.bob).post(connect_url(cast), FORM).status_code == 403
    assert pds.requests == []


@override_settings(NETWORKS_ENABLED={"bluesky": False})
def test_a_switched_off_network_sends_people_back_with_a_message(cast, pds) -> None:
    response = english_client(cast.alice).get(connect_url(cast), follow=True)

    assert "Bluesky is switched off on this server." in response.content.decode()
    assert pds.requests == []


def test_the_channels_page_offers_bluesky(cast) -> None:
    page = english_client(cast.alice).get(reverse("networks:channels", kwargs={"slug": cast.workspace.slug}))
    assert connect_url(cast) in page.content.decode()
