"""A scripted network for publisher tests: it keeps what was "published" in memory and fails on
cue. Registered as network "fake" by the `fake_network` fixture (conftest.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from stammtisch.networks.base import Network, NetworkError, Outgoing, Remote, TextRules


class Crash(BaseException):
    """The worker process dies mid-call (SIGKILL): nothing after the call runs."""


@dataclass
class FakeState:
    posts: dict[str, Remote] = field(default_factory=dict)  # idempotency key -> remote
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, key)
    # What the next publish calls do, in order: "ok", an exception to raise, or
    # "accept_then_timeout" / "accept_then_crash" (the post is stored, then the call fails).
    script: list[object] = field(default_factory=list)
    find_script: list[object] = field(default_factory=list)

    def publishes(self) -> int:
        return sum(1 for op, _key in self.calls if op == "publish")


STATE = FakeState()


class FakeNetwork(Network):
    key = "fake"
    label = "Fake"
    rules = TextRules(max_length=500)

    def publish(self, channel: object, outgoing: Outgoing, idempotency_key: str) -> Remote:
        STATE.calls.append(("publish", idempotency_key))
        step = STATE.script.pop(0) if STATE.script else "ok"
        if isinstance(step, BaseException):
            raise step
        remote = Remote(
            id=f"fake-{len(STATE.posts) + 1}",
            url=f"https://fake.example/{len(STATE.posts) + 1}",
            published_at=timezone.now(),
        )
        STATE.posts[idempotency_key] = remote
        if step == "accept_then_timeout":
            raise NetworkError("timed out waiting for the response", outcome_unknown=True)
        if step == "accept_then_crash":
            raise Crash
        return remote

    def find_published(self, channel: object, idempotency_key: str, since: dt.datetime) -> Remote | None:
        STATE.calls.append(("find_published", idempotency_key))
        step = STATE.find_script.pop(0) if STATE.find_script else "ok"
        if isinstance(step, BaseException):
            raise step
        return STATE.posts.get(idempotency_key)
