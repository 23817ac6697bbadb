"""Liking from the inbox as the Bluesky account: an app.bsky.feed.like record with the post's uri
and cid (read with getPosts); unliking deletes the record named by the post view's viewer.like."""

from __future__ import annotations

import pytest

from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.bluesky.connector import BlueskyNetwork

from .conftest import DID, error, ok

REPLY = "at://did:plc:annaschmidt7stuttgart/app.bsky.feed.post/3lbqtb2xyzk2a"
REPLY_CID = "bafyreihwjm6vq3p5cwhyqsd3jqcqrrb5ehqlssgdggzzmkqkmsfbeqwdve"


def test_it_offers_like_only() -> None:
    assert BlueskyNetwork.supports_moderation == frozenset({"like"})


def test_it_likes_a_reply_with_its_uri_and_cid(bluesky_channel, pds) -> None:
    pds.on("app.bsky.feed.getPosts", ok("getPosts_reply.json"))
    pds.on("com.atproto.repo.createRecord", ok("createRecord_like.json"))

    BlueskyNetwork().like(bluesky_channel, Remote(id=REPLY))

    sent = pds.json_of("com.atproto.repo.createRecord")
    assert sent["repo"] == DID and sent["collection"] == "app.bsky.feed.like"
    assert sent["record"]["$type"] == "app.bsky.feed.like"
    assert sent["record"]["subject"] == {"uri": REPLY, "cid": REPLY_CID}
    assert sent["record"]["createdAt"].endswith("Z")


def test_a_post_liked_already_is_not_liked_twice(bluesky_channel, pds) -> None:
    pds.on("app.bsky.feed.getPosts", ok("getPosts_reply_liked.json"))

    BlueskyNetwork().like(bluesky_channel, Remote(id=REPLY))

    assert pds.calls("com.atproto.repo.createRecord") == []


def test_it_unlikes_by_deleting_our_like_record(bluesky_channel, pds) -> None:
    pds.on("app.bsky.feed.getPosts", ok("getPosts_reply_liked.json"))
    pds.on("com.atproto.repo.deleteRecord", ok("deleteRecord.json"))

    BlueskyNetwork().unlike(bluesky_channel, Remote(id=REPLY))

    assert pds.json_of("com.atproto.repo.deleteRecord") == {
        "repo": DID,
        "collection": "app.bsky.feed.like",
        "rkey": "3lbqtz7kfxs2c",
    }


def test_unliking_a_post_not_liked_does_nothing(bluesky_channel, pds) -> None:
    pds.on("app.bsky.feed.getPosts", ok("getPosts_reply.json"))

    BlueskyNetwork().unlike(bluesky_channel, Remote(id=REPLY))

    assert pds.calls("com.atproto.repo.deleteRecord") == []


def test_a_deleted_post_cannot_be_liked(bluesky_channel, pds) -> None:
    pds.on("app.bsky.feed.getPosts", ok({"posts": []}))

    with pytest.raises(NetworkError) as caught:
        BlueskyNetwork().like(bluesky_channel, Remote(id=REPLY))

    assert caught.value.permanent


def test_an_auth_error_asks_for_a_reconnect(bluesky_channel, pds) -> None:
    pds.on("app.bsky.feed.getPosts", ok("getPosts_reply.json"))
    pds.on("com.atproto.repo.createRecord", error(403, "error_authentication_required.json"))

    with pytest.raises(NetworkError) as caught:
        BlueskyNetwork().like(bluesky_channel, Remote(id=REPLY))

    assert caught.value.auth


def test_a_refusal_is_permanent(bluesky_channel, pds) -> None:
    pds.on("app.bsky.feed.getPosts", ok("getPosts_reply.json"))
    pds.on("com.atproto.repo.createRecord", error(400, "error_invalid_request.json"))

    with pytest.raises(NetworkError) as caught:
        BlueskyNetwork().like(bluesky_channel, Remote(id=REPLY))

    assert caught.value.permanent and not caught.value.auth


def test_a_rate_limit_waits_until_the_reset(bluesky_channel, pds) -> None:
    pds.on("app.bsky.feed.getPosts", error(429, "error_rate_limit.json", {"Retry-After": "120"}))

    with pytest.raises(NetworkError) as caught:
        BlueskyNetwork().like(bluesky_channel, Remote(id=REPLY))

    assert caught.value.retry_after == 120


def test_a_server_error_may_be_retried(bluesky_channel, pds) -> None:
    pds.on("app.bsky.feed.getPosts", ok("getPosts_reply.json"))
    pds.on("com.atproto.repo.createRecord", error(500, "error_internal.json"))

    with pytest.raises(NetworkError) as caught:
        BlueskyNetwork().like(bluesky_channel, Remote(id=REPLY))

    assert not caught.value.permanent
