"""Talking to the Threads API: the pinned version, the endpoints, the HTTP client and the pager.

The host is fixed (graph.threads.net), so requests go through `core.http.make_client` without the
SSRF guard. The access token travels in the Authorization header (Bearer), never in the URL, except
for the two token endpoints that document it as a query parameter (`/access_token`,
`/refresh_access_token`).

Threads is built on Meta's Graph API and answers errors the same way (`{"error": {"message",
"type", "code", "error_subcode", "fbtrace_id"}}`): code 190 is an expired or revoked token, 10 and
200-299 a missing permission, 4/17/32/613 a rate limit, 1/2 a temporary failure. So the error
mapping, the request helpers and the time parsing are Meta's (`meta/api.py`), imported here, not
copied; only the Threads host, version and client are ours.

References (tests/fixtures/README.md lists every page used):
* overview, version and rate limits: https://developers.facebook.com/docs/threads/overview
* reference: https://developers.facebook.com/docs/threads/reference
* errors: https://developers.facebook.com/docs/graph-api/guides/error-handling
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from stammtisch.core.http import make_client
from stammtisch.networks.base import NetworkError
from stammtisch.networks.meta.api import (
    PERMISSION_CODES,
    as_int,
    call,
    check,
    error_code,
    graph_error,
    is_not_found,
    json_of,
    parse_time,
    send,
    unix,
)

__all__ = [
    "API_BASE",
    "API_VERSION",
    "AUTHORIZE_URL",
    "EXCHANGE_URL",
    "HOST",
    "PERMISSION_CODES",
    "REFRESH_URL",
    "TOKEN_URL",
    "as_int",
    "call",
    "check",
    "client",
    "error_code",
    "graph_error",
    "is_not_found",
    "json_of",
    "pages",
    "parse_time",
    "send",
    "unix",
]

# The one place the Threads API version is pinned: v1.0 is the current (and only) version of the
# Threads API (graph.threads.net/v1.0, read November 2026).
API_VERSION = "v1.0"
HOST = "https://graph.threads.net"
API_BASE = f"{HOST}/{API_VERSION}"
# The Authorization Window moved to threads.com with the domain change of 2025 (threads.net
# redirects there); Get Access Tokens, https://developers.facebook.com/docs/threads/get-started/
# get-access-tokens-and-permissions.
AUTHORIZE_URL = "https://threads.com/oauth/authorize"
TOKEN_URL = f"{HOST}/oauth/access_token"  # code -> short-lived token (one hour)
EXCHANGE_URL = f"{HOST}/access_token"  # short-lived -> long-lived token (60 days), th_exchange_token
REFRESH_URL = f"{HOST}/refresh_access_token"  # long-lived -> a fresh long-lived token, th_refresh_token


def client(token: str = "") -> httpx.Client:
    http = make_client()
    http.base_url = httpx.URL(API_BASE + "/")
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
    return http


def pages(
    http: httpx.Client, path: str, label: str, params: dict[str, Any], limit: int
) -> Iterator[list[dict[str, Any]]]:
    """The pages of a Threads list (`data`), following `paging.cursors.after` while the answer
    names a next page (`paging.next`, the Graph API's paging convention; the last page has none).
    More than `limit` pages raise a NetworkError to try again later, so a caller that must see
    everything (find_published) never mistakes "not searched" for "not there"; callers that may
    stop early stop iterating before that."""
    query = dict(params)
    for _page in range(limit):
        body = call(http, "GET", path, label, params=query)
        data = [item for item in body.get("data") or [] if isinstance(item, dict)]
        yield data
        paging = body.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after") if isinstance(paging, dict) else None
        if not data or not isinstance(paging, dict) or not paging.get("next") or not after:
            return
        query = {**query, "after": after}
    raise NetworkError(f"{label}: more than {limit} pages to read; trying again later", retry_after=600)
