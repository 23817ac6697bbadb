"""Moderating comments on the Page's posts from the inbox (Graph API Comment node: POST
{id}/likes, POST {id} with is_hidden, DELETE {id}; each answers `{"success": true}`)."""

from __future__ import annotations

import pytest

from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.facebook.connector import FacebookNetwork
from stammtisch.networks.meta.tests.graph import error, form, ok

COMMENT = "122101234567890778_987654321"


def test_it_likes_a_comment(page_channel, graph) -> None:
    graph.on("POST", f"{COMMENT}/likes", ok("facebook", "delete_success.json"))

    FacebookNetwork().like(page_channel, Remote(id=COMMENT))

    assert len(graph.sent("POST", f"{COMMENT}/likes")) == 1


@pytest.mark.parametrize(("hidden", "sent"), [(True, "true"), (False, "false")])
def test_it_hides_and_shows_a_comment_with_is_hidden(page_channel, graph, hidden: bool, sent: str) -> None:
    graph.on("POST", COMMENT, ok("facebook", "delete_success.json"))

    FacebookNetwork().hide(page_channel, Remote(id=COMMENT), hidden=hidden)

    [request] = graph.sent("POST", COMMENT)
    assert form(request) == {"is_hidden": sent}


def test_it_deletes_a_comment(page_channel, graph) -> None:
    graph.on("DELETE", COMMENT, ok("facebook", "delete_success.json"))

    FacebookNetwork().delete_comment(page_channel, Remote(id=COMMENT))

    assert len(graph.sent("DELETE", COMMENT)) == 1


def test_a_refused_hide_is_an_error(page_channel, graph) -> None:
    graph.on("POST", COMMENT, error("error_100.json"))

    with pytest.raises(NetworkError):
        FacebookNetwork().hide(page_channel, Remote(id=COMMENT))
