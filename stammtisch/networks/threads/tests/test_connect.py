"""Connecting a Threads profile: the Authorization Window with state, the code exchange, the
long-lived token, reconnect in place."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks import health
from stammtisch.networks.models import Channel
from stammtisch.networks.threads.tests.conftest import APP_ID, APP_SECRET, HANDLE, USER_ID, error, fixture, form, ok

SHORT = fixture("token_short.json")["access_token"]
LONG = fixture("token_long.json")["access_token"]


def connect_url(cast) -> str:
    return reverse("threads:connect", kwargs={"slug": cast.workspace.slug})


def callback_url() -> str:
    return reverse("threads:callback")


@pytest.fixture
def happy_api(threads_api):
    threads_api.on("POST", "oauth/access_token", ok("token_short.json"))
    threads_api.on("GET", "access_token", ok("token_long.json"))
    threads_api.on("GET", "me", ok("me.json"))
    return threads_api


def start(client, cast) -> dict[str, str]:
    response = client.post(connect_url(cast))
    assert response.status_code == 302, response.content.decode()[:2000]
    url = urlsplit(response["Location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "threads.com", "/oauth/authorize")
    return {key: values[0] for key, values in parse_qs(url.query).items()}


def test_it_sends_the_user_to_threads_with_state_scopes_and_the_configured_redirect(cast, happy_api) -> None:
    client = english_client(cast.alice)
    assert "Continue to Threads" in client.get(connect_url(cast)).content.decode()

    query = start(client, cast)

    assert query["client_id"] == APP_ID
    assert query["redirect_uri"] == "https://stammtisch.example/threads/callback/"
    assert query["response_type"] == "code"
    assert query["scope"].split(",") == [
        "threads_basic",
        "threads_content_publish",
        "threads_manage_replies",
        "threads_read_replies",
        "threads_manage_insights",
        "threads_delete",
        "threads_manage_mentions",
    ]
    assert len(query["state"]) >= 32
    assert happy_api.requests == []  # nothing is asked of Threads before the user comes back


def test_the_callback_exchanges_the_code_for_a_long_lived_token_and_connects(cast, happy_api) -> None:
    client = english_client(cast.adam)
    query = start(client, cast)

    response = client.get(callback_url(), {"code": "AQBx-hBsH3cafe", "state": query["state"]}, follow=True)

    assert "Threads profile “@cafe.koenigsbau” connected." in response.content.decode()
    [code_request] = happy_api.sent("POST", "oauth/access_token")
    assert str(code_request.url) == "https://graph.threads.net/oauth/access_token"
    assert form(code_request) == {
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "grant_type": "authorization_code",
        "redirect_uri": "https://stammtisch.example/threads/callback/",
        "code": "AQBx-hBsH3cafe",
    }
    [exchange] = happy_api.sent("GET", "access_token")
    assert exchange.url.path == "/access_token"  # unversioned, as documented
    assert dict(exchange.url.params) == {
        "grant_type": "th_exchange_token",
        "client_secret": APP_SECRET,
        "access_token": SHORT,
    }
    [me] = happy_api.sent("GET", "me")
    assert me.url.path == "/v1.0/me"
    assert me.headers["Authorization"] == f"Bearer {LONG}"
    assert "access_token" not in me.url.params  # the token never sits in an API URL

    channel = Channel.objects.get(network="threads")
    assert (channel.workspace, channel.handle, channel.display_name, channel.remote_account_id) == (
        cast.workspace,
        HANDLE,
        "Café Königsbau",
        USER_ID,
    )
    assert channel.credentials["access_token"] == LONG
    assert channel.avatar_url.startswith("https://scontent-fra3-1.cdninstagram.com/")
    # token_expires_at = "must reconnect by": the long-lived token's 60 days (5,183,944 seconds).
    assert channel.token_expires_at is not None
    lifetime = channel.token_expires_at - channel.created_at
    assert dt.timedelta(days=59, hours=23) < lifetime <= dt.timedelta(seconds=5183944)
    assert health.status(channel, timezone.now()) == health.Status.OK
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM networks_channel WHERE id = %s", [channel.pk])
        assert LONG not in cursor.fetchone()[0]  # encrypted at rest
    event = AuditEvent.objects.get(action="channel.connect")
    assert LONG not in str(event.data) and event.actor == cast.adam

    again = client.get(callback_url(), {"code": "AQBx-hBsH3cafe", "state": query["state"]})
    assert again.status_code == 400  # the state is used up
    assert len(happy_api.sent("POST", "oauth/access_token")) == 1


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
    assert "too old" in expired.content.decode()
    assert happy_api.requests == []
    assert not Channel.objects.filter(network="threads").exists()


def test_denied_consent_connects_nothing_and_says_so(cast, happy_api) -> None:
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(
        callback_url(),
        {
            "error": "access_denied",
            "error_code": "200",
            "error_description": "Permissions error",
            "error_reason": "user_denied",
            "state": query["state"],
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("networks:channels", kwargs={"slug": cast.workspace.slug})
    assert "the permission was not granted on Threads" in response.content.decode()
    assert happy_api.requests == []
    assert not Channel.objects.filter(network="threads").exists()


def test_a_rejected_code_is_explained_and_connects_nothing(cast, threads_api) -> None:
    threads_api.on("POST", "oauth/access_token", error("error_code_100_oauth.json"))
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(callback_url(), {"code": "used", "state": query["state"]}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == connect_url(cast)
    assert "Threads could not be connected" in page
    assert "Error validating verification code" in page
    assert threads_api.sent("GET", "access_token") == []
    assert not Channel.objects.filter(network="threads").exists()


def test_a_failed_long_lived_exchange_connects_nothing(cast, threads_api) -> None:
    threads_api.on("POST", "oauth/access_token", ok("token_short.json"))
    threads_api.on("GET", "access_token", error("error_190.json"))
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(callback_url(), {"code": "abc", "state": query["state"]}, follow=True)
    assert "Threads could not be connected" in response.content.decode()
    assert not Channel.objects.filter(network="threads").exists()


def test_reconnecting_keeps_the_row_even_after_a_rename(cast, happy_api) -> None:
    channel = Channel.objects.create(
        workspace=cast.workspace,
        network="threads",
        handle="old.name",
        display_name="Old name",
        remote_account_id=USER_ID,
        credentials={"access_token": "revoked"},
        health=Channel.Health.NEEDS_RECONNECT,
        token_expires_at=timezone.now() - dt.timedelta(days=1),
    )
    client = english_client(cast.alice)
    query = start(client, cast)
    client.get(callback_url(), {"code": "abc", "state": query["state"]})

    channel.refresh_from_db()
    assert Channel.objects.filter(network="threads").count() == 1
    assert channel.handle == HANDLE and channel.health == Channel.Health.OK
    assert channel.credentials["access_token"] == LONG
    assert channel.token_expires_at is not None and channel.token_expires_at > timezone.now() + dt.timedelta(days=59)
    assert AuditEvent.objects.filter(action="channel.reconnect").count() == 1


def test_editors_cannot_connect_and_outsiders_get_404(cast) -> None:
    assert english_client(cast.bob).get(connect_url(cast)).status_code == 403
    assert english_client(cast.charlie).get(connect_url(cast)).status_code == 404


def test_a_switched_off_threads_redirects_with_a_message(cast, settings) -> None:
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "threads": False}
    response = english_client(cast.alice).post(connect_url(cast), follow=True)
    assert "Threads is switched off on this server." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("networks:channels", kwargs={"slug": cast.workspace.slug})


def test_the_channels_page_offers_threads_only_when_switched_on(cast, settings) -> None:
    page = reverse("networks:channels", kwargs={"slug": cast.workspace.slug})
    assert f'href="{connect_url(cast)}"' in english_client(cast.alice).get(page).content.decode()
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "threads": False}
    assert connect_url(cast) not in english_client(cast.alice).get(page).content.decode()


def test_an_answer_without_a_code_or_after_switching_off_connects_nothing(cast, happy_api, settings) -> None:
    client = english_client(cast.alice)
    response = client.get(callback_url(), {"state": start(client, cast)["state"]})
    assert response.status_code == 400
    assert "Threads was not connected" in response.content.decode()
    assert "Threads sent no authorization code. Please start again." in response.content.decode()

    query = start(client, cast)
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "threads": False}
    response = client.get(callback_url(), {"code": "abc", "state": query["state"]}, follow=True)
    assert "Threads is switched off on this server." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("networks:channels", kwargs={"slug": cast.workspace.slug})
    assert happy_api.requests == []
