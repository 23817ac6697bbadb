"""The Sandbox's optional moderation contract: like, hide (and show again) and delete a persona's
comment under one of the account's posts; nothing of another account, and not our own post."""

from __future__ import annotations

import datetime as dt

import pytest

from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.sandbox import clock
from stammtisch.networks.sandbox.models import SandboxPost
from stammtisch.networks.sandbox.tests.conftest import START
from stammtisch.networks.sandbox.tests.test_connector import first_comment_of, post_of, publish

DAY = dt.timedelta(days=1)


def test_it_likes_hides_shows_and_deletes_a_comment(network, channel) -> None:
    publish(network, channel, START, "key-1")
    event = first_comment_of(network, channel, START + 3 * DAY)
    remote = Remote(id=event.remote_id)
    with clock.at(START + 3 * DAY):
        network.like(channel, remote)
        network.hide(channel, remote)
        assert post_of(remote).features["moderation"] == {"liked": True, "hidden": True}
        network.hide(channel, remote, hidden=False)
        assert post_of(remote).features["moderation"] == {"liked": True, "hidden": False}
        network.delete_comment(channel, remote)
        assert post_of(remote).deleted_at is not None
        network.delete_comment(channel, remote)  # again: fine
        with pytest.raises(NetworkError) as deleted:
            network.like(channel, remote)
    assert deleted.value.permanent


def test_it_refuses_our_own_post_and_unknown_ids(network, channel) -> None:
    ours = publish(network, channel, START, "key-1")
    with clock.at(START + DAY):
        with pytest.raises(NetworkError) as own:
            network.hide(channel, ours)
        with pytest.raises(NetworkError):
            network.like(channel, Remote(id="post-999999"))
    assert own.value.permanent
    assert "moderation" not in (SandboxPost.objects.get(pk=post_of(ours).pk).features or {})


def test_it_declares_what_it_supports(network) -> None:
    assert network.supports_moderation == frozenset({"like", "hide", "unhide", "delete"})
