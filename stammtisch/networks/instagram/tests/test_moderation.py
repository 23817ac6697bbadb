"""Moderating comments on the account's media from the inbox (IG Comment node: POST {id} with
`hide`, DELETE {id}; no like call exists), and reading a mention the webhook announced by ids."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.instagram.connector import InstagramNetwork
from stammtisch.networks.meta.tests.graph import IG_ID, error, form, ok

COMMENT = "17858893269000001"
SENT = dt.datetime(2026, 11, 20, 8, 13, tzinfo=dt.UTC)


def test_it_offers_hide_and_delete_but_no_like() -> None:
    assert InstagramNetwork.supports_moderation == frozenset({"hide", "unhide", "delete"})
    with pytest.raises(NotImplementedError):
        InstagramNetwork().like(None, Remote(id=COMMENT))  # type: ignore[arg-type]


@pytest.mark.parametrize(("hidden", "sent"), [(True, "true"), (False, "false")])
def test_it_hides_and_shows_a_comment(ig_channel, graph, hidden: bool, sent: str) -> None:
    graph.on("POST", COMMENT, ok("instagram", "moderation_success.json"))

    InstagramNetwork().hide(ig_channel, Remote(id=COMMENT), hidden=hidden)

    [request] = graph.sent("POST", COMMENT)
    assert form(request) == {"hide": sent}


def test_it_deletes_a_comment(ig_channel, graph) -> None:
    graph.on("DELETE", COMMENT, ok("instagram", "moderation_success.json"))

    InstagramNetwork().delete_comment(ig_channel, Remote(id=COMMENT))

    assert len(graph.sent("DELETE", COMMENT)) == 1


def test_a_comment_already_gone_counts_as_deleted(ig_channel, graph) -> None:
    graph.on("DELETE", COMMENT, error("error_100_33.json"))

    InstagramNetwork().delete_comment(ig_channel, Remote(id=COMMENT))


def test_an_auth_error_asks_for_a_reconnect(ig_channel, graph) -> None:
    graph.on("POST", COMMENT, error("error_190.json"))

    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().hide(ig_channel, Remote(id=COMMENT))

    assert caught.value.auth


def test_a_missing_permission_asks_for_a_reconnect(ig_channel, graph) -> None:
    graph.on("POST", COMMENT, error("error_hide_refused.json", status=403))

    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().hide(ig_channel, Remote(id=COMMENT))

    assert caught.value.auth


def test_a_refusal_is_permanent_with_instagrams_message(ig_channel, graph) -> None:
    graph.on("POST", COMMENT, error("error_100_invalid.json"))

    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().hide(ig_channel, Remote(id=COMMENT))

    assert caught.value.permanent and not caught.value.auth
    assert "Invalid parameter" in caught.value.message


def test_a_rate_limit_waits(ig_channel, graph) -> None:
    usage = '{"104857391234567": [{"type": "instagram", "estimated_time_to_regain_access": 7}]}'
    graph.on("DELETE", COMMENT, error("error_4.json", headers={"X-Business-Use-Case-Usage": usage}))

    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().delete_comment(ig_channel, Remote(id=COMMENT))

    assert caught.value.retry_after == 7 * 60 and not caught.value.permanent


def test_an_http_429_waits_as_asked(ig_channel, graph) -> None:
    graph.on("POST", COMMENT, httpx.Response(429, headers={"Retry-After": "120"}, text="Too Many Requests"))

    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().hide(ig_channel, Remote(id=COMMENT))

    assert caught.value.retry_after == 120


def test_a_server_error_may_be_retried(ig_channel, graph) -> None:
    graph.on("POST", COMMENT, error("error_2.json", status=500))

    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().hide(ig_channel, Remote(id=COMMENT))

    assert not caught.value.permanent


# --- mentions -------------------------------------------------------------------------------------


def test_it_reads_a_mention_in_a_comment(ig_channel, graph) -> None:
    graph.on("GET", IG_ID, ok("instagram", "mentioned_comment.json"))

    event = InstagramNetwork().fetch_mention(
        ig_channel, media_id="17895695668004550", comment_id="17873440459141021", occurred_at=SENT
    )

    assert event is not None
    assert (event.kind, event.remote_id) == ("mention", "17873440459141021")
    assert event.text == "@cafe.koenigsbau habt ihr am Sonntag noch einen Tisch für vier?"
    assert event.occurred_at == dt.datetime(2026, 11, 20, 8, 12, 40, tzinfo=dt.UTC)
    assert event.data == {"thread": "17895695668004550"}
    [request] = graph.sent("GET", IG_ID)
    assert request.url.params["fields"] == (
        "mentioned_comment.comment_id(17873440459141021){id,text,timestamp,media{id}}"
    )


def test_it_reads_a_mention_in_a_caption(ig_channel, graph) -> None:
    graph.on("GET", IG_ID, ok("instagram", "mentioned_media.json"))

    event = InstagramNetwork().fetch_mention(ig_channel, media_id="17895695668004550", occurred_at=SENT)

    assert event is not None
    assert event.remote_id == "17895695668004550"
    assert event.text == "Bester Zwiebelkuchen der Stadt bei @cafe.koenigsbau"
    assert event.author_handle == "lena.isst.stuttgart"
    assert event.data == {"thread": "17895695668004550"}
    [request] = graph.sent("GET", IG_ID)
    assert request.url.params["fields"] == "mentioned_media.media_id(17895695668004550){id,caption,timestamp,username}"


def test_a_mention_that_is_gone_gives_nothing(ig_channel, graph) -> None:
    graph.on("GET", IG_ID, error("error_100_33.json"))

    assert InstagramNetwork().fetch_mention(ig_channel, media_id="1", comment_id="2", occurred_at=SENT) is None


def test_a_mention_read_error_is_raised(ig_channel, graph) -> None:
    graph.on("GET", IG_ID, error("error_190.json"))

    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().fetch_mention(ig_channel, media_id="1", comment_id="2", occurred_at=SENT)

    assert caught.value.auth
