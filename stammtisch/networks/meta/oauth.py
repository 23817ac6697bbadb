"""Facebook Login for Business: one Meta app connects Facebook Pages and the Instagram professional
accounts linked to them.

1. `authorization_url`: the Login dialog with `state` (kept in the user's session by the view),
   our redirect URI from the settings and the permissions below.
2. `exchange_code`: code -> short-lived user token (GET /oauth/access_token).
3. `long_lived`: short-lived -> long-lived user token (grant_type=fb_exchange_token, about 60 days).
4. `managed_pages`: GET /me/accounts with that long-lived token. Page tokens obtained this way do
   not expire ("Long-lived Page access token ... has no expiration date"), so Page and Instagram
   channels store `token_expires_at = None`. They stop working when the person loses the Page role,
   changes the password or removes the app: a code 190 answer then marks the channel for
   reconnection.

https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow and
https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from stammtisch.networks.base import NetworkError
from stammtisch.networks.meta import api

# What each permission is for (docs/networks/facebook.md and instagram.md repeat this; all but
# pages_show_list need Meta's App Review before people outside the app's roles can grant them).
PERMISSIONS: dict[str, str] = {
    "pages_show_list": "list the Pages the person manages (connect flow)",
    "pages_manage_posts": "publish and delete Page posts",
    "pages_read_engagement": "read Page posts, followers and engagement; needed for Instagram too",
    "pages_manage_engagement": "comment on and answer comments on Page posts",
    "pages_read_user_content": "read visitors' comments and posts on the Page",
    "read_insights": "read Page and post insights",
    "instagram_basic": "read the Instagram account's profile and media",
    "instagram_content_publish": "publish to Instagram",
    "instagram_manage_comments": "read and answer Instagram comments, post the first comment",
    "instagram_manage_insights": "read Instagram insights (reach, views)",
    "business_management": "see Pages and Instagram accounts owned through a Business portfolio",
}
SCOPES = ",".join(PERMISSIONS)
PAGE_FIELDS = (
    "id,name,username,access_token,tasks,picture{url},instagram_business_account{id,username,name,profile_picture_url}"
)
MAX_PAGE_LISTS = 10  # pages of /me/accounts (100 Pages each)


def authorization_url(*, state: str) -> str:
    query = {
        "client_id": settings.META_APP_ID,
        "redirect_uri": settings.META_REDIRECT_URI,
        "state": state,
        "scope": SCOPES,
        "response_type": "code",
    }
    return f"{api.DIALOG_URL}?{urlencode(query)}"


def _token(params: dict[str, str], label: str) -> dict[str, Any]:
    with api.client() as http:
        response = api.send(http, "GET", "oauth/access_token", label, params=params)
    if api.error_code(response) == 100:  # a used or expired code, a wrong redirect URI
        message = str(api.graph_error(response).get("message") or "")[:300]
        raise NetworkError(f"{label}: {message}", auth=True)
    body = api.json_of(api.check(response, label), label)
    if not body.get("access_token"):
        raise NetworkError(f"{label}: no access token in the answer", permanent=True)
    return body


def exchange_code(code: str) -> dict[str, Any]:
    return _token(
        {
            "client_id": settings.META_APP_ID,
            "client_secret": settings.META_APP_SECRET,
            "redirect_uri": settings.META_REDIRECT_URI,
            "code": code,
        },
        "Facebook login",
    )


def long_lived(short_token: str) -> dict[str, Any]:
    return _token(
        {
            "grant_type": "fb_exchange_token",
            "client_id": settings.META_APP_ID,
            "client_secret": settings.META_APP_SECRET,
            "fb_exchange_token": short_token,
        },
        "Facebook long-lived token",
    )


def me(user_token: str) -> dict[str, Any]:
    with api.client(user_token) as http:
        return api.call(http, "GET", "me", "Facebook account", params={"fields": "id,name"})


def managed_pages(user_token: str) -> list[dict[str, Any]]:
    """Every Page the person granted us, with its Page token and its Instagram account (if any)."""
    found: list[dict[str, Any]] = []
    with api.client(user_token) as http:
        params = {"fields": PAGE_FIELDS, "limit": 100}
        for page in api.pages(http, "me/accounts", "Facebook Pages", params, MAX_PAGE_LISTS):
            found += [item for item in page if item.get("id") and item.get("access_token")]
    return found
