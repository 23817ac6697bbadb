"""Threads' sign-in (the Authorization Window of the Threads use case in a Meta app) and its tokens.

1. `authorization_url`: the Authorization Window with `state` (kept in the user's session by the
   view), the Threads app id, our redirect URI and the permissions below. Threads documents no PKCE.
2. `exchange_code`: code -> short-lived token (POST /oauth/access_token, one hour) and the
   Threads user id.
3. `long_lived`: short-lived -> long-lived token (GET /access_token, grant_type=th_exchange_token,
   60 days).
4. `refresh`: a long-lived token at least 24 hours old and not expired -> a fresh one, again 60 days
   from now (GET /refresh_access_token, grant_type=th_refresh_token). A token not refreshed within
   60 days expires for good: the person must connect again.

https://developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions and
https://developers.facebook.com/docs/threads/get-started/long-lived-tokens
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from stammtisch.networks.base import NetworkError
from stammtisch.networks.threads import api

# What each permission is for (docs/networks/threads.md repeats this). Every one but threads_basic
# needs Meta's App Review before people without a role on the app can grant it.
PERMISSIONS: dict[str, str] = {
    "threads_basic": "read the profile and the account's own posts (needed for every call)",
    "threads_content_publish": "publish posts",
    "threads_manage_replies": "publish replies",
    "threads_read_replies": "read the replies and conversations under our posts",
    "threads_manage_insights": "read views, likes, replies, reposts, quotes and followers",
    "threads_delete": "delete posts",
    "threads_manage_mentions": "read posts that mention the account",
}
SCOPES = ",".join(PERMISSIONS)
PROFILE_FIELDS = "id,username,name,threads_profile_picture_url"


def authorization_url(*, state: str) -> str:
    query = {
        "client_id": settings.THREADS_APP_ID,
        "redirect_uri": settings.THREADS_REDIRECT_URI,
        "scope": SCOPES,
        "response_type": "code",
        "state": state,
    }
    return f"{api.AUTHORIZE_URL}?{urlencode(query)}"


def _token(method: str, url: str, label: str, **kwargs: Any) -> dict[str, Any]:
    """One token request. An unusable code (used, expired, issued for another redirect URI:
    error code 100) or token (190) is an `auth` error: the person must connect again."""
    with api.client() as http:
        response = api.send(http, method, url, label, **kwargs)
    if api.error_code(response) == 100:
        message = str(api.graph_error(response).get("message") or "")[:300]
        raise NetworkError(f"{label}: {message}", auth=True)
    body = api.json_of(api.check(response, label), label)
    if not body.get("access_token"):
        raise NetworkError(f"{label}: no access token in the answer", permanent=True)
    return body


def exchange_code(code: str) -> dict[str, Any]:
    """{"access_token", "user_id"}: a short-lived token."""
    form = {
        "client_id": settings.THREADS_APP_ID,
        "client_secret": settings.THREADS_APP_SECRET,
        "grant_type": "authorization_code",
        "redirect_uri": settings.THREADS_REDIRECT_URI,
        "code": code,
    }
    return _token("POST", api.TOKEN_URL, "Threads login", data=form)


def long_lived(short_token: str) -> dict[str, Any]:
    """{"access_token", "token_type", "expires_in"}: a token good for 60 days."""
    params = {
        "grant_type": "th_exchange_token",
        "client_secret": settings.THREADS_APP_SECRET,
        "access_token": short_token,
    }
    return _token("GET", api.EXCHANGE_URL, "Threads long-lived token", params=params)


def refresh(token: str) -> dict[str, Any]:
    """{"access_token", "token_type", "expires_in"}: the same long-lived token, 60 days from now."""
    params = {"grant_type": "th_refresh_token", "access_token": token}
    return _token("GET", api.REFRESH_URL, "Threads token refresh", params=params)


def me(token: str) -> dict[str, Any]:
    """GET /me: the Threads profile the token belongs to."""
    with api.client(token) as http:
        user = api.call(http, "GET", "me", "Threads profile", params={"fields": PROFILE_FIELDS})
    if not user.get("id") or not user.get("username"):
        raise NetworkError("Threads profile: unexpected answer", permanent=True)
    return user
