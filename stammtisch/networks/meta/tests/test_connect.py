"""Connecting Facebook Pages and Instagram accounts: Facebook Login with state, long-lived tokens,
choosing Pages, reconnect in place."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.urls import reverse

from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks.meta.tests.graph import APP_ID, APP_SECRET, IG_ID, PAGE_ID, PAGE_TOKEN, error, ok
from stammtisch.networks.models import Channel

SHORT = "EAAGm0PX4ZCpsBAshortLivedUserTokenForTests"
LONG = "EAAGm0PX4ZCpsBAlongLivedUserTokenForTests"


@pytest.fixture
def happy(graph):  # type: ignore[no-untyped-def]
    def token(request):  # type: ignore[no-untyped-def]
        grant = request.url.params.get("grant_type")
        return ok("facebook", "long_lived_token.json" if grant == "fb_exchange_token" else "oauth_token.json")

    graph.on("GET", "oauth/access_token", token)
    graph.on("GET", "me", ok("facebook", "me.json"))
    graph.on(
        "GET",
        "me/accounts",
        lambda r: ok("facebook", "me_accounts_page2.json" if r.url.params.get("after") else "me_accounts_page1.json"),
    )
    return graph


def start(client, cast, network: str = "facebook") -> dict[str, str]:  # type: ignore[no-untyped-def]
    response = client.post(reverse(f"{network}:connect", kwargs={"slug": cast.workspace.slug}))
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "www.facebook.com", "/v27.0/dialog/oauth")
    return {key: values[0] for key, values in parse_qs(url.query).items()}


def sign_in(client, cast, network: str = "facebook"):  # type: ignore[no-untyped-def]
    query = start(client, cast, network)
    return client.get(reverse("meta:callback"), {"code": "AQBx-code-from-facebook", "state": query["state"]})


def test_it_sends_the_user_to_facebook_login_with_state_scopes_and_the_redirect(cast, happy) -> None:
    client = english_client(cast.alice)
    assert (
        "Continue to Facebook"
        in client.get(reverse("facebook:connect", kwargs={"slug": cast.workspace.slug})).content.decode()
    )

    query = start(client, cast)

    assert query["client_id"] == APP_ID
    assert query["redirect_uri"] == "https://stammtisch.example/meta/callback/"
    assert query["response_type"] == "code"
    assert len(query["state"]) >= 32
    assert set(query["scope"].split(",")) == {
        "pages_show_list",
        "pages_manage_posts",
        "pages_read_engagement",
        "pages_manage_engagement",
        "pages_read_user_content",
        "read_insights",
        "instagram_basic",
        "instagram_content_publish",
        "instagram_manage_comments",
        "instagram_manage_insights",
        "business_management",
    }
    assert happy.requests == []


def test_the_callback_exchanges_the_code_for_a_long_lived_token_and_lists_every_page(cast, happy) -> None:
    client = english_client(cast.adam)
    response = sign_in(client, cast)

    assert response.status_code == 302
    assert response["Location"] == reverse("meta:select", kwargs={"slug": cast.workspace.slug})
    code_request, exchange_request = happy.sent("GET", "oauth/access_token")
    assert dict(code_request.url.params) == {
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "code": "AQBx-code-from-facebook",
        "redirect_uri": "https://stammtisch.example/meta/callback/",
    }
    assert exchange_request.url.params["grant_type"] == "fb_exchange_token"
    assert exchange_request.url.params["fb_exchange_token"] == SHORT
    first, second = happy.sent("GET", "me/accounts")
    assert first.headers["Authorization"] == f"Bearer {LONG}"
    assert second.url.params["after"] == "QVFIUmFiY2RlZAZDZD"  # the second page of Pages
    html = client.get(response["Location"]).content.decode()
    assert "Café Königsbau" in html and "Königsbau Events" in html and "@cafe.koenigsbau" in html
    assert "Your role on this Page does not allow publishing." in html  # Events: MODERATE only
    session = client.session["meta_select"][cast.workspace.slug]
    assert LONG not in str(session) and PAGE_TOKEN not in str(session)  # encrypted; no Page token at all
    assert Channel.objects.count() == 0  # nothing is connected before the choice


def test_choosing_a_page_and_its_instagram_account_makes_two_channels_with_tokens_that_do_not_expire(
    cast, happy
) -> None:
    client = english_client(cast.alice)
    sign_in(client, cast)
    url = reverse("meta:select", kwargs={"slug": cast.workspace.slug})

    response = client.post(url, {"account": [f"facebook:{PAGE_ID}", f"instagram:{IG_ID}"]}, follow=True)

    assert "Connected: Café Königsbau, @cafe.koenigsbau." in response.content.decode()
    page = Channel.objects.get(network="facebook")
    assert (page.handle, page.remote_account_id, page.display_name) == ("cafekoenigsbau", PAGE_ID, "Café Königsbau")
    assert page.credentials == {"access_token": PAGE_TOKEN} and page.token_expires_at is None
    assert page.avatar_url.startswith("https://scontent.xx.fbcdn.net/")
    insta = Channel.objects.get(network="instagram")
    assert (insta.handle, insta.remote_account_id) == ("cafe.koenigsbau", IG_ID)
    assert insta.network_data["page_id"] == PAGE_ID and insta.token_expires_at is None
    assert AuditEvent.objects.filter(action="channel.connect").count() == 2
    assert "meta_select" not in client.session or cast.workspace.slug not in client.session["meta_select"]


def test_connecting_again_keeps_the_channel_and_its_history(cast, happy) -> None:
    old = Channel.objects.create(
        workspace=cast.workspace,
        network="facebook",
        handle="old-name",
        display_name="Old",
        remote_account_id=PAGE_ID,
        credentials={"access_token": "revoked"},
        health=Channel.Health.NEEDS_RECONNECT,
    )
    client = english_client(cast.alice)
    sign_in(client, cast)
    client.post(reverse("meta:select", kwargs={"slug": cast.workspace.slug}), {"account": [f"facebook:{PAGE_ID}"]})

    old.refresh_from_db()
    assert old.health == Channel.Health.OK and old.handle == "cafekoenigsbau"
    assert old.credentials["access_token"] == PAGE_TOKEN
    assert Channel.objects.filter(network="facebook").count() == 1
    assert AuditEvent.objects.filter(action="channel.reconnect").count() == 1


def test_an_account_not_offered_cannot_be_smuggled_in(cast, happy) -> None:
    client = english_client(cast.alice)
    sign_in(client, cast)
    response = client.post(reverse("meta:select", kwargs={"slug": cast.workspace.slug}), {"account": ["facebook:999"]})
    assert response.status_code == 400
    assert "Please choose at least one of the listed Pages" in response.content.decode()
    assert Channel.objects.count() == 0


def test_a_state_from_another_session_or_too_old_is_refused(cast, happy) -> None:
    query = start(english_client(cast.alice), cast)
    response = english_client(cast.adam).get(reverse("meta:callback"), {"code": "c", "state": query["state"]})
    assert response.status_code == 400 and "does not belong to a connection you started" in response.content.decode()

    client = english_client(cast.alice)
    query = start(client, cast)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)):
        response = client.get(reverse("meta:callback"), {"code": "c", "state": query["state"]})
    assert response.status_code == 400
    assert happy.requests == []


def test_a_used_code_sends_the_user_back_with_facebooks_explanation(cast, graph) -> None:
    graph.on("GET", "oauth/access_token", error("error_code_used.json"))
    client = english_client(cast.alice)
    query = start(client, cast)
    response = client.get(reverse("meta:callback"), {"code": "c", "state": query["state"]}, follow=True)
    assert "This authorization code has been used." in response.content.decode()
    assert Channel.objects.count() == 0


def test_a_declined_login_connects_nothing(cast, graph) -> None:
    client = english_client(cast.alice)
    query = start(client, cast, "instagram")
    response = client.get(reverse("meta:callback"), {"error": "access_denied", "state": query["state"]}, follow=True)
    assert "the permission was not granted on Facebook" in response.content.decode()
    assert graph.requests == []


def test_editors_cannot_connect_and_switched_off_networks_redirect(cast, graph, settings) -> None:
    assert (
        english_client(cast.bob).get(reverse("facebook:connect", kwargs={"slug": cast.workspace.slug})).status_code
        == 403
    )
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "instagram": False}
    response = english_client(cast.alice).post(
        reverse("instagram:connect", kwargs={"slug": cast.workspace.slug}), follow=True
    )
    assert "Instagram is switched off on this server." in response.content.decode()


def test_an_answer_without_a_code_or_with_both_networks_off_connects_nothing(cast, happy, settings) -> None:
    client = english_client(cast.alice)
    response = client.get(reverse("meta:callback"), {"state": start(client, cast)["state"]})
    assert response.status_code == 400
    assert "Facebook was not connected" in response.content.decode()
    assert "Facebook sent no authorization code. Please start again." in response.content.decode()

    query = start(client, cast, "instagram")
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "facebook": False, "instagram": False}
    response = client.get(reverse("meta:callback"), {"code": "c", "state": query["state"]}, follow=True)
    assert "Facebook and Instagram are switched off on this server." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("networks:channels", kwargs={"slug": cast.workspace.slug})
    assert happy.requests == []


def test_a_failed_exchange_leads_back_to_the_network_the_flow_began_with(cast, graph) -> None:
    graph.on("GET", "oauth/access_token", error("error_code_used.json"))
    client = english_client(cast.alice)
    query = start(client, cast, "instagram")
    response = client.get(reverse("meta:callback"), {"code": "c", "state": query["state"]}, follow=True)
    assert response.redirect_chain[0][0] == reverse("instagram:connect", kwargs={"slug": cast.workspace.slug})
    assert "Facebook could not be connected: " in response.content.decode()
