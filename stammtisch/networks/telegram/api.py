"""Talking to the Telegram Bot API: the pinned version, one call helper and the error mapping.

Every call is `POST https://api.telegram.org/bot<token>/<method>` through `core.http.make_client`
(a fixed host, so no SSRF guard is needed). Answers are `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": 400, "description": "...", "parameters": {"retry_after": 5}}`.
The bot token is part of the URL: it never appears in an error message (`_scrub`), and
settings.LOGGING keeps httpx's request log (which prints URLs) quiet.

Reference: https://core.telegram.org/bots/api (Making requests, ResponseParameters, getMe,
getChat, getChatMember, getChatMemberCount, sendMessage, sendPhoto, sendVideo, sendAnimation,
sendMediaGroup, deleteMessages, getUpdates) and https://core.telegram.org/bots/faq (limits).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from stammtisch.core.http import make_client, network_error_from
from stammtisch.networks.base import NetworkError

# The one place the API version is pinned: the Bot API is versioned as a whole and has no version
# in its URLs; Stammtisch is written against this version of https://core.telegram.org/bots/api.
BOT_API_VERSION = "10.1"
BASE_URL = "https://api.telegram.org"

TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")


def valid_token(token: str) -> bool:
    """The shape BotFather gives (`123456789:AA...`); anything else could change the URL path."""
    return bool(TOKEN_PATTERN.match(token))


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "<token>") if token else text


def call(
    token: str,
    method: str,
    what: str,
    *,
    params: dict[str, Any] | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    timeout: float | None = None,
) -> Any:
    """Call `method` and return its `result`; raise NetworkError with the publisher's flags.

    Without files the parameters go as JSON; with files as multipart form fields (objects and
    lists JSON-encoded, as the Bot API expects)."""
    if not valid_token(token):
        raise NetworkError("Telegram: the bot token is missing or malformed; please reconnect", auth=True)
    url = f"{BASE_URL}/bot{token}/{method}"
    try:
        with make_client(timeout=timeout) as http:
            if files:
                form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
                response = http.post(url, data=form, files=files)
            else:
                response = http.post(url, json=params or {})
    except httpx.HTTPError as exc:
        error = network_error_from(exc, f"Telegram {what}")
        error.message = _scrub(error.message, token)
        error.args = (error.message,)
        raise error from None
    return result_of(response, what, token)


def result_of(response: httpx.Response, what: str, token: str = "") -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if response.status_code >= 500:
            raise NetworkError(f"Telegram {what}: HTTP {response.status_code}")
        raise NetworkError(f"Telegram {what}: HTTP {response.status_code}, not a Bot API answer", permanent=True)
    if body.get("ok") is True and response.is_success:
        return body.get("result")
    raise error_from(body, response.status_code, what, token)


def error_from(body: dict[str, Any], status: int, what: str, token: str = "") -> NetworkError:
    code = int(body.get("error_code") or status)
    description = _scrub(str(body.get("description") or f"HTTP {code}"), token)[:300]
    message = f"Telegram {what}: {description}"
    parameters = body.get("parameters") or {}
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if code == 429 or retry_after:
        return NetworkError(message, retry_after=float(retry_after or 30))
    if code in (401, 403, 404):
        # 401: token revoked; 403: the bot was removed from the chat or lost its rights;
        # 404: the Bot API answers a malformed or deleted token with "Not Found".
        return NetworkError(message, auth=True)
    if code == 409 and "terminated by other getupdates" in description.lower():
        return NetworkError(message, retry_after=5)  # two syncs of one bot met; the next one wins
    if code >= 500:
        return NetworkError(message)
    return NetworkError(message, permanent=True)  # 400 (bad request, too long, chat not found), 409


def chat_ref(value: str) -> str | int:
    """`@name`, `name`, `https://t.me/name` or a numeric id (-100...) as the Bot API's chat_id."""
    text = value.strip()
    for prefix in ("https://t.me/", "http://t.me/", "t.me/"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :].strip("/")
    if re.fullmatch(r"-?\d{5,20}", text):
        return int(text)
    name = text.removeprefix("@")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", name):
        raise ValueError(value)
    return f"@{name}"


def message_url(chat: dict[str, Any] | None, chat_id: str, message_id: int) -> str:
    """t.me link of a message: public channels by name, private ones through /c/<internal id>."""
    username = (chat or {}).get("username")
    if username:
        return f"https://t.me/{username}/{message_id}"
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return ""
