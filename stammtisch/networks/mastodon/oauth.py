"""Mastodon's OAuth 2 authorization code flow with PKCE, on any instance.

1. `server_info`: which scopes the instance knows (RFC 8414 metadata, Mastodon 4.3+; older
   instances answer 404 and get `read:accounts` instead of `profile`).
2. `register_app` (actions.py caches the result per instance, redirect URI and scopes).
3. `authorization_url` with `state` (bound to the user's session by the view) and an S256
   `code_challenge`; the verifier never leaves our server until the token request.
4. `exchange_code` sends the code and the verifier; `verify_account` reads the account.

https://docs.joinmastodon.org/spec/oauth/, https://docs.joinmastodon.org/methods/oauth/,
https://docs.joinmastodon.org/methods/apps/, https://docs.joinmastodon.org/api/oauth-scopes/
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings

from stammtisch.networks.base import NetworkError
from stammtisch.networks.mastodon import api

# The least we need: read our own profile, post and delete statuses, upload media, read
# notifications (mentions, favourites, boosts, follows) and our own statuses (metrics, find).
SCOPES = "profile read:statuses read:notifications write:statuses write:media"
# Before Mastodon 4.3 there is no `profile` scope; `read:accounts` covers verify_credentials.
LEGACY_SCOPES = "read:accounts read:statuses read:notifications write:statuses write:media"
CLIENT_NAME = "Stammtisch"


class StaleApp(Exception):
    """The instance no longer knows our registered app (before 4.3 unused apps were removed)."""


@dataclass(frozen=True)
class ServerInfo:
    scopes: str
    pkce: bool  # the instance says it supports S256 (4.3+); we send PKCE to every instance


def server_info(instance: str) -> ServerInfo:
    with api.client(instance) as http:
        try:
            response = http.get(api.SERVER_METADATA)
        except httpx.HTTPError as exc:
            raise api.transport_error(exc, "server metadata") from None
    if response.status_code == 404:
        return ServerInfo(scopes=LEGACY_SCOPES, pkce=False)
    api.check(response, "server metadata")
    body = api.json_of(response, "server metadata")
    if not isinstance(body, dict):
        raise NetworkError("Mastodon server metadata: unexpected answer", permanent=True)
    supported = set(body.get("scopes_supported") or [])
    scopes = SCOPES if "profile" in supported else LEGACY_SCOPES
    return ServerInfo(scopes=scopes, pkce="S256" in (body.get("code_challenge_methods_supported") or []))


def register_app(instance: str, redirect_uri: str, scopes: str) -> tuple[str, str]:
    """POST /api/v1/apps. Returns (client_id, client_secret)."""
    payload = {
        "client_name": CLIENT_NAME,
        "redirect_uris": [redirect_uri],
        "scopes": scopes,
        "website": settings.BASE_URL,
    }
    with api.client(instance) as http:
        body = api.json_of(api.call(http, "POST", api.APPS, "app registration", json=payload), "app registration")
    client_id, client_secret = (body or {}).get("client_id"), (body or {}).get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_id or not client_secret:
        raise NetworkError("Mastodon app registration: no client credentials in the answer", permanent=True)
    return client_id, client_secret


def authorization_url(
    instance: str, *, client_id: str, redirect_uri: str, scopes: str, state: str, challenge: str, lang: str = ""
) -> str:
    query: dict[str, str] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scopes,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        # Several accounts on one instance: let the user pick the account each time.
        "force_login": "true",
    }
    if lang:
        query["lang"] = lang
    return f"{instance}{api.AUTHORIZE}?{urlencode(query)}"


def exchange_code(
    instance: str, *, client_id: str, client_secret: str, redirect_uri: str, code: str, verifier: str
) -> dict[str, Any]:
    """POST /oauth/token. Returns the token response ({"access_token", "scope", ...})."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    with api.client(instance) as http:
        try:
            response = http.post(api.TOKEN, data=form)
        except httpx.HTTPError as exc:
            raise api.transport_error(exc, "token") from None
    if response.status_code == 401 and "invalid_client" in api.error_text(response):
        raise StaleApp(instance)
    if response.status_code == 400:
        # invalid_grant: the code was used, expired or does not match; the user starts again.
        raise NetworkError(f"Mastodon token: {api.error_text(response) or 'HTTP 400'}", permanent=True)
    body = api.json_of(api.check(response, "token"), "token")
    if not isinstance(body, dict) or not body.get("access_token"):
        raise NetworkError("Mastodon token: no access token in the answer", permanent=True)
    return body


def verify_account(instance: str, token: str) -> dict[str, Any]:
    """GET /api/v1/accounts/verify_credentials: the account the token belongs to."""
    with api.client(instance, token) as http:
        body = api.json_of(api.call(http, "GET", api.VERIFY_CREDENTIALS, "account"), "account")
    if not isinstance(body, dict) or not body.get("id") or not body.get("username"):
        raise NetworkError("Mastodon account: unexpected answer", permanent=True)
    return body
