"""A scripted X API behind httpx.MockTransport, and X switched on with test client credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stammtisch.core.http import use_transport

FIXTURES = Path(__file__).parent / "fixtures"
CLIENT_ID = "M1M5R3BMVy13QmpScXkzTUt5OE46MTpjaQ"
CLIENT_SECRET = "x-client-secret-for-tests-9f8e7d6c5b4a"
ACCESS = "bWRWa0VxZ2tJV3dpbHNQbzJTc2NkRmx6VjdJc2ZnaGRJRkdVbm1wSXhqRG1WOjE3MzQ1Njc4OTAxMjM6MTowOmF0OjE"
REFRESH = "bWRWa0VxZ2tJV3dpbHNQbzJTc2NkRmx6VjdJc2ZnaGRJRkdVbm1wSXhqRG1WOjE3MzQ1Njc4OTAxMjM6MTowOnJ0OjE"
USER_ID = "2244994945"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class FakeX:
    """Answers by (method, path); an entry may be a Response, a handler, or a list of either
    (answered in turn, the last one repeated). Every request is kept in `requests`."""

    routes: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
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
def x_enabled(settings) -> None:  # type: ignore[no-untyped-def]
    settings.X_CLIENT_ID = CLIENT_ID
    settings.X_CLIENT_SECRET = CLIENT_SECRET
    settings.X_REDIRECT_URI = "https://stammtisch.example/x/callback/"
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "x": True}


@pytest.fixture
def api() -> Iterator[FakeX]:
    fake = FakeX()
    with use_transport(httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def x_channel(cast):  # type: ignore[no-untyped-def]
    import datetime as dt

    from django.utils import timezone

    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="x",
        handle="cafekoenigsbau",
        display_name="Café Königsbau",
        remote_account_id=USER_ID,
        credentials={
            "access_token": ACCESS,
            "refresh_token": REFRESH,
            "expires_at": (timezone.now() + dt.timedelta(hours=2)).isoformat(),
        },
    )
