"""Talking to a Mastodon instance: the pinned API paths, the HTTP client and the error mapping.

Every request goes through `core.http.guarded_client`: the instance is a URL a user typed, so each
request (and each redirect) passes the SSRF guard. Mastodon.py is not used because it is built on
`requests` and so cannot use our client factory, its guard or `httpx.MockTransport`
(docs/networks/mastodon.md).

API reference: https://docs.joinmastodon.org/methods/ (statuses, media, notifications, accounts,
apps, oauth) and https://docs.joinmastodon.org/api/rate-limits/.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stammtisch.core.http import UnsafeURL, guarded_client, network_error_from, retry_after_seconds
from stammtisch.networks.base import NetworkError

# The one place the API's versions are pinned: Mastodon versions its REST paths per method.
# Statuses, accounts, notifications and apps are v1; media uploads are v2 (asynchronous processing,
# Mastodon 3.1.3+). PKCE and the `profile` scope need Mastodon 4.3; older instances still work
# (see oauth.py).
STATUSES = "/api/v1/statuses"
STATUS = "/api/v1/statuses/{id}"
STATUS_SOURCE = "/api/v1/statuses/{id}/source"  # Mastodon 3.5+
MEDIA_UPLOAD = "/api/v2/media"
MEDIA = "/api/v1/media/{id}"
ACCOUNT_STATUSES = "/api/v1/accounts/{id}/statuses"
VERIFY_CREDENTIALS = "/api/v1/accounts/verify_credentials"
NOTIFICATIONS = "/api/v1/notifications"
APPS = "/api/v1/apps"
AUTHORIZE = "/oauth/authorize"
TOKEN = "/oauth/token"
SERVER_METADATA = "/.well-known/oauth-authorization-server"  # Mastodon 4.3+

_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:\d{1,5})?$")


class InvalidInstance(ValueError):
    """What the user typed is not an instance address we can use."""


def normalise_instance(value: str) -> str:
    """`mastodon.social`, `https://mastodon.social/`, `@cafe@mastodon.social` -> https://mastodon.social.

    Only https: tokens travel in headers. The SSRF guard is applied on every request, not here."""
    text = value.strip()
    if text.startswith("@") or ("@" in text and "://" not in text):
        text = text.rsplit("@", 1)[-1]
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    if parts.scheme != "https":
        raise InvalidInstance("Mastodon instances are reached over https:// only.")
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise InvalidInstance("Give only the instance's address, such as mastodon.social.")
    host = (parts.netloc or "").lower()
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise InvalidInstance("That is not a valid host name.") from None
    if not _HOST.match(host):
        raise InvalidInstance("That is not a valid host name.")
    return f"https://{host}"


def instance_domain(instance: str) -> str:
    return urlsplit(instance).netloc


def client(instance: str, token: str = "") -> httpx.Client:
    """A guarded client for one instance; with `token`, authenticated as the channel's account."""
    http = guarded_client()
    http.base_url = httpx.URL(instance)
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
    http.follow_redirects = False  # the API never redirects; a redirect is a misconfigured instance
    return http


def error_text(response: httpx.Response) -> str:
    """Mastodon's own explanation: {"error": "...", "error_description": "..."}."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body.get(key)) for key in ("error", "error_description") if body.get(key)]
    return ": ".join(parts)[:300]


def rate_limit_wait(response: httpx.Response) -> float:
    """Seconds until the limit resets: X-RateLimit-Reset (an ISO 8601 time), else Retry-After,
    else one minute."""
    reset = response.headers.get("X-RateLimit-Reset", "")
    when = parse_datetime(reset) if reset else None
    if when is not None:
        if timezone.is_naive(when):
            when = timezone.make_aware(when, dt.UTC)
        return max(1.0, (when - timezone.now()).total_seconds())
    return retry_after_seconds(response) or 60.0


def check(response: httpx.Response, what: str) -> httpx.Response:
    """Return a 2xx response; raise NetworkError with the publisher's flags for anything else."""
    if response.is_success:
        return response
    status = response.status_code
    detail = error_text(response)
    message = f"Mastodon {what}: HTTP {status}" + (f" {detail}" if detail else "")
    if status in (401, 403):
        raise NetworkError(message, auth=True)
    if status == 429:
        raise NetworkError(message, retry_after=rate_limit_wait(response))
    if status == 422:
        raise NetworkError(message, permanent=True)
    if status >= 500 or status == 408:
        raise NetworkError(message, retry_after=retry_after_seconds(response))
    raise NetworkError(message, permanent=True)  # 400, 404, 410: asking again cannot help


def transport_error(exc: httpx.HTTPError, what: str) -> NetworkError:
    """A request that got no answer. The SSRF guard's refusal is permanent (the instance's address
    became private); a name that does not resolve may be a short DNS hiccup and is retried."""
    if isinstance(exc.__cause__, UnsafeURL) and "private or local" in str(exc.__cause__):
        return NetworkError(f"Mastodon {what}: {exc.__cause__}", permanent=True)
    return network_error_from(exc, f"Mastodon {what}")


def send(http: httpx.Client, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
    """One request; an answer of any status is returned, no answer raises NetworkError."""
    try:
        return http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise transport_error(exc, what) from None


def call(http: httpx.Client, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
    """One request whose answer must be a success (`check`)."""
    return check(send(http, method, path, what, **kwargs), what)


def json_of(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise NetworkError(f"Mastodon {what}: the answer is not JSON", permanent=True) from None


def parse_time(value: Any) -> dt.datetime | None:
    when = parse_datetime(value) if isinstance(value, str) else None
    if when is not None and timezone.is_naive(when):
        when = timezone.make_aware(when, dt.UTC)
    return when


def next_link(response: httpx.Response, rel: str) -> dict[str, str]:
    """The query of the Link header's `rel` page ("next": older, "prev": newer), as a dict."""
    link = response.links.get(rel)
    if not link or not link.get("url"):
        return {}
    return dict(httpx.URL(link["url"]).params)


class _TextExtractor(HTMLParser):
    """Mastodon's status HTML to plain text: paragraphs and line breaks kept, every tag dropped,
    the text of links (their full URL, invisible parts included) kept, script/style dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag == "p":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


class _LinkExtractor(HTMLParser):
    """The addresses of the links in a profile's HTML, hashtag links left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        href = values.get("href") or ""
        hashtag = "hashtag" in (values.get("class") or "") or "/tags/" in href
        if tag == "a" and href.startswith(("https://", "http://")) and not hashtag and href not in self.links:
            self.links.append(href)


def profile_links(account: dict[str, Any]) -> list[str] | None:
    """The links in an account's profile (its note and its profile fields, such as "Website"),
    for the audience app's merge suggestions; None when the payload carries no profile."""
    if "note" not in account and "fields" not in account:
        return None
    parser = _LinkExtractor()
    parser.feed(str(account.get("note") or ""))
    for field in account.get("fields") or []:
        if isinstance(field, dict):
            parser.feed(str(field.get("value") or ""))
    parser.close()
    return parser.links[:10]


def html_to_text(html: str) -> str:
    """Plain text of a status. Mastodon's HTML is untrusted: we store and show only this text
    (escaped by the templates like any other), never the HTML."""
    parser = _TextExtractor()
    parser.feed(html or "")
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
