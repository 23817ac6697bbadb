"""Resolving a handle to its account and authorization server (identity.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.utils import translation

from stammtisch.networks.bluesky import identity
from stammtisch.networks.bluesky.tests.oauth.conftest import (
    DID,
    HANDLE,
    ISSUER,
    PDS,
    PDS_HOST,
    fixture,
    identity_routes,
    json_answer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("@Cafe-Koenigsbau.bsky.social ", ("handle", HANDLE)),
        (DID, ("did", DID)),
        ("did:web:cafe.example.de", ("did", "did:web:cafe.example.de")),
        ("https://pds.example.de/", ("server", "https://pds.example.de")),
    ],
)
def test_what_the_user_typed_is_a_handle_a_did_or_a_server(typed, parsed) -> None:
    assert identity.parse_identifier(typed) == parsed


@pytest.mark.parametrize(
    "typed", ["", "no spaces allowed.de x", "did:key:z6Mk", "http://pds.example.de", "https://pds.example.de/xrpc"]
)
def test_anything_else_is_refused(typed) -> None:
    with pytest.raises(identity.ResolveError):
        identity.parse_identifier(typed)


def test_a_handle_resolves_to_did_pds_and_authorization_server(world) -> None:
    identity_routes(world)

    account = identity.resolve_account("handle", HANDLE)

    assert (account.did, account.handle, account.pds, account.issuer) == (DID, HANDLE, PDS, ISSUER)
    assert account.metadata["pushed_authorization_request_endpoint"] == "https://bsky.social/oauth/par"
    assert [str(r.url) for r in world.requests] == [
        f"https://{HANDLE}/.well-known/atproto-did",
        f"https://plc.directory/{DID}",
        f"{PDS}/.well-known/oauth-protected-resource",
        f"{ISSUER}/.well-known/oauth-authorization-server",
    ]


def test_without_the_well_known_file_bsky_social_resolves_the_handle(world) -> None:
    identity_routes(world)
    world.on("GET", f"https://{HANDLE}/.well-known/atproto-did", httpx.Response(404, text="Not Found"))
    world.on("GET", "https://bsky.social/xrpc/com.atproto.identity.resolveHandle", json_answer(200, {"did": DID}))

    assert identity.resolve_account("handle", HANDLE).did == DID
    [asked] = world.sent("GET", "https://bsky.social/xrpc/com.atproto.identity.resolveHandle")
    assert asked.url.params["handle"] == HANDLE


def test_an_unknown_handle_is_explained(world) -> None:
    world.on(
        "GET",
        "https://bsky.social/xrpc/com.atproto.identity.resolveHandle",
        json_answer(400, fixture("error_resolve_handle.json")),
    )

    with pytest.raises(identity.ResolveError, match="does not belong to any Bluesky account"):
        identity.resolve_account("handle", "nobody.bsky.social")


def test_a_handle_its_did_document_does_not_claim_is_refused(world) -> None:
    identity_routes(world)
    document = fixture("did_plc.json")
    document["alsoKnownAs"] = ["at://someone-else.bsky.social"]
    world.on("GET", f"https://plc.directory/{DID}", json_answer(200, document))

    with pytest.raises(identity.ResolveError, match="not confirmed by its account"):
        identity.resolve_account("handle", HANDLE)


def test_a_did_web_document_comes_from_its_host(world) -> None:
    did = "did:web:cafe.example.de"
    document = {**fixture("did_plc.json"), "id": did, "alsoKnownAs": ["at://cafe.example.de"]}
    document["service"] = [
        {**document["service"][0], "id": f"{did}#atproto_pds", "serviceEndpoint": "https://pds.example.de"}
    ]
    world.on("GET", "https://cafe.example.de/.well-known/did.json", json_answer(200, document))
    world.on("GET", "https://cafe.example.de/.well-known/atproto-did", httpx.Response(200, text=did))
    world.on(
        "GET",
        "https://pds.example.de/.well-known/oauth-protected-resource",
        json_answer(200, {"authorization_servers": ["https://pds.example.de"]}),
    )
    world.on(
        "GET",
        "https://pds.example.de/.well-known/oauth-authorization-server",
        json_answer(200, {**fixture("authorization_server.json"), "issuer": "https://pds.example.de"}),
    )

    account = identity.resolve_account("did", did)

    assert (account.handle, account.pds, account.issuer) == (
        "cafe.example.de",
        "https://pds.example.de",
        "https://pds.example.de",
    )


def test_a_pds_on_a_private_address_is_never_asked(world) -> None:
    identity_routes(world)
    document = fixture("did_plc.json")
    document["service"][0]["serviceEndpoint"] = "https://pds.intranet.example"
    world.on("GET", f"https://plc.directory/{DID}", json_answer(200, document))

    with pytest.raises(identity.ResolveError, match="points to a private or local address") as caught:
        identity.resolve_account("handle", HANDLE)

    assert not caught.value.transient
    assert "pds.intranet.example" not in world.hosts()


def test_metadata_must_answer_200_itself_not_a_redirect(world) -> None:
    identity_routes(world)
    world.on(
        "GET",
        f"{PDS}/.well-known/oauth-protected-resource",
        httpx.Response(302, headers={"Location": "https://evil.example/.well-known/oauth-protected-resource"}),
    )

    with pytest.raises(identity.ResolveError, match="HTTP 302"):
        identity.resolve_account("handle", HANDLE)
    assert "evil.example" not in world.hosts()


def test_an_authorization_server_that_names_another_issuer_is_refused(world) -> None:
    identity_routes(world)
    world.on(
        "GET",
        f"{ISSUER}/.well-known/oauth-authorization-server",
        json_answer(200, {**fixture("authorization_server.json"), "issuer": "https://evil.example"}),
    )

    with pytest.raises(identity.ResolveError, match="describes a different sign-in server"):
        identity.resolve_account("handle", HANDLE)


def test_an_authorization_server_without_the_atproto_profile_is_refused(world) -> None:
    identity_routes(world)
    metadata = fixture("authorization_server.json")
    metadata["scopes_supported"] = ["openid"]
    metadata["dpop_signing_alg_values_supported"] = ["RS256"]
    del metadata["pushed_authorization_request_endpoint"]
    world.on("GET", f"{ISSUER}/.well-known/oauth-authorization-server", json_answer(200, metadata))

    with pytest.raises(identity.ResolveError) as caught:
        identity.resolve_account("handle", HANDLE)

    for name in ("scopes_supported", "dpop_signing_alg_values_supported", "pushed_authorization_request_endpoint"):
        assert name in caught.value.message


def test_a_server_address_leads_to_its_authorization_server(world) -> None:
    identity_routes(world)
    world.on("GET", "https://bsky.social/.well-known/oauth-protected-resource", httpx.Response(404))

    assert identity.resolve_server(PDS)[0] == ISSUER  # a PDS names its authorization server
    assert identity.resolve_server(ISSUER)[0] == ISSUER  # an entryway is one itself


def test_a_slow_server_is_a_transient_problem(world) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    identity_routes(world)
    world.on("GET", f"{PDS}/.well-known/oauth-protected-resource", timeout)

    with pytest.raises(identity.ResolveError, match=f"{PDS_HOST} cannot be reached") as caught:
        identity.resolve_account("handle", HANDLE)
    assert caught.value.transient
