"""The OAuth 2 bookkeeping every network's connect flow shares: `state` values bound to the
browser session (used once, expiring), PKCE pairs (RFC 7636, S256), and the accounts a callback
found kept for a choice page (LinkedIn pages, Facebook Pages), one choice per workspace.

A session may have a few flows open at once (several tabs); only the newest `MAX_PENDING` are
kept per network.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

FLOW_LIFETIME = dt.timedelta(minutes=15)
MAX_PENDING = 5
CHOICE_LIFETIME = dt.timedelta(minutes=30)


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge) with the S256 method."""
    verifier = secrets.token_urlsafe(64)[:128]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def start_flow(session: SessionBase, key: str, data: dict[str, Any]) -> str:
    """Remember `data` for a new flow under session key `key`; returns its `state`."""
    state = secrets.token_urlsafe(32)
    pending: dict[str, Any] = dict(session.get(key) or {})
    pending[state] = {**data, "started": timezone.now().isoformat()}
    session[key] = dict(sorted(pending.items(), key=lambda item: item[1]["started"])[-MAX_PENDING:])
    return state


def take_flow(session: SessionBase, key: str, state: str) -> dict[str, Any] | None:
    """The flow this session started with `state` (used once), if it is still fresh."""
    pending: dict[str, Any] = dict(session.get(key) or {})
    flow = pending.pop(state, None) if state else None
    session[key] = pending
    if not isinstance(flow, dict):
        return None
    if timezone.now() - dt.datetime.fromisoformat(str(flow.get("started"))) > FLOW_LIFETIME:
        return None
    return flow


def keep_choice(session: SessionBase, key: str, slug: str, data: dict[str, Any]) -> None:
    """Keep what a callback found for the choice page of workspace `slug` (replacing an older one)."""
    choices: dict[str, Any] = dict(session.get(key) or {})
    choices[slug] = {**data, "started": timezone.now().isoformat()}
    session[key] = choices


def get_choice(session: SessionBase, key: str, slug: str) -> dict[str, Any] | None:
    """What `keep_choice` kept for workspace `slug`, if it is still fresh."""
    choice = (session.get(key) or {}).get(slug)
    if not isinstance(choice, dict):
        return None
    if timezone.now() - dt.datetime.fromisoformat(str(choice.get("started"))) > CHOICE_LIFETIME:
        return None
    return choice


def forget_choice(session: SessionBase, key: str, slug: str) -> None:
    choices: dict[str, Any] = dict(session.get(key) or {})
    choices.pop(slug, None)
    session[key] = choices
