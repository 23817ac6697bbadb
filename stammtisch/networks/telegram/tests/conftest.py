"""A scripted Bot API behind httpx.MockTransport: answers by method name, keeps every request."""

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
TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
CHANNEL_ID = "-1001234567890"
GROUP_ID = "-1009876543210"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def answer(name: str) -> httpx.Response:
    body = fixture(name)
    return httpx.Response(200 if body["ok"] else body["error_code"], json=body)


@dataclass
class FakeBotApi:
    routes: dict[str, list[Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, *answers: Any) -> None:
        self.routes[method] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        assert request.url.host == "api.telegram.org"
        bot, method = request.url.path.strip("/").split("/")
        if bot != f"bot{TOKEN}":
            return answer("error_401.json")
        answers = self.routes.get(method)
        if not answers:
            return httpx.Response(404, json={"ok": False, "error_code": 404, "description": "Not Found"})
        item = answers.pop(0) if len(answers) > 1 else answers[0]
        return item(request) if callable(item) else item

    def calls(self, method: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(f"/{method}")]

    def json_of(self, method: str, index: int = 0) -> Any:
        return json.loads(self.calls(method)[index].content)


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi()
    with use_transport(httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def telegram_channel(cast):  # type: ignore[no-untyped-def]
    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="telegram",
        handle="cafe_koenigsbau",
        display_name="Café Königsbau",
        remote_account_id=CHANNEL_ID,
        credentials={"bot_token": TOKEN},
        network_data={"bot_id": "7000000001", "username": "cafe_koenigsbau", "linked_chat_id": GROUP_ID},
    )
