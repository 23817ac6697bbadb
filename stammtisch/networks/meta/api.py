"""Talking to Meta's Graph API (Facebook Pages and Instagram professional accounts): the pinned
version, the HTTP client and the error mapping shared by both connectors.

The host is fixed (graph.facebook.com), so requests go through `core.http.make_client` without the
SSRF guard. The access token travels in the Authorization header, never in the URL, so it cannot
end up in a log line with the request URL.

References (tests/fixtures/README.md lists every page used):
* versions: https://developers.facebook.com/docs/graph-api/changelog/versions/ and
  https://developers.facebook.com/blog/post/2026/11/04/introducing-graph-api-v27-and-marketing-api-v27/
* errors: https://developers.facebook.com/docs/graph-api/guides/error-handling
* rate limits: https://developers.facebook.com/docs/graph-api/overview/rate-limiting
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import httpx
from django.conf import settings

from stammtisch.core.http import make_client, network_error_from, retry_after_seconds
from stammtisch.networks.base import NetworkError

# The one place the Graph API version is pinned. v27.0 is the newest version (released
# 4 November 2026). Graph v27.0 no longer lets new apps use multi-ID requests or field aliases:
# we use neither.
GRAPH_VERSION = "v27.0"
GRAPH_HOST = "https://graph.facebook.com"
API_BASE = f"{GRAPH_HOST}/{GRAPH_VERSION}"
DIALOG_URL = f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth"

# Graph error codes (error.code), from the error-handling and rate-limiting guides.
AUTH_CODES = {102, 190}  # the token is invalid, expired or revoked: reconnect
PERMISSION_CODES = {10} | set(range(200, 300))  # a permission is missing or was withdrawn: reconnect
THROTTLE_CODES = {4, 17, 32, 613, 9} | set(range(80000, 80015))  # app, user, page, custom, BUC
TRANSIENT_CODES = {1, 2}  # unknown error / service temporarily unavailable
NOT_FOUND_SUBCODE = 33  # code 100 subcode 33: the object does not exist (or we cannot see it)
DEFAULT_THROTTLE_WAIT = 600.0  # Meta counts usage in a rolling hour; ten minutes is a first step
MAX_THROTTLE_WAIT = 24 * 3600.0


def appsecret_proof(token: str) -> str:
    """HMAC-SHA256 of the token keyed with the app secret: Meta's proof that a call comes from the
    app's server (the app setting "Require App Secret" makes it mandatory)."""
    return hmac.new(settings.META_APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()


def client(token: str = "") -> httpx.Client:
    http = make_client()
    http.base_url = httpx.URL(API_BASE + "/")
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
        http.params = http.params.set("appsecret_proof", appsecret_proof(token))
    return http


def graph_error(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of a Graph answer: {"message", "type", "code", "error_subcode",
    "is_transient", "fbtrace_id"}; empty when the body has none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def throttle_wait(response: httpx.Response) -> float:
    """Seconds to wait after a rate-limit error. X-Business-Use-Case-Usage (page and Instagram
    calls) gives `estimated_time_to_regain_access` in minutes per business use case; X-App-Usage
    and X-Page-Usage only give percentages (no time), so a fixed first wait applies; a
    Retry-After header, if ever sent, wins over the default."""
    minutes = 0
    raw = response.headers.get("X-Business-Use-Case-Usage", "")
    try:
        usage = json.loads(raw) if raw else {}
    except ValueError:
        usage = {}
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    minutes = max(minutes, as_int(entry.get("estimated_time_to_regain_access")) or 0)
    if minutes > 0:
        return min(MAX_THROTTLE_WAIT, minutes * 60.0)
    return retry_after_seconds(response) or DEFAULT_THROTTLE_WAIT


def error_code(response: httpx.Response) -> int | None:
    """`error.code` of a Graph answer, None when it has none."""
    return as_int(graph_error(response).get("code"))


def is_not_found(response: httpx.Response) -> bool:
    error = graph_error(response)
    return response.status_code == 404 or (
        as_int(error.get("code")) == 100 and as_int(error.get("error_subcode")) == 33
    )


def error_for(response: httpx.Response, label: str) -> NetworkError:
    """Map a failed Graph answer to the publisher's flags. Graph errors carry their meaning in
    `error.code` (the HTTP status is mostly 400), so the code decides; the status is the fallback."""
    error = graph_error(response)
    code, subcode = as_int(error.get("code")), as_int(error.get("error_subcode"))
    detail = str(error.get("message") or "")[:300]
    if error:
        message = f"{label}: {detail} (code {code}" + (f", subcode {subcode})" if subcode else ")")
    else:
        message = f"{label}: HTTP {response.status_code}"
    if code in AUTH_CODES or code in PERMISSION_CODES or (response.status_code == 401 and code is None):
        return NetworkError(message, auth=True)
    if code in THROTTLE_CODES or response.status_code == 429:
        return NetworkError(message, retry_after=throttle_wait(response))
    if code in TRANSIENT_CODES or error.get("is_transient") is True or response.status_code >= 500:
        return NetworkError(message, retry_after=retry_after_seconds(response))
    if code is None and response.status_code == 408:
        return NetworkError(message, retry_after=retry_after_seconds(response))
    return NetworkError(message, permanent=True)  # 100 (invalid parameter), 368 (blocked), 506, ...


def check(response: httpx.Response, label: str) -> httpx.Response:
    if response.is_success and not graph_error(response):
        return response
    raise error_for(response, label)


def send(http: httpx.Client, method: str, path: str, label: str, **kwargs: Any) -> httpx.Response:
    """One request; an answer of any status is returned, no answer raises NetworkError (a timeout
    after sending is `outcome_unknown`)."""
    try:
        return http.request(method, path.lstrip("/"), **kwargs)
    except httpx.HTTPError as exc:
        raise network_error_from(exc, label) from None


def call(http: httpx.Client, method: str, path: str, label: str, **kwargs: Any) -> dict[str, Any]:
    """One request whose answer must be a success; returns its JSON object."""
    return json_of(check(send(http, method, path, label, **kwargs), label), label)


def json_of(response: httpx.Response, label: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise NetworkError(f"{label}: the answer is not JSON", permanent=True) from None
    return body if isinstance(body, dict) else {}


def pages(
    http: httpx.Client, path: str, label: str, params: dict[str, Any], limit: int
) -> Iterator[list[dict[str, Any]]]:
    """The pages of a Graph list (`data`, followed by `paging.cursors.after` while `paging.next`
    is given). More than `limit` pages raise a NetworkError to try again later: a caller that
    must see everything (find_published) never mistakes "not searched" for "not there"."""
    query = dict(params)
    for _page in range(limit):
        body = call(http, "GET", path, label, params=query)
        data = [item for item in body.get("data") or [] if isinstance(item, dict)]
        yield data
        paging = body.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after") if isinstance(paging, dict) else None
        if not data or not paging.get("next") or not after:
            return
        query = {**query, "after": after}
    raise NetworkError(f"{label}: more than {limit} pages to read; trying again later", retry_after=600)


def parse_time(value: Any) -> dt.datetime | None:
    """Graph times look like 2026-11-20T09:30:00+0000 (no colon in the offset)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def unix(when: dt.datetime) -> int:
    return int(when.timestamp())
