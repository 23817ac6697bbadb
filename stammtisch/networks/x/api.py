"""Talking to the X API v2: the pinned endpoints, the HTTP client and the error mapping.

The host is fixed (api.x.com), so requests go through `core.http.make_client` without the SSRF
guard that user-given addresses need. tweepy is not used: it is built on `requests` and so cannot
use our client factory or `httpx.MockTransport`.

API reference: https://docs.x.com/x-api/ (posts, users, media, OAuth 2.0) and
https://docs.x.com/x-api/fundamentals/rate-limits.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stammtisch.core.http import make_client, network_error_from, retry_after_seconds
from stammtisch.networks.base import NetworkError

# The one place the API's version is pinned: X API v2.
API_BASE = "https://api.x.com"
AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
TOKEN = "/2/oauth2/token"
TWEETS = "/2/tweets"
TWEET = "/2/tweets/{id}"
ME = "/2/users/me"
USER_TWEETS = "/2/users/{id}/tweets"
MENTIONS = "/2/users/{id}/mentions"
LIKES = "/2/users/{id}/likes"  # POST {"tweet_id"}: like; DELETE .../likes/{tweet_id}: unlike
LIKE = "/2/users/{id}/likes/{tweet_id}"
HIDDEN = "/2/tweets/{id}/hidden"  # PUT {"hidden": true|false}: hide a reply in our conversation
MEDIA_UPLOAD = "/2/media/upload"  # one-request image upload; GET with command=STATUS: processing state
MEDIA_INITIALIZE = "/2/media/upload/initialize"  # chunked upload (videos): INIT, APPEND, FINALIZE
MEDIA_APPEND = "/2/media/upload/{id}/append"
MEDIA_FINALIZE = "/2/media/upload/{id}/finalize"
POST_URL = "https://x.com/{username}/status/{id}"


def client(token: str = "") -> httpx.Client:
    http = make_client()
    http.base_url = httpx.URL(API_BASE)
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
    return http


def error_text(response: httpx.Response) -> str:
    """X's own explanation. API errors are RFC 7807 problems ({"title", "detail", "type"}) or
    {"errors": [{"message"}]}; the OAuth endpoint answers {"error", "error_description"}."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[key]) for key in ("error", "error_description", "title", "detail") if body.get(key)]
    for error in body.get("errors") or []:
        if isinstance(error, dict) and error.get("message"):
            parts.append(str(error["message"]))
    return ": ".join(parts)[:300]


def rate_limit_wait(response: httpx.Response) -> float:
    """Seconds until the limit resets: x-rate-limit-reset (epoch seconds), else Retry-After, else
    15 minutes (X's usual window)."""
    reset = response.headers.get("x-rate-limit-reset", "")
    try:
        return max(1.0, float(reset) - time.time()) if reset else retry_after_seconds(response) or 900.0
    except ValueError:
        return retry_after_seconds(response) or 900.0


def check(response: httpx.Response, what: str) -> httpx.Response:
    """Return a 2xx response; raise NetworkError with the publisher's flags for anything else."""
    if response.is_success:
        return response
    status = response.status_code
    detail = error_text(response)
    message = f"X {what}: HTTP {status}" + (f" {detail}" if detail else "")
    if status == 401:
        raise NetworkError(message, auth=True)
    if status == 429:
        raise NetworkError(message, retry_after=rate_limit_wait(response))
    if status >= 500 or status == 408:
        raise NetworkError(message, retry_after=retry_after_seconds(response))
    # 400 (validation), 403 (duplicate content, not permitted, plan does not include it), 404.
    raise NetworkError(message, permanent=True)


def send(http: httpx.Client, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
    """One request; an answer of any status is returned, no answer raises NetworkError (a timeout
    after sending is `outcome_unknown`)."""
    try:
        return http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise network_error_from(exc, f"X {what}") from None


def call(http: httpx.Client, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
    return check(send(http, method, path, what, **kwargs), what)


def json_of(response: httpx.Response, what: str) -> Any:
    try:
        body = response.json()
    except ValueError:
        raise NetworkError(f"X {what}: the answer is not JSON", permanent=True) from None
    return body if isinstance(body, dict) else {}


def parse_time(value: Any) -> dt.datetime | None:
    when = parse_datetime(value) if isinstance(value, str) else None
    if when is not None and timezone.is_naive(when):
        when = timezone.make_aware(when, dt.UTC)
    return when


def format_time(when: dt.datetime) -> str:
    """RFC 3339 in UTC to the second, as X's start_time wants it."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
