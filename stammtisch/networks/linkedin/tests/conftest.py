"""A scripted LinkedIn API behind httpx.MockTransport, and LinkedIn switched on with test client
credentials."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stammtisch.core.http import use_transport

FIXTURES = Path(__file__).parent / "fixtures"
CLIENT_ID = "86abcdefgh1234"
CLIENT_SECRET = "WPL_AP1.linkedin-client-secret-for-tests.9f8e7d"
REDIRECT_URI = "https://stammtisch.example/linkedin/callback/"
MEMBER_ID = "782bbtaQ"
MEMBER_URN = f"urn:li:person:{MEMBER_ID}"
ORG_ID = "2414183"
ORG_URN = f"urn:li:organization:{ORG_ID}"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


ACCESS = fixture("token.json")["access_token"]
REFRESH = fixture("token.json")["refresh_token"]


@dataclass
class FakeLinkedIn:
    """Answers by (method, path) — the path decoded, as LinkedIn routes it; an entry may be a
    Response, a handler, or a list of either (answered in turn, the last one repeated). Every
    request is kept in `requests`."""

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
def linkedin_enabled(settings) -> None:  # type: ignore[no-untyped-def]
    settings.LINKEDIN_CLIENT_ID = CLIENT_ID
    settings.LINKEDIN_CLIENT_SECRET = CLIENT_SECRET
    settings.LINKEDIN_REDIRECT_URI = REDIRECT_URI
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "linkedin": True}
    settings.HTTP_ALLOW_PRIVATE = True  # linked pages are fetched through the guard: no DNS in tests


@pytest.fixture
def api() -> Iterator[FakeLinkedIn]:
    fake = FakeLinkedIn()
    with use_transport(httpx.MockTransport(fake)):
        yield fake


def _credentials() -> dict[str, str]:
    from django.utils import timezone

    return {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "expires_at": (timezone.now() + dt.timedelta(days=50)).isoformat(),
        "refresh_expires_at": (timezone.now() + dt.timedelta(days=300)).isoformat(),
    }


@pytest.fixture
def page_channel(cast):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="linkedin",
        handle="cafe-koenigsbau",
        display_name="Café Königsbau",
        remote_account_id=ORG_URN,
        credentials=_credentials(),
        network_data={
            "kind": "organization",
            "scopes": fixture("token_pages.json")["scope"].split(","),
            "connected_by": MEMBER_ID,
            "role": "ADMINISTRATOR",
        },
        token_expires_at=timezone.now() + dt.timedelta(days=300),
    )


@pytest.fixture
def member_channel(cast):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="linkedin",
        handle=MEMBER_ID,
        display_name="Maria Königsbau",
        remote_account_id=MEMBER_URN,
        credentials=_credentials(),
        network_data={"kind": "member", "scopes": ["openid", "profile", "w_member_social"], "connected_by": MEMBER_ID},
        token_expires_at=timezone.now() + dt.timedelta(days=300),
    )
