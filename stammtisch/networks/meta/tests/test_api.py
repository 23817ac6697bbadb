"""The Graph client: pinned version, token handling and the error mapping every call relies on."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from stammtisch.networks.base import NetworkError
from stammtisch.networks.meta import api
from stammtisch.networks.meta.tests.graph import APP_SECRET, PAGE_TOKEN, error, ok


def call(graph, response) -> None:  # type: ignore[no-untyped-def]
    graph.on("GET", "me", response)
    with api.client(PAGE_TOKEN) as http:
        api.call(http, "GET", "me", "Facebook test")


def failure(graph, response) -> NetworkError:  # type: ignore[no-untyped-def]
    with pytest.raises(NetworkError) as caught:
        call(graph, response)
    return caught.value


def test_it_sends_the_token_in_a_header_with_the_app_secret_proof_to_the_pinned_version(graph) -> None:
    call(graph, ok("facebook", "me.json"))

    [request] = graph.requests
    assert str(request.url).startswith("https://graph.facebook.com/v27.0/me?")
    assert request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    expected = hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()
    assert request.url.params["appsecret_proof"] == expected
    assert PAGE_TOKEN not in str(request.url)


def test_an_invalid_token_is_an_auth_error(graph) -> None:
    error_ = failure(graph, error("error_190.json"))
    assert error_.auth and error_.permanent
    assert "code 190, subcode 458" in error_.message


def test_an_invalid_parameter_is_permanent(graph) -> None:
    error_ = failure(graph, error("error_100.json"))
    assert error_.permanent and not error_.auth and error_.retry_after is None


def test_a_transient_error_is_retried(graph) -> None:
    error_ = failure(graph, error("error_2.json", status=500))
    assert not error_.permanent and not error_.auth


def test_a_page_rate_limit_waits_as_long_as_the_business_use_case_header_says(graph) -> None:
    usage = {
        "104857391234567": [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 25,
                "total_time": 30,
                "estimated_time_to_regain_access": 17,
            }
        ]
    }
    error_ = failure(graph, error("error_80001.json", headers={"X-Business-Use-Case-Usage": json.dumps(usage)}))
    assert error_.retry_after == 17 * 60 and not error_.permanent


def test_an_app_rate_limit_without_a_time_waits_ten_minutes(graph) -> None:
    headers = {"X-App-Usage": json.dumps({"call_count": 100, "total_time": 40, "total_cputime": 35})}
    error_ = failure(graph, error("error_4.json", status=403, headers=headers))
    assert error_.retry_after == api.DEFAULT_THROTTLE_WAIT and not error_.permanent


def test_a_plain_429_and_a_5xx_are_retried(graph) -> None:
    assert failure(graph, httpx.Response(429, headers={"Retry-After": "30"})).retry_after == 30
    error_ = failure(graph, httpx.Response(503, text="Service Unavailable"))
    assert not error_.permanent and "HTTP 503" in error_.message


def test_a_timeout_after_sending_has_an_unknown_outcome(graph) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    error_ = failure(graph, hang)
    assert error_.outcome_unknown and not error_.permanent


def test_a_connection_that_never_opened_is_safe_to_retry(graph) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    error_ = failure(graph, refuse)
    assert not error_.outcome_unknown and not error_.permanent


def test_graph_times_are_parsed_with_their_offset() -> None:
    when = api.parse_time("2026-11-20T09:31:02+0000")
    assert when is not None and when.isoformat() == "2026-11-20T09:31:02+00:00"
    assert api.parse_time("not a time") is None
