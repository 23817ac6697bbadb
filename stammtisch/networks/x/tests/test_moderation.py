"""Liking and hiding from the inbox as the X account: POST/DELETE /2/users/:id/likes and PUT
/2/tweets/:id/hidden. X deletes only one's own posts, so others' replies cannot be deleted."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.x import oauth
from stammtisch.networks.x.connector import XNetwork

from .conftest import USER_ID, fixture

REPLY = "1861234567890123456"


def answer(name: str, status: int = 200, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, json=fixture(name), **kwargs)  # type: ignore[arg-type]


def test_it_offers_like_and_hide_but_not_delete() -> None:
    assert XNetwork.supports_moderation == frozenset({"like", "hide", "unhide"})
    assert {"like.write", "tweet.moderate.write"} <= set(oauth.SCOPES.split())


def test_it_likes_a_post_as_the_account(x_channel, api) -> None:
    api.on("POST", f"/2/users/{USER_ID}/likes", answer("like.json"))

    XNetwork().like(x_channel, Remote(id=REPLY))

    [request] = api.sent("POST", f"/2/users/{USER_ID}/likes")
    assert json.loads(request.content) == {"tweet_id": REPLY}
    assert request.headers["Authorization"].startswith("Bearer ")


def test_it_unlikes_a_post(x_channel, api) -> None:
    api.on("DELETE", f"/2/users/{USER_ID}/likes/{REPLY}", answer("unlike.json"))

    XNetwork().unlike(x_channel, Remote(id=REPLY))

    assert len(api.sent("DELETE", f"/2/users/{USER_ID}/likes/{REPLY}")) == 1


@pytest.mark.parametrize(("hidden", "name"), [(True, "hidden.json"), (False, "unhidden.json")])
def test_it_hides_and_shows_a_reply(x_channel, api, hidden: bool, name: str) -> None:
    api.on("PUT", f"/2/tweets/{REPLY}/hidden", answer(name))

    XNetwork().hide(x_channel, Remote(id=REPLY), hidden=hidden)

    [request] = api.sent("PUT", f"/2/tweets/{REPLY}/hidden")
    assert json.loads(request.content) == {"hidden": hidden}


def test_an_answer_that_says_not_hidden_is_an_error(x_channel, api) -> None:
    api.on("PUT", f"/2/tweets/{REPLY}/hidden", answer("unhidden.json"))

    with pytest.raises(NetworkError):
        XNetwork().hide(x_channel, Remote(id=REPLY), hidden=True)


def test_an_auth_error_asks_for_a_reconnect(x_channel, api) -> None:
    api.on("POST", f"/2/users/{USER_ID}/likes", answer("error_401.json", 401))

    with pytest.raises(NetworkError) as caught:
        XNetwork().like(x_channel, Remote(id=REPLY))

    assert caught.value.auth


def test_a_refused_hide_is_permanent_with_xs_reason(x_channel, api) -> None:
    api.on("PUT", f"/2/tweets/{REPLY}/hidden", answer("error_403_hide.json", 403))

    with pytest.raises(NetworkError) as caught:
        XNetwork().hide(x_channel, Remote(id=REPLY))

    assert caught.value.permanent and not caught.value.auth
    assert "conversations you started" in caught.value.message


def test_a_rate_limit_waits_until_the_reset(x_channel, api) -> None:
    reset = int(time.time()) + 600
    headers = {"x-rate-limit-limit": "50", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
    api.on("POST", f"/2/users/{USER_ID}/likes", answer("error_429.json", 429, headers=headers))

    with pytest.raises(NetworkError) as caught:
        XNetwork().like(x_channel, Remote(id=REPLY))

    assert caught.value.retry_after is not None and 590 <= caught.value.retry_after <= 600


def test_a_server_error_may_be_retried(x_channel, api) -> None:
    api.on("PUT", f"/2/tweets/{REPLY}/hidden", answer("error_503.json", 503))

    with pytest.raises(NetworkError) as caught:
        XNetwork().hide(x_channel, Remote(id=REPLY))

    assert not caught.value.permanent
