"""A scripted Graph API behind httpx.MockTransport, shared by the Facebook and Instagram tests."""

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
from stammtisch.networks.meta import api

NETWORKS = Path(__file__).resolve().parents[2]
APP_ID = "4623950114"
APP_SECRET = "meta-app-secret-for-tests-1a2b3c4d5e6f"
PAGE_ID = "104857391234567"
IG_ID = "17841405822304914"
PAGE_TOKEN = "EAAGm0PX4ZCpsBApageTokenCafeKoenigsbau"


def fixture(network: str, name: str) -> Any:
    return json.loads((NETWORKS / network / "tests" / "fixtures" / name).read_text())


def ok(network: str, name: str, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=fixture(network, name), **kwargs)


def error(name: str, status: int = 400, **kwargs: Any) -> httpx.Response:
    network = "instagram" if (NETWORKS / "instagram" / "tests" / "fixtures" / name).exists() else "facebook"
    return httpx.Response(status, json=fixture(network, name), **kwargs)


@dataclass
class FakeGraph:
    """Answers by (method, path without the version prefix); an entry may be a Response, a
    handler, or a list of either (answered in turn, the last one repeated)."""

    routes: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Any) -> None:
        self.routes[(method, path)] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        prefix = f"/{api.GRAPH_VERSION}/"
        assert request.url.host == "graph.facebook.com" and request.url.path.startswith(prefix), request.url
        answers = self.routes.get((request.method, request.url.path[len(prefix) :]))
        if not answers:
            return error("error_100_33.json")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request) if callable(answer) else answer

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == f"/{api.GRAPH_VERSION}/{path}"]


def form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


@pytest.fixture(autouse=True)
def meta_enabled(settings) -> None:  # type: ignore[no-untyped-def]
    settings.META_APP_ID = APP_ID
    settings.META_APP_SECRET = APP_SECRET
    settings.META_REDIRECT_URI = "https://stammtisch.example/meta/callback/"
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "facebook": True, "instagram": True}


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    with use_transport(httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def page_channel(cast):  # type: ignore[no-untyped-def]
    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="facebook",
        handle="cafekoenigsbau",
        display_name="Café Königsbau",
        remote_account_id=PAGE_ID,
        credentials={"access_token": PAGE_TOKEN},
        network_data={"page_id": PAGE_ID},
    )


@pytest.fixture
def ig_channel(cast):  # type: ignore[no-untyped-def]
    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="instagram",
        handle="cafe.koenigsbau",
        display_name="Café Königsbau",
        remote_account_id=IG_ID,
        credentials={"access_token": PAGE_TOKEN},
        network_data={"page_id": PAGE_ID},
    )
