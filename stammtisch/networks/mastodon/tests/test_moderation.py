"""Liking a reply from the inbox: POST /api/v1/statuses/:id/favourite (the answer is the Status;
https://docs.joinmastodon.org/methods/statuses/#favourite). Mastodon cannot hide or delete other
people's statuses, so the connector offers only "like"."""

from __future__ import annotations

import httpx
import pytest

from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.mastodon.connector import MastodonNetwork
from stammtisch.networks.mastodon.tests.conftest import fixture


def test_it_favourites_the_status(mastodon_channel, instance) -> None:
    instance.on(
        "POST", "/api/v1/statuses/113254962155278999/favourite", httpx.Response(200, json=fixture("status.json"))
    )

    MastodonNetwork().like(mastodon_channel, Remote(id="113254962155278999"))

    [request] = instance.sent("POST", "/api/v1/statuses/113254962155278999/favourite")
    assert request.headers["Authorization"].startswith("Bearer ")


def test_a_missing_status_is_a_permanent_error(mastodon_channel, instance) -> None:
    with pytest.raises(NetworkError) as caught:
        MastodonNetwork().like(mastodon_channel, Remote(id="404404"))
    assert caught.value.permanent


def test_it_offers_only_like() -> None:
    assert MastodonNetwork.supports_moderation == frozenset({"like"})
    with pytest.raises(NotImplementedError):
        MastodonNetwork().hide(None, Remote(id="1"))  # type: ignore[arg-type]
