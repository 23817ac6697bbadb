"""A scripted Threads API behind httpx.MockTransport, and Threads switched on with a test app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from stammtisch.core.http import use_transport
from stammtisch.networks.threads import api

FIXTURES = Path(__file__).parent / "fixtures"
APP_ID = "990602627938098"
APP_SECRET = "threads-app-secret-for-tests-0a1b2c3d"
USER_ID = "7731258935246392"
HANDLE = "cafe.koenigsbau"
TOKEN = "THAAJZBmqLongLivedCafeKoenigsbau4d5e6f"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def ok(name: str, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=fixture(name), **kwargs)


def error(name: str, status: int = 400, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json=fixture(name), **kwargs)


def form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


@dataclass
class FakeThreads:
    """Answers by (method, path): API paths without the "/v1.0/" prefix ("me", "{id}/threads"),
    the unversioned token endpoints as they are ("oauth/access_token", "access_token",
    "refresh_access_token"). An entry may be a Response, a handler, or a list of either (answered
    in turn, the last one repeated). Unknown objects get Threads' "does not exist" error."""

    routes: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Any) -> None:
        self.routes[(method, path)] = list(answers)

    @staticmethod
    def _route(request: httpx.Request) -> str:
        assert request.url.host == "graph.threads.net", request.url
        path = request.url.path.lstrip("/")
        prefix = f"{api.API_VERSION}/"
        return path[len(prefix) :] if path.startswith(prefix) else path

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answers = self.routes.get((request.method, self._route(request)))
        if not answers:
            return error("error_100_33.json")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request) if callable(answer) else answer

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and self._route(r) == path]


@pytest.fixture(autouse=True)
def threads_enabled(settings) -> None:  # type: ignore[no-untyped-def]
    settings.THREADS_APP_ID = APP_ID
    settings.THREADS_APP_SECRET = APP_SECRET
    settings.THREADS_REDIRECT_URI = "https://stammtisch.example/threads/callback/"
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "threads": True}


@pytest.fixture
def threads_api() -> Iterator[FakeThreads]:
    fake = FakeThreads()
    with use_transport(httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def threads_channel(cast):  # type: ignore[no-untyped-def]
    """A profile connected five days ago: its token has 55 days left (no refresh due)."""
    import datetime as dt

    from django.utils import timezone

    from stammtisch.networks.models import Channel

    now = timezone.now()
    return Channel.objects.create(
        workspace=cast.workspace,
        network="threads",
        handle=HANDLE,
        display_name="Café Königsbau",
        remote_account_id=USER_ID,
        credentials={"access_token": TOKEN, "issued_at": (now - dt.timedelta(days=5)).isoformat()},
        token_expires_at=now + dt.timedelta(days=55),
    )
