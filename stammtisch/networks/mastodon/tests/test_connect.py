"""Connecting a Mastodon account: OAuth 2 with PKCE and state, app registration cached per instance."""

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

from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks.actions import do_connect_channel, merge_credentials
from stammtisch.networks.mastodon.tests.conftest import fixture
from stammtisch.networks.models import Channel, OAuthApp

TOKEN = fixture("token.json")["access_token"]
SECRET = fixture("app.json")["client_secret"]


def connect_url(cast) -> str:
    return reverse("mastodon:connect", kwargs={"slug": cast.workspace.slug})


def callback_url() -> str:
    return reverse("mastodon:callback")


@pytest.fixture
def happy_instance(instance):
    instance.on(
        "GET", "/.well-known/oauth-authorization-server", httpx.Response(200, json=fixture("server_metadata.json"))
    )
    instance.on("POST", "/api/v1/apps", httpx.Response(200, json=fixture("app.json")))
    instance.on("POST", "/oauth/token", httpx.Response(200, json=fixture("token.json")))
    instance.on("GET", "/api/v1/accounts/verify_credentials", httpx.Response(200, json=fixture("account.json")))
    return instance


def start(client, cast, instance_name: str = "social.example") -> dict[str, str]:
    response = client.post(connect_url(cast), {"instance": instance_name})
    assert response.status_code == 302, response.content.decode()[:2000]
    url = urlsplit(response["Location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "social.example", "/oauth/authorize")
    return {key: values[0] for key, values in parse_qs(url.query).items()}


def test_it_registers_the_app_once_and_sends_the_user_to_the_instance(cast, happy_instance, settings) -> None:
    client = english_client(cast.alice)
    assert "Your Mastodon instance" in client.get(connect_url(cast)).content.decode()

    query = start(client, cast, "https://Social.Example/")

    [registration] = happy_instance.sent("POST", "/api/v1/apps")
    body = httpx.Response(200, content=registration.content).json()
    assert body["redirect_uris"] == [settings.MASTODON_REDIRECT_URI]
    assert body["scopes"] == "profile read:statuses read:notifications write:statuses write:media"
    assert query["client_id"] == fixture("app.json")["client_id"]
    assert query["redirect_uri"] == settings.MASTODON_REDIRECT_URI
    assert query["scope"] == body["scopes"]
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32 and len(query["code_challenge"]) == 43
    app = OAuthApp.objects.get()
    assert app.server == "https://social.example"
    assert app.secrets == {"client_secret": SECRET}
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM networks_oauthapp")
        assert SECRET not in cursor.fetchone()[0]  # encrypted at rest

    start(client, cast)  # a second connect on the same instance reuses the registration
    assert len(happy_instance.sent("POST", "/api/v1/apps")) == 1
    assert OAuthApp.objects.count() == 1


def test_an_instance_before_4_3_gets_the_older_scope(cast, instance) -> None:
    instance.on("GET", "/.well-known/oauth-authorization-server", httpx.Response(404, text="Not Found"))
    instance.on("POST", "/api/v1/apps", httpx.Response(200, json=fixture("app.json")))
    query = start(english_client(cast.alice), cast)
    assert query["scope"] == "read:accounts read:statuses read:notifications write:statuses write:media"


def test_the_callback_checks_state_sends_the_pkce_verifier_and_stores_the_token_encrypted(cast, happy_instance) -> None:
    client = english_client(cast.adam)
    query = start(client, cast)

    response = client.get(callback_url(), {"code": "qDFUEaYrRK5c", "state": query["state"]}, follow=True)

    assert "Mastodon account “koenigsbau@social.example” connected." in response.content.decode()
    [token_request] = happy_instance.sent("POST", "/oauth/token")
    form = {k: v[0] for k, v in parse_qs(token_request.content.decode()).items()}
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "qDFUEaYrRK5c"
    assert form["client_secret"] == SECRET
    challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=").decode()
    assert challenge == query["code_challenge"]
    channel = Channel.objects.get(network="mastodon")
    assert (channel.workspace, channel.handle, channel.display_name) == (
        cast.workspace,
        "koenigsbau@social.example",
        "Café Königsbau",
    )
    assert channel.remote_account_id == "109876"
    assert channel.network_data["instance"] == "https://social.example"
    assert channel.credentials == {"access_token": TOKEN}
    assert channel.token_expires_at is None  # Mastodon tokens do not expire
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM networks_channel WHERE id = %s", [channel.pk])
        assert TOKEN not in cursor.fetchone()[0]
    page = client.get(reverse("networks:channels", kwargs={"slug": cast.workspace.slug})).content.decode()
    assert "koenigsbau@social.example" in page
    assert TOKEN not in page and SECRET not in page
    event = AuditEvent.objects.get(action="channel.connect")
    assert TOKEN not in str(event.data) and event.actor == cast.adam

    # The state is used up: the same answer cannot connect twice.
    again = client.get(callback_url(), {"code": "qDFUEaYrRK5c", "state": query["state"]})
    assert again.status_code == 400
    assert len(happy_instance.sent("POST", "/oauth/token")) == 1


def test_a_wrong_or_foreign_state_is_refused(cast, happy_instance) -> None:
    query = start(english_client(cast.alice), cast)
    wrong = english_client(cast.alice).get(callback_url(), {"code": "abc", "state": "forged"})
    assert wrong.status_code == 400
    assert "does not belong to a connection you started here" in wrong.content.decode()
    # charlie got hold of alice's state: it is bound to her session, not to the URL.
    foreign = english_client(cast.charlie).get(callback_url(), {"code": "abc", "state": query["state"]})
    assert foreign.status_code == 400
    assert happy_instance.sent("POST", "/oauth/token") == []
    assert not Channel.objects.filter(network="mastodon").exists()


def test_a_stale_state_is_refused(cast, happy_instance) -> None:
    client = english_client(cast.alice)
    query = start(client, cast)
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=16)):
        assert client.get(callback_url(), {"code": "abc", "state": query["state"]}).status_code == 400
    assert happy_instance.sent("POST", "/oauth/token") == []


def test_declining_on_the_instance_connects_nothing(cast, happy_instance) -> None:
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(callback_url(), {"error": "access_denied", "state": query["state"]}, follow=True)
    assert "permission was not granted" in response.content.decode()
    assert not Channel.objects.filter(network="mastodon").exists()


def test_a_forgotten_app_registration_is_dropped_and_registered_again(cast, happy_instance) -> None:
    happy_instance.on("POST", "/oauth/token", httpx.Response(401, json=fixture("token_invalid_client.json")))
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(callback_url(), {"code": "abc", "state": query["state"]})
    assert response.status_code == 302 and response["Location"] == connect_url(cast)
    assert not OAuthApp.objects.exists()
    start(client, cast)
    assert len(happy_instance.sent("POST", "/api/v1/apps")) == 2


def test_reconnecting_keeps_the_channel_row_and_its_history(cast, happy_instance) -> None:
    from stammtisch.publishing.models import Delivery, Post

    channel = Channel.objects.create(
        workspace=cast.workspace,
        network="mastodon",
        handle="koenigsbau@social.example",
        display_name="Old name",
        remote_account_id="109876",
        credentials={"access_token": "revoked-token"},
        network_data={"instance": "https://social.example"},
        health=Channel.Health.NEEDS_RECONNECT,
        health_message="Mastodon publish: HTTP 401",
    )
    post = Post.objects.create(workspace=cast.workspace, author=cast.alice, text="Früher")
    Delivery.objects.create(post=post, channel=channel, text=post.text, state=Delivery.State.PUBLISHED)
    client = english_client(cast.alice)
    query = start(client, cast)
    client.get(callback_url(), {"code": "abc", "state": query["state"]})

    channel.refresh_from_db()
    assert Channel.objects.filter(network="mastodon").count() == 1
    assert channel.health == Channel.Health.OK and channel.health_message == ""
    assert channel.credentials == {"access_token": TOKEN}
    assert channel.display_name == "Café Königsbau"
    assert Delivery.objects.filter(channel=channel).count() == 1
    assert AuditEvent.objects.get(action="channel.reconnect").data["previous_health"] == "reconnect"


def test_two_accounts_are_two_channels(cast, happy_instance) -> None:
    client = english_client(cast.alice)
    happy_instance.on(
        "GET",
        "/api/v1/accounts/verify_credentials",
        httpx.Response(200, json=fixture("account.json")),
        httpx.Response(
            200, json={**fixture("account.json"), "id": "2", "username": "kuchen", "display_name": "Kuchen"}
        ),
    )
    for _ in range(2):
        query = start(client, cast)
        client.get(callback_url(), {"code": "abc", "state": query["state"]})
    handles = sorted(Channel.objects.filter(network="mastodon").values_list("handle", flat=True))
    assert handles == ["koenigsbau@social.example", "kuchen@social.example"]


def test_a_stored_token_is_never_overwritten_by_an_empty_one(cast) -> None:
    assert merge_credentials(
        {"access_token": "a", "refresh_token": "r"}, {"access_token": "b", "refresh_token": ""}
    ) == {
        "access_token": "b",
        "refresh_token": "r",
    }
    assert merge_credentials({"refresh_token": "r"}, {"refresh_token": None}) == {"refresh_token": "r"}
    kwargs = dict(network="mastodon", handle="a@social.example", display_name="A", remote_account_id="1")
    do_connect_channel(
        Actor.system("test"), cast.workspace, credentials={"access_token": "a", "refresh_token": "r"}, **kwargs
    )
    channel = do_connect_channel(
        Actor.system("test"), cast.workspace, credentials={"access_token": "", "refresh_token": ""}, **kwargs
    )
    channel.refresh_from_db()
    assert channel.credentials == {"access_token": "a", "refresh_token": "r"}


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.7", "10.255.1.2", "evil.example", "loop.example", "nowhere.example"]
)
def test_the_ssrf_guard_refuses_private_instances_before_any_request(cast, instance, address) -> None:
    response = english_client(cast.alice).post(connect_url(cast), {"instance": address})
    assert response.status_code == 200
    assert "cannot be reached from this server, or it points to a private address" in response.content.decode()
    assert instance.requests == []
    assert not OAuthApp.objects.exists()


def test_it_explains_bad_input_and_servers_that_are_not_mastodon(cast, instance) -> None:
    client = english_client(cast.alice)
    bad = client.post(connect_url(cast), {"instance": "http://social.example/@koenigsbau"})
    assert "instance&#x27;s address only" in bad.content.decode()
    instance.on("GET", "/.well-known/oauth-authorization-server", httpx.Response(404))
    instance.on("POST", "/api/v1/apps", httpx.Response(404, text="<html>WordPress</html>"))
    response = client.post(connect_url(cast), {"instance": "social.example"})
    assert response.status_code == 200
    assert "Is it a Mastodon server?" in response.content.decode()


def test_only_owners_and_admins_connect(cast, instance) -> None:
    assert english_client(cast.bob).get(connect_url(cast)).status_code == 403
    assert english_client(cast.bob).post(connect_url(cast), {"instance": "social.example"}).status_code == 403
    assert instance.requests == []


def test_the_channels_page_offers_mastodon_and_telegram(cast) -> None:
    page = (
        english_client(cast.alice)
        .get(reverse("networks:channels", kwargs={"slug": cast.workspace.slug}))
        .content.decode()
    )
    assert connect_url(cast) in page and "Connect Mastodon" in page
    assert reverse("telegram:connect", kwargs={"slug": cast.workspace.slug}) in page


def test_an_answer_without_a_code_connects_nothing(cast, happy_instance) -> None:
    client = english_client(cast.alice)
    response = client.get(callback_url(), {"state": start(client, cast)["state"]})
    assert response.status_code == 400
    assert "Mastodon was not connected" in response.content.decode()
    assert "The instance sent no authorization code. Please start again." in response.content.decode()
    assert happy_instance.sent("POST", "/oauth/token") == []


def test_a_rejected_code_is_explained_and_connects_nothing(cast, happy_instance) -> None:
    happy_instance.on("POST", "/oauth/token", httpx.Response(400, json={"error": "invalid_grant"}))
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(callback_url(), {"code": "used", "state": query["state"]}, follow=True)
    assert response.redirect_chain[0][0] == connect_url(cast)
    assert "Mastodon could not be connected: " in response.content.decode()
    assert not Channel.objects.filter(network="mastodon").exists()


def test_an_answer_after_switching_mastodon_off_connects_nothing(cast, happy_instance, settings) -> None:
    client = english_client(cast.alice)
    query = start(client, cast)
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "mastodon": False}
    response = client.get(callback_url(), {"code": "abc", "state": query["state"]}, follow=True)
    assert "Mastodon is switched off on this server." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("networks:channels", kwargs={"slug": cast.workspace.slug})
    assert happy_instance.sent("POST", "/oauth/token") == []
    assert not Channel.objects.filter(network="mastodon").exists()
