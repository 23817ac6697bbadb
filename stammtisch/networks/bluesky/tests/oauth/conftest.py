"""A scripted AT Protocol world for the OAuth tests: the handle's domain, the PLC directory, the
PDS and bsky.social's authorization server behind one httpx.MockTransport, answering by (method,
host, path), with servers that insist on DPoP nonces like the real ones. Stammtisch is set up as a
confidential client with a key made for the test session.

The checks of signatures here use `cryptography` directly and none of the code under test, so a
wrong signature or a wrong claim fails these tests."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.utils import timezone

from stammtisch.core import http as core_http
from stammtisch.core.http import use_transport

FIXTURES = Path(__file__).parent.parent / "fixtures"
OAUTH_FIXTURES = FIXTURES / "oauth"
BASE_URL = "https://stammtisch.example"
CLIENT_ID = f"{BASE_URL}/bluesky/oauth/client-metadata.json"
REDIRECT_URI = f"{BASE_URL}/bluesky/oauth/callback/"
DID = "did:plc:cafekoenigsbau4stuttgart"
OTHER_DID = "did:plc:annaschmidt7stuttgartxyz"
HANDLE = "cafe-koenigsbau.bsky.social"
PDS = "https://shiitake.us-east.host.bsky.network"
PDS_HOST = "shiitake.us-east.host.bsky.network"
ISSUER = "https://bsky.social"
AS_NONCE = "aS-nonce-Q2FmZUtvZW5pZ3NiYXU"
PDS_NONCE = "pds-nonce-U2NobG9zc3BsYXR6"
# Host names the tests use, with the address a fake DNS gives them.
ADDRESSES = {
    "bsky.social": "5.9.10.10",
    HANDLE: "5.9.10.11",
    PDS_HOST: "5.9.10.12",
    "pds.example.de": "5.9.10.20",
    "cafe.example.de": "5.9.10.21",
    "evil.example": "5.9.10.66",
    "pds.intranet.example": "10.0.0.5",
}


def fixture(name: str) -> Any:
    path = OAUTH_FIXTURES / name if (OAUTH_FIXTURES / name).exists() else FIXTURES / name
    return json.loads(path.read_text())


def pem_of(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


CLIENT_KEY = ec.generate_private_key(ec.SECP256R1())


# --- checking JWTs without the code under test ---------------------------------------------------


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_key_of(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "d" not in jwk
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64d(jwk["x"]), "big"), int.from_bytes(b64d(jwk["y"]), "big"), ec.SECP256R1()
    )
    return numbers.public_key()


def verified(token: str, public_key: ec.EllipticCurvePublicKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of an ES256 JWS whose signature `public_key` verifies (else it raises)."""
    head, body, signature = token.split(".")
    raw = b64d(signature)
    assert len(raw) == 64, "ES256 signatures are r||s, 64 bytes"
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public_key.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    header, claims = json.loads(b64d(head)), json.loads(b64d(body))
    assert header["alg"] == "ES256"
    return header, claims


def dpop_of(request: httpx.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request's DPoP proof, checked against the key in its own header."""
    proof = request.headers["DPoP"]
    header = json.loads(b64d(proof.split(".")[0]))
    assert header["typ"] == "dpop+jwt"
    return verified(proof, public_key_of(header["jwk"]))


def thumbprint(jwk: dict[str, Any]) -> str:
    members = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return b64e(hashlib.sha256(members.encode()).digest())


def ath(token: str) -> str:
    return b64e(hashlib.sha256(token.encode()).digest())


def form_of(request: httpx.Request) -> dict[str, str]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


# --- the fake network ---------------------------------------------------------------------------

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


@dataclass
class World:
    """Answers by (method, host, path); an entry is a list of answers given in turn (the last one
    repeats). Unknown routes answer 404. Every request is kept."""

    routes: dict[tuple[str, str, str], list[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, url: str, *answers: Answer) -> None:
        parsed = httpx.URL(url)
        self.routes[(method, parsed.host, parsed.path)] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # A copy: a request repeated with a new DPoP nonce is the same object with new headers.
        self.requests.append(
            httpx.Request(request.method, request.url, headers=request.headers.copy(), content=request.read())
        )
        answers = self.routes.get((request.method, request.url.host, request.url.path))
        if not answers:
            return httpx.Response(404, json={"error": "NotFound", "message": "Not Found"})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request) if callable(answer) else answer

    def sent(self, method: str, url: str) -> list[httpx.Request]:
        parsed = httpx.URL(url)
        return [r for r in self.requests if (r.method, r.url.host, r.url.path) == (method, parsed.host, parsed.path)]

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]


def json_answer(status: int, body: Any, *, nonce: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    extra = {**({"DPoP-Nonce": nonce} if nonce else {}), **(headers or {})}
    return httpx.Response(status, json=body, headers=extra)


def authorization_server(ok: Answer, *, nonce: str = AS_NONCE) -> Callable[[httpx.Request], httpx.Response]:
    """An authorization server endpoint that wants a DPoP proof with its current nonce (400
    use_dpop_nonce otherwise, as RFC 9449 §8 and Bluesky's server do)."""

    def handle(request: httpx.Request) -> httpx.Response:
        _header, claims = dpop_of(request)
        if claims.get("nonce") != nonce:
            return json_answer(400, fixture("error_use_dpop_nonce.json"), nonce=nonce)
        answer = ok(request) if callable(ok) else ok
        answer.headers["DPoP-Nonce"] = nonce
        return answer

    return handle


def resource_server(ok: Answer, *, nonce: str = PDS_NONCE) -> Callable[[httpx.Request], httpx.Response]:
    """A PDS endpoint that wants `Authorization: DPoP` and a proof with its current nonce (401 with
    WWW-Authenticate use_dpop_nonce otherwise, as https://docs.bsky.app/docs/advanced-guides/oauth-client
    shows)."""

    def handle(request: httpx.Request) -> httpx.Response:
        _header, claims = dpop_of(request)
        if claims.get("nonce") != nonce:
            return httpx.Response(
                401,
                json={"error": "use_dpop_nonce", "message": "Resource server requires nonce in DPoP proof"},
                headers={
                    "WWW-Authenticate": 'DPoP error="use_dpop_nonce", '
                    'error_description="Resource server requires nonce in DPoP proof"',
                    "DPoP-Nonce": nonce,
                },
            )
        answer = ok(request) if callable(ok) else ok
        answer.headers["DPoP-Nonce"] = nonce
        return answer

    return handle


def identity_routes(world: World) -> None:
    """The account's identity as it really is: handle → DID → DID document → PDS → bsky.social."""
    world.on("GET", f"https://{HANDLE}/.well-known/atproto-did", httpx.Response(200, text=f"{DID}\n"))
    world.on("GET", f"https://plc.directory/{DID}", json_answer(200, fixture("did_plc.json")))
    world.on("GET", f"{PDS}/.well-known/oauth-protected-resource", json_answer(200, fixture("protected_resource.json")))
    world.on(
        "GET",
        f"{ISSUER}/.well-known/oauth-authorization-server",
        json_answer(200, fixture("authorization_server.json")),
    )


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ADDRESSES:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ADDRESSES[host], port))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(core_http.socket, "getaddrinfo", resolve)


@pytest.fixture(autouse=True)
def oauth_configured(settings) -> None:  # type: ignore[no-untyped-def]
    settings.BLUESKY_OAUTH_KEY = pem_of(CLIENT_KEY)
    settings.BASE_URL = BASE_URL
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "bluesky": True}


@pytest.fixture
def world() -> Iterator[World]:
    fake = World()
    with use_transport(httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def oauth_channel(cast):  # type: ignore[no-untyped-def]
    """A channel connected by OAuth an hour ago, with its own DPoP key and the servers' nonces."""
    from stammtisch.networks.models import Channel

    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64e(numbers.x.to_bytes(32, "big")),
        "y": b64e(numbers.y.to_bytes(32, "big")),
        "d": b64e(key.private_numbers().private_value.to_bytes(32, "big")),
    }
    now = timezone.now()
    token = fixture("token.json")
    return Channel.objects.create(
        workspace=cast.workspace,
        network="bluesky",
        handle=HANDLE,
        display_name="Café Königsbau",
        remote_account_id=DID,
        credentials={
            "auth": "oauth",
            "access_token": token["access_token"],
            "refresh_token": token["refresh_token"],
            "expires_at": (now + dt.timedelta(minutes=59)).isoformat(),
            "dpop_jwk": jwk,
            "dpop_nonce_as": AS_NONCE,
            "dpop_nonce_pds": PDS_NONCE,
        },
        token_expires_at=now + dt.timedelta(days=30),
        network_data={
            "pds": PDS,
            "issuer": ISSUER,
            "scope": "atproto transition:generic",
            "oauth_started_at": (now - dt.timedelta(hours=1)).isoformat(),
        },
    )
