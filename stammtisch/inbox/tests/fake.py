"""A scripted network for inbox tests: `fetch_activity` hands out the pages in STATE.pages (or
raises what is scripted), `reply` stores replies in memory and fails on cue. Registered as
network "inboxfake" by the `fake_network` fixture (conftest.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from stammtisch.networks.base import Cursor, Event, Network, NetworkError, Remote, TextRules


@dataclass
class FakeState:
    # fetch_activity: each call takes the next entry: a list of events (returned with the cursor
    # {"page": n}) or an exception to raise. No entry left: no events, the cursor unchanged.
    pages: list[object] = field(default_factory=list)
    cursors_seen: list[Cursor] = field(default_factory=list)
    replies: dict[str, Remote] = field(default_factory=dict)  # idempotency key -> remote
    calls: list[tuple[str, str]] = field(default_factory=list)
    # reply: "ok", an exception, or "accept_then_timeout" (stored, then the call fails)
    reply_script: list[object] = field(default_factory=list)

    def reply_calls(self) -> int:
        return sum(1 for op, _key in self.calls if op == "reply")


STATE = FakeState()


class InboxFakeNetwork(Network):
    key = "inboxfake"
    label = "Inbox fake"
    rules = TextRules(max_length=500)

    def fetch_activity(self, channel: object, cursor: Cursor) -> tuple[list[Event], Cursor]:
        STATE.cursors_seen.append(dict(cursor))
        STATE.calls.append(("fetch", ""))
        if not STATE.pages:
            return [], cursor
        step = STATE.pages.pop(0)
        if isinstance(step, BaseException):
            raise step
        assert isinstance(step, list)
        return step, {"page": int(cursor.get("page", 0)) + 1}

    def reply(self, channel: object, to: Remote, text: str, idempotency_key: str) -> Remote:
        STATE.calls.append(("reply", idempotency_key))
        step = STATE.reply_script.pop(0) if STATE.reply_script else "ok"
        if isinstance(step, BaseException):
            raise step
        remote = Remote(id=f"our-reply-{len(STATE.replies) + 1}", published_at=timezone.now())
        STATE.replies[idempotency_key] = remote
        if step == "accept_then_timeout":
            raise NetworkError("timed out waiting for the response", outcome_unknown=True)
        return remote

    def find_published(self, channel: object, idempotency_key: str, since: dt.datetime) -> Remote | None:
        STATE.calls.append(("find_published", idempotency_key))
        return STATE.replies.get(idempotency_key)


T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def comment(n: int, *, post: str = "post-1", text: str = "", minutes: int | None = None, **data: object) -> Event:
    return Event(
        kind="comment",
        remote_id=f"c-{n}",
        occurred_at=T0 + dt.timedelta(minutes=n if minutes is None else minutes),
        author_id=f"person-{n}",
        author_handle=f"fan{n}",
        author_name=f"Fan Nummer{n}",
        text=text or f"Kommentar {n}: Habt ihr am Sonntag offen?",
        in_reply_to=post,
        post_remote_id=post,
        data=dict(data),
    )
