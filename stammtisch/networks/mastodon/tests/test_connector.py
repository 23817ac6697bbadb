"""The Mastodon connector against documented payloads (fixtures/README.md names the pages)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import httpx
import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from stammtisch.networks.base import MediaItem, NetworkError, Outgoing, Remote
from stammtisch.networks.mastodon.api import html_to_text
from stammtisch.networks.mastodon.connector import MastodonNetwork
from stammtisch.networks.mastodon.tests.conftest import INSTANCE, fixture
from stammtisch.networks.models import OutboundPost
from stammtisch.networks.registry import get_network

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
KEY = "0b7c7c2e-4a8e-4d8f-9a57-3f1f5c1d2e01"
TOKEN = "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0"


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False):
        yield


def connector() -> MastodonNetwork:
    network = get_network("mastodon")
    assert isinstance(network, MastodonNetwork)
    return network


# --- publish -------------------------------------------------------------------------------------


def test_it_publishes_a_status_with_the_idempotency_key(mastodon_channel, instance, frozen) -> None:
    instance.on("POST", "/api/v1/statuses", httpx.Response(200, json=fixture("status.json")))

    remote = connector().publish(mastodon_channel, Outgoing(text="Heute gibt es Maultaschen!"), KEY)

    assert remote == Remote(
        id="113254962155278888",
        url="https://social.example/@koenigsbau/113254962155278888",
        published_at=dt.datetime(2026, 6, 1, 10, 0, 1, 196000, tzinfo=dt.UTC),
    )
    [request] = instance.requests
    assert request.url == "https://social.example/api/v1/statuses"
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"status": "Heute gibt es Maultaschen!"}
    record = OutboundPost.objects.get(channel=mastodon_channel, idempotency_key=KEY)
    assert record.text_sha256 == hashlib.sha256(b"Heute gibt es Maultaschen!").hexdigest()
    assert (record.in_reply_to, record.media_count, record.sent_at) == ("", 0, NOON)


def test_it_appends_the_link_unless_the_text_has_it(mastodon_channel, instance) -> None:
    instance.on("POST", "/api/v1/statuses", httpx.Response(200, json=fixture("status.json")))
    network = connector()
    network.publish(mastodon_channel, Outgoing(text="Neue Karte!", link="https://cafe.example/karte"), KEY)
    network.publish(
        mastodon_channel, Outgoing(text="Karte: https://cafe.example/karte", link="https://cafe.example/karte"), "k2"
    )
    first, second = (json.loads(r.content)["status"] for r in instance.requests)
    assert first == "Neue Karte!\n\nhttps://cafe.example/karte"
    assert second == "Karte: https://cafe.example/karte"


def test_it_uploads_media_with_alt_text_and_waits_until_processed(mastodon_channel, instance, settings) -> None:
    name = default_storage.save("media/kuchen.jpg", ContentFile(b"\xff\xd8\xff fake jpeg"))
    instance.on("POST", "/api/v2/media", httpx.Response(202, json=fixture("media_202.json")))
    instance.on(
        "GET",
        "/api/v1/media/22348641",
        httpx.Response(206),
        httpx.Response(206),
        httpx.Response(200, json=fixture("media_200.json")),
    )
    instance.on("POST", "/api/v1/statuses", httpx.Response(200, json=fixture("status.json")))
    waits: list[float] = []

    MastodonNetwork(sleep=waits.append).publish(
        mastodon_channel,
        Outgoing(text="Apfelkuchen!", media=(MediaItem(name, "image/jpeg", "Apfelkuchen auf einem weißen Teller"),)),
        KEY,
    )

    [upload] = instance.sent("POST", "/api/v2/media")
    body = upload.content
    assert b'name="description"' in body and "Apfelkuchen auf einem weißen Teller".encode() in body
    assert b'filename="kuchen.jpg"' in body and b"fake jpeg" in body
    assert len(instance.sent("GET", "/api/v1/media/22348641")) == 3
    assert len(waits) == 3  # waited before each poll, never really slept
    [status] = instance.sent("POST", "/api/v1/statuses")
    assert json.loads(status.content) == {"status": "Apfelkuchen!", "media_ids": ["22348641"]}
    assert OutboundPost.objects.get(idempotency_key=KEY).media_count == 1


def test_it_gives_up_on_media_that_never_finishes_processing_for_now(mastodon_channel, instance) -> None:
    name = default_storage.save("media/film.mp4", ContentFile(b"fake mp4"))
    instance.on("POST", "/api/v2/media", httpx.Response(202, json=fixture("media_202.json")))
    instance.on("GET", "/api/v1/media/22348641", httpx.Response(206))
    with pytest.raises(NetworkError) as caught:
        MastodonNetwork(sleep=lambda _s: None).publish(
            mastodon_channel, Outgoing(text="Film", media=(MediaItem(name, "video/mp4"),)), KEY
        )
    assert not caught.value.permanent and caught.value.retry_after == 120
    assert not instance.sent("POST", "/api/v1/statuses")  # nothing was posted


def test_a_validation_error_is_permanent_with_mastodons_reason(mastodon_channel, instance) -> None:
    instance.on("POST", "/api/v1/statuses", httpx.Response(422, json=fixture("error_422.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(mastodon_channel, Outgoing(text="x" * 600), KEY)
    error = caught.value
    assert error.permanent and not error.auth and not error.outcome_unknown
    assert "Text character limit of 500 exceeded" in error.message


def test_an_invalid_token_is_an_auth_error(mastodon_channel, instance) -> None:
    instance.on("POST", "/api/v1/statuses", httpx.Response(401, json=fixture("error_401.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(mastodon_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.auth and caught.value.permanent
    assert "access token is invalid" in caught.value.message
    assert TOKEN not in caught.value.message


def test_a_channel_without_token_needs_reconnection(mastodon_channel, instance) -> None:
    mastodon_channel.credentials = {}
    with pytest.raises(NetworkError) as caught:
        connector().publish(mastodon_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.auth
    assert instance.requests == []


def test_it_waits_until_the_rate_limit_resets(mastodon_channel, instance, frozen) -> None:
    headers = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "2026-06-01T10:03:20.000Z",
    }
    instance.on("POST", "/api/v1/statuses", httpx.Response(429, json=fixture("error_429.json"), headers=headers))
    with pytest.raises(NetworkError) as caught:
        connector().publish(mastodon_channel, Outgoing(text="Hallo"), KEY)
    error = caught.value
    assert error.retry_after == 200.0
    assert not error.permanent and not error.outcome_unknown


def test_a_server_error_is_retried(mastodon_channel, instance) -> None:
    instance.on("POST", "/api/v1/statuses", httpx.Response(503, text="<html>Service Unavailable</html>"))
    with pytest.raises(NetworkError) as caught:
        connector().publish(mastodon_channel, Outgoing(text="Hallo"), KEY)
    assert not caught.value.permanent and not caught.value.auth and not caught.value.outcome_unknown


def test_a_timeout_after_sending_leaves_the_outcome_unknown(mastodon_channel, instance) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    instance.on("POST", "/api/v1/statuses", slow)
    with pytest.raises(NetworkError) as caught:
        connector().publish(mastodon_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.outcome_unknown and not caught.value.permanent
    # Recorded before sending, so find_published can look for it.
    assert OutboundPost.objects.filter(idempotency_key=KEY).exists()


def test_a_refused_connection_is_safe_to_retry(mastodon_channel, instance) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    instance.on("POST", "/api/v1/statuses", refused)
    with pytest.raises(NetworkError) as caught:
        connector().publish(mastodon_channel, Outgoing(text="Hallo"), KEY)
    assert not caught.value.outcome_unknown and not caught.value.permanent


def test_the_ssrf_guard_refuses_an_instance_on_a_private_address(mastodon_channel, instance) -> None:
    for host in ("evil.example", "loop.example", "127.0.0.1", "10.1.2.3"):
        mastodon_channel.network_data = {"instance": f"https://{host}"}
        with pytest.raises(NetworkError) as caught:
            connector().publish(mastodon_channel, Outgoing(text="Hallo"), KEY)
        assert caught.value.permanent, host
        assert "private or local" in caught.value.message
    assert instance.requests == []  # nothing left this machine


# --- find_published ------------------------------------------------------------------------------


def _statuses_page(*statuses: dict, next_max_id: str = "") -> httpx.Response:
    headers = {}
    if next_max_id:
        headers["Link"] = (
            f'<{INSTANCE}/api/v1/accounts/109876/statuses?max_id={next_max_id}>; rel="next", '
            f'<{INSTANCE}/api/v1/accounts/109876/statuses?min_id=999>; rel="prev"'
        )
    return httpx.Response(200, json=list(statuses), headers=headers)


def _status(status_id: str, created: str, **extra) -> dict:
    return {**fixture("status.json"), "id": status_id, "created_at": created, **extra}


def _record(channel, text="Heute gibt es Maultaschen!", in_reply_to="", media_count=0, at=NOON):
    return OutboundPost.objects.create(
        channel=channel,
        idempotency_key=KEY,
        text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        in_reply_to=in_reply_to,
        media_count=media_count,
        sent_at=at,
    )


def test_find_published_says_not_found_without_asking_when_nothing_was_sent(mastodon_channel, instance) -> None:
    assert connector().find_published(mastodon_channel, KEY, since=NOON) is None
    assert instance.requests == []


def test_find_published_finds_the_status_by_its_exact_source_text_across_pages(
    mastodon_channel, instance, frozen
) -> None:
    _record(mastodon_channel)
    other_text = _status("113254962155279999", "2026-06-01T10:30:00.000Z")
    with_media = _status("113254962155279998", "2026-06-01T10:20:00.000Z", media_attachments=[{"id": "1"}])
    ours = _status("113254962155278888", "2026-06-01T10:00:01.196Z")
    instance.on(
        "GET",
        "/api/v1/accounts/109876/statuses",
        _statuses_page(other_text, with_media, next_max_id="113254962155279998"),
        _statuses_page(ours),
    )
    instance.on(
        "GET",
        "/api/v1/statuses/113254962155279999/source",
        httpx.Response(200, json={"id": "113254962155279999", "text": "Something else", "spoiler_text": ""}),
    )
    instance.on("GET", "/api/v1/statuses/113254962155278888/source", httpx.Response(200, json=fixture("source.json")))

    remote = connector().find_published(mastodon_channel, KEY, since=NOON)

    assert remote is not None and remote.id == "113254962155278888"
    pages = instance.sent("GET", "/api/v1/accounts/109876/statuses")
    assert [p.url.params.get("max_id") for p in pages] == [None, "113254962155279998"]
    assert pages[0].url.params["limit"] == "40" and pages[0].url.params["exclude_reblogs"] == "true"
    # The status with media was never a candidate: no source asked for it.
    assert not instance.sent("GET", "/api/v1/statuses/113254962155279998/source")


def test_find_published_stops_at_statuses_older_than_the_send(mastodon_channel, instance, frozen) -> None:
    _record(mastodon_channel)
    old = _status("113200000000000000", "2026-05-31T09:00:00.000Z")
    instance.on("GET", "/api/v1/accounts/109876/statuses", _statuses_page(old, next_max_id="113200000000000000"))
    assert connector().find_published(mastodon_channel, KEY, since=NOON) is None
    assert len(instance.requests) == 1


def test_find_published_refuses_to_guess_on_an_instance_without_source(mastodon_channel, instance, frozen) -> None:
    _record(mastodon_channel)
    instance.on(
        "GET",
        "/api/v1/accounts/109876/statuses",
        _statuses_page(_status("113254962155278888", "2026-06-01T10:00:01.196Z")),
    )
    instance.on(
        "GET", "/api/v1/statuses/113254962155278888/source", httpx.Response(404, json=fixture("error_404.json"))
    )
    with pytest.raises(NetworkError) as caught:
        connector().find_published(mastodon_channel, KEY, since=NOON)
    assert caught.value.permanent and "check the account" in caught.value.message


# --- reply, delete -------------------------------------------------------------------------------


def test_a_reply_keeps_a_private_conversation_private_and_mentions_the_author(mastodon_channel, instance) -> None:
    parent = fixture("notifications.json")[1]["status"]
    instance.on("GET", "/api/v1/statuses/113255000000000002", httpx.Response(200, json=parent))
    instance.on("POST", "/api/v1/statuses", httpx.Response(200, json=fixture("status.json")))

    connector().reply(mastodon_channel, Remote(id="113255000000000002"), "Ja, von 10 bis 18 Uhr!", KEY)

    [post] = instance.sent("POST", "/api/v1/statuses")
    assert json.loads(post.content) == {
        "status": "@zsc Ja, von 10 bis 18 Uhr!",
        "in_reply_to_id": "113255000000000002",
        "visibility": "direct",
    }
    assert post.headers["Idempotency-Key"] == KEY
    assert OutboundPost.objects.get(idempotency_key=KEY).in_reply_to == "113255000000000002"


def test_a_reply_to_a_deleted_status_fails_for_good(mastodon_channel, instance) -> None:
    with pytest.raises(NetworkError) as caught:
        connector().reply(mastodon_channel, Remote(id="1"), "Danke!", KEY)
    assert caught.value.permanent and "Record not found" in caught.value.message
    assert not instance.sent("POST", "/api/v1/statuses")


def test_it_deletes_and_a_second_delete_is_fine(mastodon_channel, instance) -> None:
    deleted = {**fixture("status.json"), "text": "Heute gibt es Maultaschen!"}
    instance.on(
        "DELETE",
        "/api/v1/statuses/113254962155278888",
        httpx.Response(200, json=deleted),
        httpx.Response(404, json=fixture("error_404.json")),
    )
    network = connector()
    network.delete(mastodon_channel, Remote(id="113254962155278888"))
    network.delete(mastodon_channel, Remote(id="113254962155278888"))
    assert len(instance.sent("DELETE", "/api/v1/statuses/113254962155278888")) == 2


# --- fetch_activity ------------------------------------------------------------------------------


def test_activity_turns_notifications_into_events_with_plain_text(mastodon_channel, instance) -> None:
    instance.on(
        "GET",
        "/api/v1/notifications",
        httpx.Response(
            200,
            json=fixture("notifications.json"),
            headers={
                "Link": f'<{INSTANCE}/api/v1/notifications?max_id=34975500>; rel="next", '
                f'<{INSTANCE}/api/v1/notifications?min_id=34975870>; rel="prev"'
            },
        ),
    )

    events, cursor = connector().fetch_activity(mastodon_channel, {})

    assert cursor == {"min_id": "34975870"}
    by_kind = {event.kind: event for event in events}
    assert [e.kind for e in events] == ["share", "like", "comment", "message", "follow"]  # oldest first
    comment = by_kind["comment"]
    assert comment.remote_id == "113255000000000001"
    assert comment.post_remote_id == comment.in_reply_to == "113254962155278888"
    assert comment.author_handle == "trwnh@mastodon.example"
    assert comment.author_language == "en"
    assert comment.text == ("@koenigsbau Looks great & tasty!\nRecipe: https://example.org/maultaschen-rezept\n\nBye")
    assert "<" not in comment.text and "alert" not in comment.text
    message = by_kind["message"]
    assert message.text == "@koenigsbau Habt ihr am Sonntag offen?"
    assert message.author_handle == "zsc@social.example"  # local accounts get the instance
    assert message.data["visibility"] == "direct"
    assert by_kind["like"].post_remote_id == by_kind["share"].post_remote_id == "113254962155278888"
    assert by_kind["follow"].author_handle == "haskal@cybre.example"
    request = instance.requests[0]
    assert request.url.params.get_list("types[]") == ["mention", "favourite", "reblog", "follow"]
    assert "min_id" not in request.url.params  # the first sync reads only the newest page


def test_activity_pages_forward_from_the_cursor(mastodon_channel, instance, monkeypatch) -> None:
    from stammtisch.networks.mastodon import connector as module

    monkeypatch.setattr(module, "NOTIFICATIONS_PAGE", 2)
    follow = fixture("notifications.json")[0]

    def page(*ids: str, newest: str) -> httpx.Response:
        items = [{**follow, "id": i} for i in ids]
        return httpx.Response(
            200, json=items, headers={"Link": f'<{INSTANCE}/api/v1/notifications?min_id={newest}>; rel="prev"'}
        )

    instance.on(
        "GET",
        "/api/v1/notifications",
        page("12", "11", newest="12"),
        page("14", "13", newest="14"),
        page("15", newest="15"),
    )

    events, cursor = connector().fetch_activity(mastodon_channel, {"min_id": "10"})

    assert [e.remote_id for e in events] == ["11", "12", "13", "14", "15"]
    assert cursor == {"min_id": "15"}
    assert [r.url.params["min_id"] for r in instance.requests] == ["10", "12", "14"]


def test_activity_with_nothing_new_keeps_the_cursor(mastodon_channel, instance) -> None:
    instance.on("GET", "/api/v1/notifications", httpx.Response(200, json=[]))
    assert connector().fetch_activity(mastodon_channel, {"min_id": "34975870"}) == ([], {"min_id": "34975870"})


def test_html_to_text_keeps_no_markup() -> None:
    assert (
        html_to_text('<p>a<br/>b</p><p>&lt;script&gt; <style>p{}</style><a href="javascript:x">c</a></p>')
        == "a\nb\n\n<script> c"
    )


# --- fetch_metrics, refresh ----------------------------------------------------------------------


def test_metrics_per_status_and_followers(mastodon_channel, instance) -> None:
    counted = {**fixture("status.json"), "favourites_count": 12, "reblogs_count": 3, "replies_count": 2}
    instance.on("GET", "/api/v1/statuses", httpx.Response(200, json=[counted]))
    instance.on("GET", "/api/v1/accounts/verify_credentials", httpx.Response(200, json=fixture("account.json")))

    metrics = connector().fetch_metrics(mastodon_channel, [Remote(id="113254962155278888"), Remote(id="404")])

    assert [(m.remote_id, m.values) for m in metrics] == [
        ("113254962155278888", {"likes": 12, "shares": 3, "comments": 2}),
        ("109876", {"followers": 1234, "following": 56, "posts": 789}),
    ]
    [batch] = instance.sent("GET", "/api/v1/statuses")
    assert batch.url.params.get_list("id[]") == ["113254962155278888", "404"]


def test_metrics_fall_back_to_one_status_at_a_time_before_mastodon_4_3(mastodon_channel, instance) -> None:
    instance.on(
        "GET",
        "/api/v1/statuses/113254962155278888",
        httpx.Response(200, json={**fixture("status.json"), "favourites_count": 1}),
    )
    instance.on("GET", "/api/v1/accounts/verify_credentials", httpx.Response(200, json=fixture("account.json")))
    metrics = connector().fetch_metrics(mastodon_channel, [Remote(id="113254962155278888"), Remote(id="5")])
    assert metrics[0].values == {"likes": 1, "shares": 0, "comments": 0}
    assert len(metrics) == 2  # the deleted status "5" is left out


def test_refresh_keeps_the_token_that_does_not_expire(mastodon_channel, instance) -> None:
    instance.on(
        "GET",
        "/api/v1/accounts/verify_credentials",
        httpx.Response(200, json=fixture("account.json")),
        httpx.Response(401, json=fixture("error_401.json")),
    )
    network = connector()
    assert network.refresh_credentials(mastodon_channel) == {"access_token": TOKEN}
    with pytest.raises(NetworkError) as caught:
        network.refresh_credentials(mastodon_channel)
    assert caught.value.auth
