"""The one way out to the internet (STYLE.md §3).

`make_client()` gives an httpx client with a required timeout and a User-Agent. Connectors receive
a client, so tests pass `httpx.MockTransport`. `check_public_url()` is the SSRF guard for every
URL a user gives us (feeds, media imports, webhooks); `guarded_client()` applies it to every
request, redirects included. `network_error_from()` maps responses and transport errors to the
flags the publisher needs.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils import timezone

from stammtisch import __version__
from stammtisch.networks.base import NetworkError

USER_AGENT = f"Stammtisch/{__version__} (+https://github.com/stammtisch)"


class UnsafeURL(ValueError):
    """A user-given URL that points at a private, local or otherwise unsafe address."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_public_url(url: str) -> str:
    """Return `url` if it is http(s) and every address its host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http:// and https:// addresses are allowed.")
    host = parts.hostname
    if not host:
        raise UnsafeURL("The address has no host name.")
    if parts.username or parts.password:
        raise UnsafeURL("Addresses with a user name or password are not allowed.")
    if settings.HTTP_ALLOW_PRIVATE:
        return url
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("The address has an invalid port.") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"The host “{host}” cannot be found.") from None
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(_is_public(str(a)) for a in addresses):
        raise UnsafeURL(f"The host “{host}” points to a private or local address.")
    return url


# Tests replace the transport of every client made here (`use_transport`): connectors built by the
# registry make their own clients, so this is how a test puts httpx.MockTransport under them.
_transport_override: ContextVar[httpx.BaseTransport | None] = ContextVar("transport_override", default=None)


@contextmanager
def use_transport(transport: httpx.BaseTransport) -> Iterator[httpx.BaseTransport]:
    """Within this block, every client from `make_client`/`guarded_client` that is not given a
    transport of its own uses `transport` (tests: `httpx.MockTransport(handler)`). The SSRF guard
    still runs: it is a request hook, not part of the transport."""
    token = _transport_override.set(transport)
    try:
        yield transport
    finally:
        _transport_override.reset(token)


def make_client(
    *,
    timeout: float | None = None,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
    event_hooks: dict[str, list[Any]] | None = None,
) -> httpx.Client:
    """An httpx client for a network API or a fetch. A timeout always applies."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout or settings.HTTP_TIMEOUT_SECONDS),
        transport=transport or _transport_override.get() or httpx.HTTPTransport(retries=1),
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=follow_redirects,
        max_redirects=5,
        event_hooks=event_hooks,
    )


def _guard_request(request: httpx.Request) -> None:
    try:
        check_public_url(str(request.url))
    except UnsafeURL as exc:
        raise httpx.RequestError(str(exc), request=request) from exc


def guarded_client(*, transport: httpx.BaseTransport | None = None, timeout: float | None = None) -> httpx.Client:
    """A client for user-given URLs: every request and every redirect passes the SSRF guard."""
    return make_client(
        timeout=timeout,
        transport=transport,
        follow_redirects=True,
        event_hooks={"request": [_guard_request]},
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def network_error_from(exc_or_response: httpx.HTTPError | httpx.Response, what: str = "") -> NetworkError:
    """Map an httpx error or a non-2xx response to a NetworkError with the publisher's flags."""
    prefix = f"{what}: " if what else ""
    if isinstance(exc_or_response, httpx.Response):
        response = exc_or_response
        status = response.status_code
        message = f"{prefix}HTTP {status}"
        if status in (401, 403):
            return NetworkError(message, auth=True)
        if status == 429:
            return NetworkError(message, retry_after=retry_after_seconds(response) or 60.0)
        if status >= 500 or status == 408:
            return NetworkError(message, retry_after=retry_after_seconds(response))
        return NetworkError(message, permanent=True)
    exc = exc_or_response
    # Errors before the request left us: safe to retry. Errors after: the network may have it.
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return NetworkError(f"{prefix}cannot connect ({type(exc).__name__})")
    if isinstance(exc, httpx.TimeoutException | httpx.ReadError | httpx.RemoteProtocolError | httpx.WriteError):
        return NetworkError(f"{prefix}no answer ({type(exc).__name__})", outcome_unknown=True)
    return NetworkError(f"{prefix}{type(exc).__name__}: {exc}")
