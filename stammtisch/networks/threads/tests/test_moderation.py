"""Hiding replies to our posts from the inbox (POST /{reply-id}/manage_reply with `hide`).
Threads offers no call to like a reply or to delete someone else's reply."""

from __future__ import annotations

import httpx
import pytest

from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.threads.connector import ThreadsNetwork

from .conftest import error, form, ok

REPLY = "18061234567890123"


def test_it_offers_hide_only() -> None:
    assert ThreadsNetwork.supports_moderation == frozenset({"hide", "unhide"})


@pytest.mark.parametrize(("hidden", "sent"), [(True, "true"), (False, "false")])
def test_it_hides_and_shows_a_reply(threads_channel, threads_api, hidden: bool, sent: str) -> None:
    threads_api.on("POST", f"{REPLY}/manage_reply", ok("manage_reply.json"))

    ThreadsNetwork().hide(threads_channel, Remote(id=REPLY), hidden=hidden)

    [request] = threads_api.sent("POST", f"{REPLY}/manage_reply")
    assert form(request) == {"hide": sent}


def test_an_expired_token_asks_for_a_reconnect(threads_channel, threads_api) -> None:
    threads_api.on("POST", f"{REPLY}/manage_reply", error("error_190.json"))

    with pytest.raises(NetworkError) as caught:
        ThreadsNetwork().hide(threads_channel, Remote(id=REPLY))

    assert caught.value.auth


def test_a_refusal_is_permanent(threads_channel, threads_api) -> None:
    threads_api.on("POST", f"{REPLY}/manage_reply", error("error_100_manage_reply.json"))

    with pytest.raises(NetworkError) as caught:
        ThreadsNetwork().hide(threads_channel, Remote(id=REPLY))

    assert caught.value.permanent and not caught.value.auth
    assert "cannot be hidden" in caught.value.message


def test_a_rate_limit_waits(threads_channel, threads_api) -> None:
    threads_api.on("POST", f"{REPLY}/manage_reply", error("error_4_rate_limit.json"))

    with pytest.raises(NetworkError) as caught:
        ThreadsNetwork().hide(threads_channel, Remote(id=REPLY))

    assert caught.value.retry_after and not caught.value.permanent


def test_an_http_429_waits_as_asked(threads_channel, threads_api) -> None:
    threads_api.on("POST", f"{REPLY}/manage_reply", httpx.Response(429, headers={"Retry-After": "90"}))

    with pytest.raises(NetworkError) as caught:
        ThreadsNetwork().hide(threads_channel, Remote(id=REPLY))

    assert caught.value.retry_after == 90


def test_a_server_error_may_be_retried(threads_channel, threads_api) -> None:
    threads_api.on("POST", f"{REPLY}/manage_reply", error("error_1_unknown.json", status=500))

    with pytest.raises(NetworkError) as caught:
        ThreadsNetwork().hide(threads_channel, Remote(id=REPLY))

    assert not caught.value.permanent
