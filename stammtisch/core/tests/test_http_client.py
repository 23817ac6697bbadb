from __future__ import annotations

import httpx
import pytest

from stammtisch.core.http import (
    UnsafeURL,
    check_public_url,
    guarded_client,
    make_client,
    network_error_from,
)


def test_it_refuses_private_and_local_addresses() -> None:
    for url in [
        "http://127.0.0.1/feed",
        "http://localhost:8000/",
        "http://10.1.2.3/",
        "http://192.168.0.1/rss",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ]:
        with pytest.raises(UnsafeURL):
            check_public_url(url)


def test_it_refuses_other_schemes_and_credentials() -> None:
    for url in ["file:///etc/passwd", "gopher://example.org/", "ftp://example.org/", "http://u:p@8.8.8.8/"]:
        with pytest.raises(UnsafeURL):
            check_public_url(url)


def test_it_accepts_a_public_address() -> None:
    assert check_public_url("https://8.8.8.8/feed.xml") == "https://8.8.8.8/feed.xml"


def test_it_allows_private_addresses_only_when_configured(settings) -> None:
    settings.HTTP_ALLOW_PRIVATE = True
    assert check_public_url("http://10.0.0.5/") == "http://10.0.0.5/"


def test_the_guarded_client_checks_redirect_targets() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "8.8.8.8":
            return httpx.Response(302, headers={"Location": "http://127.0.0.1/admin"})
        return httpx.Response(200, text="secret")

    with (
        guarded_client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(httpx.RequestError, match="private or local"),
    ):
        client.get("http://8.8.8.8/feed")


def test_the_client_sends_a_user_agent_and_has_a_timeout() -> None:
    seen: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["ua"] = request.headers["User-Agent"]
        return httpx.Response(204)

    with make_client(transport=httpx.MockTransport(handler)) as client:
        client.get("https://api.example.org/")
        assert client.timeout.read is not None
    assert seen["ua"].startswith("Stammtisch/")


def _response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("POST", "https://x.example/"))


def test_it_maps_status_codes_to_publisher_flags() -> None:
    assert network_error_from(_response(401)).auth is True
    assert network_error_from(_response(403)).permanent is True
    limited = network_error_from(_response(429, **{"Retry-After": "17"}))
    assert limited.retry_after == 17 and not limited.permanent
    assert network_error_from(_response(503)).permanent is False
    assert network_error_from(_response(422)).permanent is True


def test_it_maps_transport_errors_to_safe_retry_or_unknown_outcome() -> None:
    request = httpx.Request("POST", "https://x.example/")
    assert network_error_from(httpx.ConnectError("refused", request=request)).outcome_unknown is False
    assert network_error_from(httpx.ReadTimeout("slow", request=request)).outcome_unknown is True
    assert network_error_from(httpx.RemoteProtocolError("reset", request=request)).outcome_unknown is True


def test_the_suite_blocks_real_network_access() -> None:
    import socket

    with pytest.raises(Exception, match=r"(?i)socket|blocked|allowed"):
        socket.create_connection(("8.8.8.8", 53), timeout=1)
