"""A scripted Mastodon instance behind httpx.MockTransport, and a name resolver for the SSRF guard.

`social.example` resolves to a public address (so the guard lets it through), `evil.example` to
10.0.0.5 and `loop.example` to 127.0.0.1 (so the guard refuses them); nothing else resolves.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stammtisch.core import http as core_http
from stammtisch.core.http import use_transport

FIXTURES = Path(__file__).parent / "fixtures"
INSTANCE = "https://social.example"
ADDRESSES = {
    "social.example": "93.184.215.14",
    "other.example": "93.184.215.15",
    "evil.example": "10.0.0.5",
    "loop.example": "127.0.0.1",
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeInstance:
    """Answers by (method, path); an entry may be a Response, a handler, or a list of either
    (answered in turn, the last one repeated). Every request is kept in `requests`."""

    routes: dict[tuple[str, str], Any] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Any) -> None:
        self.routes[(method, path)] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answers = self.routes.get((request.method, request.url.path))
        if not answers:
            return httpx.Response(404, json=fixture("error_404.json"))
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request) if callable(answer) else answer

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch) -> None:
    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ADDRESSES:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ADDRESSES[host], port))]
        if host.replace(".", "").isdigit():  # an IP literal resolves to itself
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(core_http.socket, "getaddrinfo", resolve)


@pytest.fixture
def instance() -> Iterator[FakeInstance]:
    fake = FakeInstance()
    with use_transport(httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def mastodon_channel(cast):  # type: ignore[no-untyped-def]
    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="mastodon",
        handle="koenigsbau@social.example",
        display_name="Café Königsbau",
        remote_account_id="109876",
        credentials={"access_token": "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0"},
        network_data={"instance": INSTANCE},
    )
