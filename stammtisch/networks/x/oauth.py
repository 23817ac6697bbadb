"""X's OAuth 2.0 Authorization Code flow with PKCE, for a confidential client.

1. `authorization_url` with `state` (bound to the user's session by the view) and an S256
   `code_challenge` at https://x.com/i/oauth2/authorize.
2. `exchange_code` at POST https://api.x.com/2/oauth2/token with HTTP Basic auth (client id and
   secret from the settings) and the PKCE verifier.
3. `refresh` with the refresh token (`offline.access`): access tokens live two hours, and each
   refresh hands out a new refresh token (the old one stops working).

https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code and
https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from stammtisch.networks.base import NetworkError
from stammtisch.networks.x import api

# Read our own profile and posts, mentions; post and delete; upload media; a refresh token; like
# and unlike (like.write) and hide replies in our conversations (tweet.moderate.write) from the inbox.
SCOPES = "tweet.read tweet.write users.read offline.access media.write like.write tweet.moderate.write"


def authorization_url(*, state: str, challenge: str) -> str:
    query = {
        "response_type": "code",
        "client_id": settings.X_CLIENT_ID,
        "redirect_uri": settings.X_REDIRECT_URI,
        "scope": SCOPES,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{api.AUTHORIZE_URL}?{urlencode(query)}"


def _token_request(form: dict[str, str], what: str) -> dict[str, Any]:
    """POST /2/oauth2/token as a confidential client. An unusable code or refresh token (400
    invalid_request / invalid_grant) is an `auth` error: the user must connect again. A rejected
    client (401 invalid_client) is a server misconfiguration, permanent but not the channel's fault."""
    with api.client() as http:
        response = api.send(
            http, "POST", api.TOKEN, what, data=form, auth=(settings.X_CLIENT_ID, settings.X_CLIENT_SECRET)
        )
    if response.status_code == 400:
        raise NetworkError(f"X {what}: {api.error_text(response) or 'HTTP 400'}", auth=True)
    if response.status_code == 401:
        raise NetworkError(
            f"X {what}: the server's X client id or secret was rejected ({api.error_text(response) or 'HTTP 401'})",
            permanent=True,
        )
    body = api.json_of(api.check(response, what), what)
    if not body.get("access_token"):
        raise NetworkError(f"X {what}: no access token in the answer", permanent=True)
    return body


def exchange_code(code: str, verifier: str) -> dict[str, Any]:
    return _token_request(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": settings.X_REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": settings.X_CLIENT_ID,
        },
        "token",
    )


def refresh(refresh_token: str) -> dict[str, Any]:
    return _token_request(
        {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": settings.X_CLIENT_ID},
        "token refresh",
    )


def me(token: str) -> dict[str, Any]:
    """GET /2/users/me: the account the token belongs to."""
    with api.client(token) as http:
        body = api.json_of(
            api.call(http, "GET", api.ME, "account", params={"user.fields": "profile_image_url,public_metrics"}),
            "account",
        )
    user = body.get("data") or {}
    if not isinstance(user, dict) or not user.get("id") or not user.get("username"):
        raise NetworkError("X account: unexpected answer", permanent=True)
    return user
