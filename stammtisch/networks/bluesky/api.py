"""Talking to a Bluesky PDS over XRPC: the endpoints, the HTTP client, record keys, the error
mapping and rich-text facets.

Every call is `GET|POST <pds>/xrpc/<nsid>`. The PDS is https://bsky.social unless the user names a
self-hosted one; such a user-given address goes through `core.http.guarded_client` (SSRF guard on
every request). Reads of `app.bsky.*` (posts, profiles, notifications) are served by the PDS,
which proxies them to the Bluesky AppView.

The `atproto` SDK is not used: it builds its own httpx client (no SSRF guard, no shared
`use_transport` hook), is a pre-1.0 release whose models change between versions, and the dozen
calls below are plain JSON.

References (lexicons in github.com/bluesky-social/atproto, lexicons/): com.atproto.server.
{createSession,refreshSession}, com.atproto.repo.{createRecord,getRecord,deleteRecord,uploadBlob},
com.atproto.identity.resolveHandle, app.bsky.feed.{post,getPosts}, app.bsky.actor.getProfile,
app.bsky.notification.listNotifications, app.bsky.richtext.facet, app.bsky.embed.images;
https://docs.bsky.app/docs/advanced-guides/rate-limits, https://atproto.com/specs/record-key,
https://atproto.com/specs/tid, https://docs.bsky.app/docs/advanced-guides/posts (facets).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stammtisch.core.http import guarded_client, make_client, network_error_from, retry_after_seconds
from stammtisch.networks.base import NetworkError

# The one place the API is pinned: AT Protocol XRPC against the lexicons named above (Bluesky's
# HTTP API has no version of its own; lexicons only change backwards-compatibly).
DEFAULT_PDS = "https://bsky.social"
CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"
CREATE_RECORD = "com.atproto.repo.createRecord"
GET_RECORD = "com.atproto.repo.getRecord"
DELETE_RECORD = "com.atproto.repo.deleteRecord"
UPLOAD_BLOB = "com.atproto.repo.uploadBlob"
RESOLVE_HANDLE = "com.atproto.identity.resolveHandle"
GET_POSTS = "app.bsky.feed.getPosts"
GET_PROFILE = "app.bsky.actor.getProfile"
LIST_NOTIFICATIONS = "app.bsky.notification.listNotifications"
POST_COLLECTION = "app.bsky.feed.post"
LIKE_COLLECTION = "app.bsky.feed.like"
POST_URL = "https://bsky.app/profile/{actor}/post/{rkey}"

# Errors the PDS gives for an access or refresh token that no longer works.
TOKEN_ERRORS = ("ExpiredToken", "InvalidToken")
APP_PASSWORD = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")


# An address in a bio: with its scheme, or a bare host and path such as x.com/maxi.
BIO_LINK = re.compile(r"(?:https?://)?(?:[a-z0-9-]+\.)+[a-z]{2,}/[^\s<>\"']+", re.IGNORECASE)


def profile_links(author: dict[str, Any]) -> list[str] | None:
    """The addresses in an author's bio (the `description` of a profile view), for the audience
    app's merge suggestions; None when the payload carries no bio."""
    if "description" not in author:
        return None
    links: list[str] = []
    for found in BIO_LINK.findall(str(author.get("description") or "")):
        url = found.rstrip(".,;:!?)")
        url = url if url.lower().startswith(("http://", "https://")) else f"https://{url}"
        if url not in links:
            links.append(url)
    return links[:10]


def normalize_pds(value: str) -> str:
    """`https://host[:port]` of a PDS address, without path; raises ValueError for anything else."""
    text = (value or "").strip() or DEFAULT_PDS
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise ValueError(value)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(value)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(value) from None
    host = parts.hostname.lower()
    return f"https://{host}:{port}" if port and port != 443 else f"https://{host}"


def client(pds: str, token: str = "") -> httpx.Client:
    """A client for one PDS; with `token`, authenticated as the channel's account. Only the
    default PDS is trusted without the SSRF guard."""
    http = make_client() if pds == DEFAULT_PDS else guarded_client()
    http.base_url = httpx.URL(pds)
    http.follow_redirects = False  # XRPC never redirects; a redirect is a misconfigured server
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
    return http


# --- errors ---------------------------------------------------------------------------------------


def error_body(response: httpx.Response) -> tuple[str, str]:
    """XRPC's error answer: {"error": "InvalidRequest", "message": "..."}."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("error") or ""), str(body.get("message") or "")[:300]


def is_token_error(response: httpx.Response) -> bool:
    """The access (or refresh) token expired or was revoked: 401, or 400 with ExpiredToken."""
    if response.status_code == 401:
        return True
    return response.status_code == 400 and error_body(response)[0] in TOKEN_ERRORS


def rate_limit_wait(response: httpx.Response) -> float:
    """Seconds until the limit resets: `ratelimit-reset` (epoch seconds), else Retry-After, else
    five minutes (the window of Bluesky's per-IP limit)."""
    reset = response.headers.get("ratelimit-reset", "")
    try:
        if reset:
            return max(1.0, float(reset) - time.time())
    except ValueError:
        pass
    return retry_after_seconds(response) or 300.0


def error_from(response: httpx.Response, what: str) -> NetworkError:
    status = response.status_code
    error, message = error_body(response)
    text = f"Bluesky {what}: HTTP {status}" + (f" {error}" if error else "") + (f": {message}" if message else "")
    if is_token_error(response) or status == 403 or error in ("AccountTakedown", "AccountDeactivated"):
        return NetworkError(text, auth=True)
    if status == 429:
        return NetworkError(text, retry_after=rate_limit_wait(response))
    if status >= 500 or status == 408:
        return NetworkError(text, retry_after=retry_after_seconds(response))
    return NetworkError(text, permanent=True)  # 400 InvalidRequest, RecordNotFound, 404, 413


def send(http: httpx.Client, method: str, nsid: str, what: str, **kwargs: Any) -> httpx.Response:
    """One XRPC request; an answer of any status is returned, no answer raises NetworkError (a
    timeout after sending is `outcome_unknown`)."""
    try:
        return http.request(method, f"/xrpc/{nsid}", **kwargs)
    except httpx.HTTPError as exc:
        raise network_error_from(exc, f"Bluesky {what}") from None


def json_of(response: httpx.Response, what: str) -> dict[str, Any]:
    if not response.is_success:
        raise error_from(response, what)
    try:
        body = response.json()
    except ValueError:
        raise NetworkError(f"Bluesky {what}: the answer is not JSON", permanent=True) from None
    return body if isinstance(body, dict) else {}


# --- sessions -------------------------------------------------------------------------------------


def jwt_expiry(token: str) -> dt.datetime | None:
    """The `exp` claim of a JWT, read without checking the signature (only to plan a refresh)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return dt.datetime.fromtimestamp(int(claims["exp"]), tz=dt.UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def session_credentials(session: dict[str, Any]) -> dict[str, Any]:
    return {"access_jwt": session.get("accessJwt") or "", "refresh_jwt": session.get("refreshJwt") or ""}


def create_session(pds: str, identifier: str, password: str) -> dict[str, Any]:
    with client(pds) as http:
        response = send(http, "POST", CREATE_SESSION, "sign-in", json={"identifier": identifier, "password": password})
    return json_of(response, "sign-in")


def refresh_session(pds: str, refresh_jwt: str) -> dict[str, Any]:
    with client(pds, refresh_jwt) as http:
        response = send(http, "POST", REFRESH_SESSION, "refresh")
    return json_of(response, "refresh")


# --- record keys and URIs -------------------------------------------------------------------------

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def tid(micros: int, clock_id: int) -> str:
    """A TID (https://atproto.com/specs/tid): 53 bits of microseconds since 1970 and a 10-bit clock
    id, written as 13 characters of base32-sortable."""
    number = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def record_key(idempotency_key: str, first_sent: dt.datetime) -> str:
    """Our record key for a post: a TID from the moment we first tried to send it (kept in
    OutboundPost across retries) and a clock id from the idempotency key. The same key always
    gives the same record key, so a repeated createRecord cannot make a second post and
    getRecord finds the first one."""
    micros = int(first_sent.timestamp() * 1_000_000)
    clock_id = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:2], "big") & 0x3FF
    return tid(micros, clock_id)


def text_fingerprint(text: str) -> str:
    """SHA-256 of a post text (kept in OutboundPost; never the text itself)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


AT_URI = re.compile(r"^at://([^/]+)/([^/]+)/([^/]+)$")


def split_uri(uri: str) -> tuple[str, str, str]:
    """(repo, collection, rkey) of an AT URI; raises NetworkError(permanent) for anything else."""
    match = AT_URI.match(uri or "")
    if not match:
        raise NetworkError(f"Bluesky: not a post address: {uri!r}", permanent=True)
    return match[1], match[2], match[3]


def post_url(uri: str, handle: str = "") -> str:
    repo, _collection, rkey = split_uri(uri)
    return POST_URL.format(actor=handle or repo, rkey=rkey)


def parse_time(value: Any) -> dt.datetime | None:
    when = parse_datetime(value) if isinstance(value, str) else None
    if when is not None and timezone.is_naive(when):
        when = timezone.make_aware(when, dt.UTC)
    return when


def format_time(when: dt.datetime) -> str:
    """The datetime format of the lexicons: RFC 3339 in UTC with milliseconds."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# --- rich text facets -----------------------------------------------------------------------------

# The patterns of Bluesky's own apps (docs.bsky.app "Links, mentions and rich text").
_MENTION = re.compile(
    r"(?:^|\s|\()(@(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)"
)
_TRAILING = ".,;:!?\"'"


@dataclass(frozen=True)
class Span:
    start: int  # UTF-8 byte offsets, as the facet lexicon wants them
    end: int


def _byte_span(text: str, start: int, end: int) -> Span:
    return Span(len(text[:start].encode("utf-8")), len(text[:end].encode("utf-8")))


def facets(text: str, resolve: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Links (only with http(s)://), mentions (handles `resolve` finds a DID for) and hashtags
    of `text`, as app.bsky.richtext.facet objects with UTF-8 byte offsets."""
    found: list[dict[str, Any]] = []
    for match in re.finditer(r"https?://[^\s<>\"]+", text):
        url = match[0].rstrip(_TRAILING)
        if url.endswith(")") and "(" not in url:
            url = url[:-1]
        span = _byte_span(text, match.start(), match.start() + len(url))
        found.append(_facet(span, {"$type": "app.bsky.richtext.facet#link", "uri": url}))
    for match in _MENTION.finditer(text):
        handle = match[1][1:].lower()
        did = resolve(handle)
        if did:
            span = _byte_span(text, match.start(1), match.end(1))
            found.append(_facet(span, {"$type": "app.bsky.richtext.facet#mention", "did": did}))
    for match in re.finditer(r"(?:^|(?<=\s))[#\uff03]([^\s#\uff03]+)", text):
        tag = match[1].rstrip(_TRAILING)
        if not tag or tag.isdigit() or len(tag) > 64:
            continue
        span = _byte_span(text, match.start(), match.start(1) + len(tag))
        found.append(_facet(span, {"$type": "app.bsky.richtext.facet#tag", "tag": tag}))
    found.sort(key=lambda f: f["index"]["byteStart"])
    return found


def _facet(span: Span, feature: dict[str, Any]) -> dict[str, Any]:
    return {"index": {"byteStart": span.start, "byteEnd": span.end}, "features": [feature]}
