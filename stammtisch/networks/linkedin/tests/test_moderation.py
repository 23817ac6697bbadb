"""Liking and deleting comments on the author's posts from the inbox: POST /rest/reactions
(reactionType LIKE) and DELETE /rest/socialActions/{thread}/comments/{id}. No hiding."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest

from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.linkedin.connector import LinkedInNetwork
from stammtisch.networks.linkedin.tests.conftest import fixture

THREAD = "urn:li:activity:7270000000000000100"
COMMENT_URN = f"urn:li:comment:({THREAD},7270000000000000201)"
COMMENT_PATH = f"/rest/socialActions/{THREAD}/comments/7270000000000000201"


def answer(status: int, name: str, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, json=fixture(name), **kwargs)  # type: ignore[arg-type]


def test_it_offers_like_and_delete() -> None:
    assert LinkedInNetwork.supports_moderation == frozenset({"like", "delete"})


def test_it_likes_a_comment_as_the_page(page_channel, api) -> None:
    api.on("POST", "/rest/reactions", answer(201, "reaction_created.json"))

    LinkedInNetwork().like(page_channel, Remote(id=COMMENT_URN))

    [request] = api.sent("POST", "/rest/reactions")
    assert request.url.raw_path == b"/rest/reactions?actor=urn%3Ali%3Aorganization%3A2414183"
    assert json.loads(request.content) == {"root": COMMENT_URN, "reactionType": "LIKE"}
    assert request.headers["LinkedIn-Version"]


def test_a_member_likes_as_themselves(member_channel, api) -> None:
    api.on("POST", "/rest/reactions", answer(201, "reaction_created.json"))

    LinkedInNetwork().like(member_channel, Remote(id=COMMENT_URN))

    [request] = api.sent("POST", "/rest/reactions")
    assert parse_qs(request.url.query.decode()) == {"actor": [member_channel.remote_account_id]}


def test_it_deletes_a_comment_as_the_page(page_channel, api) -> None:
    api.on("DELETE", COMMENT_PATH, httpx.Response(204))

    LinkedInNetwork().delete_comment(page_channel, Remote(id=COMMENT_URN))

    [request] = api.sent("DELETE", COMMENT_PATH)
    assert request.url.query == b"actor=urn%3Ali%3Aorganization%3A2414183"


def test_a_comment_already_gone_counts_as_deleted(page_channel, api) -> None:
    LinkedInNetwork().delete_comment(page_channel, Remote(id=COMMENT_URN))  # the fake answers 404


def test_it_never_deletes_a_post_through_the_comment_button(page_channel, api) -> None:
    with pytest.raises(NetworkError) as caught:
        LinkedInNetwork().delete_comment(page_channel, Remote(id="urn:li:share:7270000000000000004"))

    assert caught.value.permanent
    assert api.requests == []


def test_a_refused_delete_is_permanent(page_channel, api) -> None:
    api.on("DELETE", COMMENT_PATH, answer(403, "error_403_delete_comment.json"))

    with pytest.raises(NetworkError) as caught:
        LinkedInNetwork().delete_comment(page_channel, Remote(id=COMMENT_URN))

    assert caught.value.permanent and not caught.value.auth
    assert "ACCESS_DENIED" in caught.value.message or "permissions" in caught.value.message


def test_an_auth_error_asks_for_a_reconnect(page_channel, api) -> None:
    api.on("POST", "/rest/reactions", answer(401, "error_401.json"))

    with pytest.raises(NetworkError) as caught:
        LinkedInNetwork().like(page_channel, Remote(id=COMMENT_URN))

    assert caught.value.auth


def test_a_rate_limit_waits_as_asked(page_channel, api) -> None:
    api.on("POST", "/rest/reactions", answer(429, "error_429.json", headers={"Retry-After": "300"}))

    with pytest.raises(NetworkError) as caught:
        LinkedInNetwork().like(page_channel, Remote(id=COMMENT_URN))

    assert caught.value.retry_after == 300


def test_a_server_error_may_be_retried(page_channel, api) -> None:
    api.on("DELETE", COMMENT_PATH, answer(500, "error_500.json"))

    with pytest.raises(NetworkError) as caught:
        LinkedInNetwork().delete_comment(page_channel, Remote(id=COMMENT_URN))

    assert not caught.value.permanent
