"""A scripted PDS behind httpx.MockTransport: answers by XRPC method (NSID), keeps every request."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from stammtisch.core import http as core_http
from stammtisch.core.http import use_transport

FIXTURES = Path(__file__).parent / "fixtures"
DID = "did:plc:cafekoenigsbau4stuttgart"
HANDLE = "cafe-koenigsbau.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
# Host names the tests may use, with the address a fake DNS gives them.
ADDRESSES = {"bsky.social": "5.9.10.10", "pds.example.de": "5.9.10.20", "pds.intranet.example": "10.0.0.5"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_jwt(subject: str, lifetime: dt.timedelta, kind: str = "access") -> str:
    """A JWT shaped like the PDS's (HS256, `scope`, `sub`, `exp`); the signature is not checked."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    exp = int((timezone.now() + lifetime).timestamp())
    scope = "com.atproto.appPass" if kind == "access" else "com.atproto.refresh"
    return (
        f"{part({'typ': 'at+jwt', 'alg': 'HS256'})}.{part({'scope': scope, 'sub': subject, 'exp': exp})}.c2lnbmF0dXJl"
    )


def session_answer(name: str = "createSession.json", *, refresh: bool = True) -> dict[str, Any]:
    body = fixture(name)
    body["accessJwt"] = make_jwt(DID, dt.timedelta(hours=2))
    body["refreshJwt"] = make_jwt(DID, dt.timedelta(days=90), "refresh") if refresh else None
    if not refresh:
        del body["refreshJwt"]
    return body


def error(status: int, name: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=fixture(name), headers=headers)


def ok(name_or_body: str | dict[str, Any]) -> httpx.Response:
    body = fixture(name_or_body) if isinstance(name_or_body, str) else name_or_body
    return httpx.Response(200, json=body)


@dataclass
class FakePds:
    routes: dict[str, list[Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, nsid: str, *answers: Any) -> None:
        """Answer `nsid` with these answers in turn; the last one repeats."""
        self.routes[nsid] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        nsid = request.url.path.removeprefix("/xrpc/")
        answers = self.routes.get(nsid)
        if not answers:
            return httpx.Response(501, json={"error": "MethodNotImplemented", "message": "Method Not Implemented"})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request) if callable(answer) else answer

    def calls(self, nsid: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == f"/xrpc/{nsid}"]

    def json_of(self, nsid: str, index: int = 0) -> Any:
        return json.loads(self.calls(nsid)[index].content)


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ADDRESSES:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ADDRESSES[host], port))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(core_http.socket, "getaddrinfo", resolve)


@pytest.fixture
def pds() -> Iterator[FakePds]:
    fake = FakePds()
    with use_transport(httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def bluesky_channel(cast):  # type: ignore[no-untyped-def]
    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="bluesky",
        handle=HANDLE,
        display_name="Café Königsbau",
        remote_account_id=DID,
        credentials={
            "access_jwt": make_jwt(DID, dt.timedelta(hours=2)),
            "refresh_jwt": make_jwt(DID, dt.timedelta(days=90), "refresh"),
        },
        token_expires_at=timezone.now() + dt.timedelta(days=90),
        network_data={"pds": "https://bsky.social"},
    )
