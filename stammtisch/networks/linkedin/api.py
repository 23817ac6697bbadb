"""Talking to LinkedIn's REST API: the pinned version, the HTTP client, the error mapping and the
"little" text format of post commentary.

The hosts are fixed (api.linkedin.com, www.linkedin.com), so requests go through
`core.http.make_client` without the SSRF guard that user-given addresses need. Upload addresses
come from LinkedIn's own answers and must be on linkedin.com (`check_upload_url`). The access
token travels in the Authorization header, never in a URL.

Every call to /rest/ carries `LinkedIn-Version` (the one pinned below) and
`X-Restli-Protocol-Version: 2.0.0`. In Rest.li 2.0, URNs in a path or a query are URL-encoded
(`urn%3Ali%3Ashare%3A1`) and lists are written `List(a,b)` with the parentheses and commas left
as they are, so such queries are built here rather than by httpx.

References (tests/fixtures/README.md lists every page used):
* versioning: https://learn.microsoft.com/linkedin/marketing/versioning
* errors and protocol: https://learn.microsoft.com/linkedin/shared/api-guide/concepts/error-handling
  and https://learn.microsoft.com/linkedin/shared/api-guide/concepts/protocol-version
* rate limits: https://learn.microsoft.com/linkedin/shared/api-guide/concepts/rate-limits
* little text format: https://learn.microsoft.com/linkedin/marketing/community-management/shares/little-text-format
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import regex
from django.utils import timezone

from stammtisch.core.http import make_client, network_error_from, retry_after_seconds
from stammtisch.networks import twitter_text
from stammtisch.networks.base import NetworkError

# The one place the API version is pinned (YYYYMM). LinkedIn supports each monthly version for
# at least a year; an unsupported one answers 426 (see `check`). Bump it after reading the
# migration notes of the versions in between.
VERSION = "202606"
PROTOCOL_VERSION = "2.0.0"

API_BASE = "https://api.linkedin.com"
AUTHORIZE_URL = "https://www.linkedin.com/oauth/v2/authorization"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"
USERINFO = "/v2/userinfo"  # OpenID Connect; not versioned
POSTS = "/rest/posts"
POST = "/rest/posts/{urn}"
IMAGES_INIT = "/rest/images?action=initializeUpload"
VIDEOS_INIT = "/rest/videos?action=initializeUpload"
VIDEOS_FINALIZE = "/rest/videos?action=finalizeUpload"
COMMENTS = "/rest/socialActions/{urn}/comments"
COMMENT = "/rest/socialActions/{urn}/comments/{id}"
SOCIAL_METADATA = "/rest/socialMetadata/{urn}"
REACTIONS = "/rest/reactions"  # POST ?actor={urn} {"root", "reactionType"}: react to a post or comment
ORGANIZATION_ACLS = "/rest/organizationAcls"
ORGANIZATION = "/rest/organizations/{id}"
NETWORK_SIZE = "/rest/networkSizes/{urn}"
SHARE_STATISTICS = "/rest/organizationalEntityShareStatistics"
FOLLOWER_STATISTICS = "/rest/organizationalEntityFollowerStatistics"
MEMBER_POST_ANALYTICS = "/rest/memberCreatorPostAnalytics"
MEMBER_FOLLOWERS = "/rest/memberFollowersCount"
POST_URL = "https://www.linkedin.com/feed/update/{urn}/"

# 429 without Retry-After (LinkedIn sends none as a rule): its limits are daily and reset at
# midnight UTC, but it also answers 429 for short infrastructure protection. We wait an hour, or
# until just after midnight UTC when that comes sooner.
DEFAULT_THROTTLE_WAIT = 3600.0
AFTER_MIDNIGHT = 60.0


def client(token: str = "", *, versioned: bool = True) -> httpx.Client:
    """A client for api.linkedin.com. `versioned`: the /rest/ headers (not for /v2/userinfo)."""
    http = make_client()
    http.base_url = httpx.URL(API_BASE)
    if versioned:
        http.headers["LinkedIn-Version"] = VERSION
        http.headers["X-Restli-Protocol-Version"] = PROTOCOL_VERSION
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
    return http


# --- Rest.li encoding -------------------------------------------------------------------------


def enc(value: str) -> str:
    """A URN (or any value) encoded for a Rest.li 2.0 path segment or query value."""
    return quote(str(value), safe="")


def restli_list(values: Iterable[str]) -> str:
    return "List(" + ",".join(enc(value) for value in values) + ")"


def query(**params: Any) -> str:
    """A query string whose values are already Rest.li-encoded (use `enc`, `restli_list`)."""
    return "&".join(f"{key}={value}" for key, value in params.items())


def person_urn(member_id: str) -> str:
    return f"urn:li:person:{member_id}"


def organization_urn(organization_id: str) -> str:
    return f"urn:li:organization:{organization_id}"


def is_organization(urn: str) -> bool:
    return urn.startswith("urn:li:organization:")


_COMMENT_URN = re.compile(r"^urn:li:comment:\((?P<object>urn:li:[A-Za-z]+:[^,()]+),(?P<id>[^,()]+)\)$")


def parse_comment_urn(urn: str) -> tuple[str, str] | None:
    """("urn:li:activity:1", "2") for "urn:li:comment:(urn:li:activity:1,2)"; None for others."""
    match = _COMMENT_URN.match(urn)
    return (match.group("object"), match.group("id")) if match else None


def post_url(urn: str) -> str:
    return POST_URL.format(urn=urn)


def comment_url(thread: str, comment_urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{thread}/?commentUrn={enc(comment_urn)}"


def check_upload_url(url: Any) -> str:
    """An upload address from LinkedIn's answer: https on linkedin.com, or a permanent error (we
    send the file and our token nowhere else)."""
    parts = urlsplit(str(url or ""))
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not (host == "linkedin.com" or host.endswith(".linkedin.com")):
        raise NetworkError("LinkedIn upload: the upload address is not on linkedin.com", permanent=True)
    return str(url)


# --- errors -----------------------------------------------------------------------------------


def error_text(response: httpx.Response) -> str:
    """LinkedIn's explanation. REST errors are {"status", "code", "serviceErrorCode", "message",
    "errorDetails": {"inputErrors": [{"description", ...}]}}; the OAuth endpoints answer
    {"error", "error_description"}."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[key]) for key in ("error", "error_description", "code", "message") if body.get(key)]
    for error in mapping(body.get("errorDetails")).get("inputErrors") or []:
        if isinstance(error, dict) and error.get("description"):
            parts.append(str(error["description"]))
    return ": ".join(dict.fromkeys(parts))[:300]


def rate_limit_wait(response: httpx.Response, now: dt.datetime | None = None) -> float:
    """Seconds to wait after a 429: Retry-After when LinkedIn sends it, else an hour or until just
    after midnight UTC (when the daily limits reset), whichever comes first."""
    asked = retry_after_seconds(response)
    if asked:
        return max(1.0, asked)
    now = (now or timezone.now()).astimezone(dt.UTC)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return min(DEFAULT_THROTTLE_WAIT, (midnight - now).total_seconds() + AFTER_MIDNIGHT)


def check(response: httpx.Response, what: str) -> httpx.Response:
    """Return a 2xx response; raise NetworkError with the publisher's flags for anything else."""
    if response.is_success:
        return response
    status = response.status_code
    detail = error_text(response)
    message = f"LinkedIn {what}: HTTP {status}" + (f" {detail}" if detail else "")
    if status == 401:
        raise NetworkError(message, auth=True)
    if status == 429:
        raise NetworkError(message, retry_after=rate_limit_wait(response))
    if status >= 500 or status == 408:
        raise NetworkError(message, retry_after=retry_after_seconds(response))
    if status == 426:
        raise NetworkError(
            f"{message} (LinkedIn no longer accepts API version {VERSION}: Stammtisch must be updated)",
            permanent=True,
        )
    # 400 and 422 (validation), 403 (a permission or page role is missing), 404, 409.
    raise NetworkError(message, permanent=True)


def send(http: httpx.Client, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
    """One request; an answer of any status is returned, no answer raises NetworkError (a timeout
    after sending is `outcome_unknown`)."""
    try:
        return http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise network_error_from(exc, f"LinkedIn {what}") from None


def call(http: httpx.Client, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
    return check(send(http, method, url, what, **kwargs), what)


def json_of(response: httpx.Response, what: str) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        raise NetworkError(f"LinkedIn {what}: the answer is not JSON", permanent=True) from None
    return body if isinstance(body, dict) else {}


def mapping(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (LinkedIn leaves fields out freely)."""
    return value if isinstance(value, dict) else {}


def elements(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in body.get("elements") or [] if isinstance(item, dict)]


def has_more(body: dict[str, Any], start: int, count: int, got: int) -> bool:
    """Whether a Rest.li collection has another page after `start` + `got` (`paging.total` when
    LinkedIn sends it, else a full page means there may be more)."""
    total = (body.get("paging") or {}).get("total")
    if isinstance(total, int):
        return start + got < total and got > 0
    return got >= count


# --- time ---------------------------------------------------------------------------------------


def from_ms(value: Any) -> dt.datetime | None:
    """LinkedIn's times are milliseconds since the epoch."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)


def to_ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


# --- the "little" text format -------------------------------------------------------------------

# Characters that mean something in little text (mentions, hashtags, templates); plain text must
# escape each with a backslash, or LinkedIn cuts the post at the first one.
RESERVED = set("\\|{}@[]()<>#*_~")
_HASHTAG = regex.compile(r"(?<![\w&])#(?=\w)")
_UNESCAPE = re.compile(r"\\([\\|{}@\[\]()<>#*_~])")
_HASHTAG_TEMPLATE = re.compile(r"\{hashtag\|\\?#\|([^{}|]+)\}")
_MENTION = re.compile(r"@\[([^\]]*)\]\(urn:li:[^)]*\)")
_URL = re.compile(r"https?://\S+")


def escape_commentary(text: str) -> str:
    """Plain text as little text: every reserved character escaped, except inside URLs (they must
    stay links) and the `#` of a hashtag (it must stay a hashtag)."""
    urls = twitter_text.url_spans(text, without_protocol=False)
    keep = {match.start() for match in _HASHTAG.finditer(text)}
    out: list[str] = []
    for index, char in enumerate(text):
        inside_url = any(start <= index < end for start, end in urls)
        if char in RESERVED and not inside_url and index not in keep:
            out.append("\\")
        out.append(char)
    return "".join(out)


def unescape_commentary(text: str) -> str:
    """Little text as LinkedIn returns it, back to plain text (hashtag templates, mentions and
    escapes resolved)."""
    text = _HASHTAG_TEMPLATE.sub(lambda match: f"#{match.group(1)}", text)
    text = _MENTION.sub(lambda match: match.group(1), text)
    return _UNESCAPE.sub(r"\1", text)


def text_fingerprint(text: str) -> str:
    """SHA-256 of a plain text as we compare it with what LinkedIn shows back: Unicode NFC, line
    ends normalised, surrounding white space stripped, and every URL replaced by one marker (so a
    link LinkedIn shortens or rewrites still matches)."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").strip()
    return hashlib.sha256(_URL.sub("\x00URL", text).encode("utf-8")).hexdigest()
