"""The X connector against documented payloads (fixtures/README.md names the pages)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import parse_qs

import httpx
import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from stammtisch.networks.base import MediaItem, NetworkError, Outgoing, Remote
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.registry import get_network
from stammtisch.networks.x.connector import XNetwork, text_fingerprint
from stammtisch.networks.x.tests.conftest import ACCESS, CLIENT_ID, CLIENT_SECRET, REFRESH, USER_ID, fixture

NOW = dt.datetime(2026, 11, 27, 10, 10, tzinfo=dt.UTC)
KEY = "0b7c7c2e-4a8e-4d8f-9a57-3f1f5c1d2e01"
TWEET_ID = "1445880548472328192"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def connector() -> XNetwork:
    network = get_network("x")
    assert isinstance(network, XNetwork)
    return network


def created() -> httpx.Response:
    return httpx.Response(201, json=fixture("tweet_created.json"))


# --- publish -------------------------------------------------------------------------------------


def test_it_publishes_a_post_and_records_it_before_sending(frozen, x_channel, api) -> None:
    api.on("POST", "/2/tweets", created())

    remote = connector().publish(
        x_channel, Outgoing(text="Frische Franzbrötchen ab 7 Uhr!", link="https://cafe.example/karte"), KEY
    )

    assert remote == Remote(id=TWEET_ID, url=f"https://x.com/cafekoenigsbau/status/{TWEET_ID}", published_at=NOW)
    [request] = api.requests
    assert request.url == "https://api.x.com/2/tweets"
    assert request.headers["Authorization"] == f"Bearer {ACCESS}"
    assert json.loads(request.content) == {"text": "Frische Franzbrötchen ab 7 Uhr!\n\nhttps://cafe.example/karte"}
    record = OutboundPost.objects.get(channel=x_channel, idempotency_key=KEY)
    assert record.text_sha256 == text_fingerprint("Frische Franzbrötchen ab 7 Uhr!\n\nhttps://t.co/8qXOvN3pVd")
    assert (record.in_reply_to, record.media_count, record.sent_at) == ("", 0, NOW)


def test_it_uploads_images_first_and_attaches_them(frozen, x_channel, api) -> None:
    name = default_storage.save("media/karte.jpg", ContentFile(b"\xff\xd8\xff fake jpeg"))
    api.on("POST", "/2/media/upload", httpx.Response(200, json=fixture("media_upload.json")))
    api.on("POST", "/2/tweets", created())

    connector().publish(
        x_channel, Outgoing(text="Neue Karte", media=(MediaItem(path=name, content_type="image/jpeg"),)), KEY
    )

    [upload] = api.sent("POST", "/2/media/upload")
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="media_category"\r\n\r\ntweet_image' in upload.content
    assert b"\xff\xd8\xff fake jpeg" in upload.content
    [tweet] = api.sent("POST", "/2/tweets")
    assert json.loads(tweet.content) == {"text": "Neue Karte", "media": {"media_ids": ["1880028106020515840"]}}
    assert OutboundPost.objects.get(idempotency_key=KEY).media_count == 1


def test_duplicate_content_is_permanent_with_xs_words(frozen, x_channel, api) -> None:
    api.on("POST", "/2/tweets", httpx.Response(403, json=fixture("error_403_duplicate.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(x_channel, Outgoing(text="Schon gesagt"), KEY)
    error = caught.value
    assert error.permanent and not error.auth and error.retry_after is None
    assert "duplicate content" in error.message


def test_a_validation_error_is_permanent_with_xs_message(frozen, x_channel, api) -> None:
    api.on("POST", "/2/tweets", httpx.Response(400, json=fixture("error_400.json")))
    with pytest.raises(NetworkError) as caught:
        connector().reply(x_channel, Remote(id="abc"), "Danke!", KEY)
    assert caught.value.permanent and not caught.value.auth
    assert "is not valid" in caught.value.message


def test_a_revoked_token_is_an_auth_error(frozen, x_channel, api) -> None:
    api.on("POST", "/2/tweets", httpx.Response(401, json=fixture("error_401.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(x_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.auth and caught.value.permanent


def test_it_waits_until_the_rate_limit_resets(frozen, x_channel, api) -> None:
    reset = int(NOW.timestamp()) + 420
    headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
    api.on("POST", "/2/tweets", httpx.Response(429, json=fixture("error_429.json"), headers=headers))
    with pytest.raises(NetworkError) as caught:
        connector().publish(x_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.retry_after == 420.0 and not caught.value.permanent


def test_a_server_error_is_transient(frozen, x_channel, api) -> None:
    api.on("POST", "/2/tweets", httpx.Response(503, json=fixture("error_503.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(x_channel, Outgoing(text="Hallo"), KEY)
    assert not caught.value.permanent and not caught.value.outcome_unknown


def test_a_timeout_after_sending_is_an_unknown_outcome(frozen, x_channel, api) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    api.on("POST", "/2/tweets", timeout)
    with pytest.raises(NetworkError) as caught:
        connector().publish(x_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.outcome_unknown and not caught.value.permanent
    assert OutboundPost.objects.filter(idempotency_key=KEY).exists()  # recorded before sending


def test_it_replies_and_deletes(frozen, x_channel, api) -> None:
    api.on("POST", "/2/tweets", created())
    api.on("DELETE", f"/2/tweets/{TWEET_ID}", httpx.Response(200, json=fixture("delete.json")))
    api.on("DELETE", "/2/tweets/1", httpx.Response(404, json=fixture("error_404.json")))

    connector().reply(x_channel, Remote(id="1871000000000000005"), "Ja, ab 7 Uhr!", KEY)
    connector().delete(x_channel, Remote(id=TWEET_ID))
    connector().delete(x_channel, Remote(id="1"))  # already gone: nothing to do

    [reply] = api.sent("POST", "/2/tweets")
    assert json.loads(reply.content) == {
        "text": "Ja, ab 7 Uhr!",
        "reply": {"in_reply_to_tweet_id": "1871000000000000005"},
    }
    assert OutboundPost.objects.get(idempotency_key=KEY).in_reply_to == "1871000000000000005"
    assert len(api.sent("DELETE", f"/2/tweets/{TWEET_ID}")) == 1


# --- find_published ------------------------------------------------------------------------------


def record(channel: Channel, text: str, *, minutes_ago: int, in_reply_to: str = "", media: int = 0) -> OutboundPost:
    return OutboundPost.objects.create(
        channel=channel,
        idempotency_key=KEY,
        text_sha256=text_fingerprint(text),
        in_reply_to=in_reply_to,
        media_count=media,
        sent_at=NOW - dt.timedelta(minutes=minutes_ago),
    )


def timeline(api) -> None:
    api.on(
        "GET",
        f"/2/users/{USER_ID}/tweets",
        httpx.Response(200, json=fixture("user_tweets_page1.json")),
        httpx.Response(200, json=fixture("user_tweets_page2.json")),
    )


def test_find_published_matches_text_with_links_rewritten_by_x(frozen, x_channel, api) -> None:
    record(x_channel, "Heute Abend Livemusik & Flammkuchen! https://cafe.example/abend", minutes_ago=15)
    timeline(api)

    found = connector().find_published(x_channel, KEY, NOW - dt.timedelta(minutes=15))

    assert found is not None and found.id == "1870000000000000003"
    [request] = api.requests
    assert request.url.params["start_time"] == "2026-11-27T09:50:00Z"
    assert request.url.params["max_results"] == "100"


def test_find_published_follows_pages_and_drops_the_media_link(frozen, x_channel, api) -> None:
    record(x_channel, "Neue Karte ist da 🍂", minutes_ago=40, media=1)
    timeline(api)

    found = connector().find_published(x_channel, KEY, NOW - dt.timedelta(minutes=40))

    assert found is not None and found.id == "1870000000000000001"
    second = api.requests[1]
    assert second.url.params["pagination_token"] == "7140dibdnow9c7btw3z2vwioavpvutgzrzm9icis4ndix"


def test_find_published_compares_the_post_it_answers(frozen, x_channel, api) -> None:
    record(x_channel, "Danke für den Besuch!", minutes_ago=40, in_reply_to="999")
    timeline(api)
    assert connector().find_published(x_channel, KEY, NOW - dt.timedelta(minutes=40)) is None
    assert len(api.requests) == 2  # every page since the send was read before answering "not found"


def test_find_published_without_a_record_is_not_found_without_asking(frozen, x_channel, api) -> None:
    assert connector().find_published(x_channel, KEY, NOW) is None
    assert api.requests == []


def test_find_published_does_not_answer_not_found_too_early(frozen, x_channel, api) -> None:
    record(x_channel, "Gerade eben", minutes_ago=0)
    api.on("GET", f"/2/users/{USER_ID}/tweets", httpx.Response(200, json=fixture("user_tweets_empty.json")))
    with pytest.raises(NetworkError) as caught:
        connector().find_published(x_channel, KEY, NOW)
    assert caught.value.retry_after == 60 and not caught.value.permanent


def test_find_published_raises_when_there_are_too_many_pages(frozen, x_channel, api) -> None:
    record(x_channel, "Nicht dabei", minutes_ago=30)
    api.on("GET", f"/2/users/{USER_ID}/tweets", httpx.Response(200, json=fixture("user_tweets_page1.json")))
    with pytest.raises(NetworkError) as caught:
        connector().find_published(x_channel, KEY, NOW)
    assert not caught.value.permanent and caught.value.retry_after == 600
    assert len(api.requests) == 3


# --- activity and metrics ------------------------------------------------------------------------


def test_fetch_activity_reads_new_mentions_page_by_page(frozen, x_channel, api) -> None:
    api.on(
        "GET",
        f"/2/users/{USER_ID}/mentions",
        httpx.Response(200, json=fixture("mentions_page1.json")),
        httpx.Response(200, json=fixture("mentions_page2.json")),
    )

    events, cursor = connector().fetch_activity(x_channel, {"since_id": "1870000000000000000"})

    assert [(e.kind, e.remote_id) for e in events] == [
        ("mention", "1871000000000000003"),
        ("mention", "1871000000000000004"),
        ("comment", "1871000000000000005"),
    ]
    comment = events[-1]
    assert (comment.author_handle, comment.author_name, comment.author_id) == ("lena_k", "Lena K.", "783214")
    assert comment.text == "@cafekoenigsbau Habt ihr morgen offen? <3"
    assert comment.in_reply_to == comment.post_remote_id == "1870000000000000003"
    assert cursor == {"since_id": "1871000000000000005"}
    first, second = api.requests
    assert first.url.params["since_id"] == "1870000000000000000"
    assert "pagination_token" not in first.url.params
    assert second.url.params["pagination_token"] == "7140dibdnow9c7btw423x4gd3ixvlzz4yzv6r9a7kn7vq"


def test_the_first_sync_takes_only_the_newest_page(frozen, x_channel, api) -> None:
    api.on("GET", f"/2/users/{USER_ID}/mentions", httpx.Response(200, json=fixture("mentions_page1.json")))
    events, cursor = connector().fetch_activity(x_channel, {})
    assert len(events) == 2 and len(api.requests) == 1
    assert cursor == {"since_id": "1871000000000000005"}


def test_an_unfinished_sync_carries_on_next_time(frozen, x_channel, api, monkeypatch) -> None:
    from stammtisch.networks.x import connector as module

    monkeypatch.setattr(module, "ACTIVITY_PAGES", 1)
    api.on(
        "GET",
        f"/2/users/{USER_ID}/mentions",
        httpx.Response(200, json=fixture("mentions_page1.json")),
        httpx.Response(200, json=fixture("mentions_page2.json")),
    )
    _events, cursor = connector().fetch_activity(x_channel, {"since_id": "1870000000000000000"})
    assert cursor == {
        "since_id": "1870000000000000000",
        "next_token": "7140dibdnow9c7btw423x4gd3ixvlzz4yzv6r9a7kn7vq",
        "pending_newest": "1871000000000000005",
    }
    events, cursor = connector().fetch_activity(x_channel, cursor)
    assert [e.remote_id for e in events] == ["1871000000000000003"]
    assert cursor == {"since_id": "1871000000000000005"}
    assert api.requests[1].url.params["pagination_token"] == "7140dibdnow9c7btw423x4gd3ixvlzz4yzv6r9a7kn7vq"


def test_fetch_metrics_reads_public_metrics_and_followers(frozen, x_channel, api) -> None:
    api.on("GET", "/2/tweets", httpx.Response(200, json=fixture("tweets_metrics.json")))
    api.on("GET", "/2/users/me", httpx.Response(200, json=fixture("users_me.json")))
    ids = ["1870000000000000003", "1870000000000000001", "1860000000000000000"]

    metrics = connector().fetch_metrics(x_channel, [Remote(id=i) for i in ids])

    values = {m.remote_id: m.values for m in metrics}
    assert values == {
        "1870000000000000003": {"likes": 31, "shares": 4, "comments": 2, "quotes": 1, "views": 1520},
        "1870000000000000001": {"likes": 5, "shares": 0, "comments": 0, "quotes": 0},
        USER_ID: {"followers": 507, "following": 186, "posts": 3561},
    }
    [lookup] = api.sent("GET", "/2/tweets")
    assert lookup.url.params["ids"] == ",".join(ids)
    assert lookup.url.params["tweet.fields"] == "public_metrics"


# --- tokens --------------------------------------------------------------------------------------


def test_an_expiring_token_is_refreshed_and_the_new_refresh_token_stored(frozen, x_channel, api) -> None:
    x_channel.credentials = {**x_channel.credentials, "expires_at": (NOW + dt.timedelta(minutes=2)).isoformat()}
    x_channel.save()
    api.on("POST", "/2/oauth2/token", httpx.Response(200, json=fixture("token_refreshed.json")))
    api.on("POST", "/2/tweets", created())

    connector().publish(x_channel, Outgoing(text="Hallo"), KEY)

    refresh, tweet = api.requests
    form = {k: v[0] for k, v in parse_qs(refresh.content.decode()).items()}
    assert form == {"grant_type": "refresh_token", "refresh_token": REFRESH, "client_id": CLIENT_ID}
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert refresh.headers["Authorization"] == f"Basic {basic}"
    new = fixture("token_refreshed.json")
    assert tweet.headers["Authorization"] == f"Bearer {new['access_token']}"
    x_channel.refresh_from_db()
    assert x_channel.credentials == {
        "access_token": new["access_token"],
        "refresh_token": new["refresh_token"],
        "expires_at": (NOW + dt.timedelta(hours=2)).isoformat(),
    }


def test_a_refresh_without_a_new_refresh_token_keeps_the_stored_one(frozen, x_channel, api) -> None:
    answer = {**fixture("token_refreshed.json")}
    del answer["refresh_token"]
    api.on("POST", "/2/oauth2/token", httpx.Response(200, json=answer))
    credentials = connector().refresh_credentials(x_channel)
    x_channel.refresh_from_db()
    assert credentials["refresh_token"] == REFRESH == x_channel.credentials["refresh_token"]
    assert x_channel.credentials["access_token"] == answer["access_token"]


def test_a_network_hiccup_during_refresh_keeps_the_tokens_and_is_transient(frozen, x_channel, api) -> None:
    api.on("POST", "/2/oauth2/token", httpx.Response(503, json=fixture("error_503.json")))
    with pytest.raises(NetworkError) as caught:
        connector().refresh_credentials(x_channel)
    assert not caught.value.auth and not caught.value.permanent
    x_channel.refresh_from_db()
    assert (x_channel.credentials["access_token"], x_channel.credentials["refresh_token"]) == (ACCESS, REFRESH)


def test_a_rejected_refresh_token_asks_for_a_reconnect(frozen, x_channel, api) -> None:
    api.on("POST", "/2/oauth2/token", httpx.Response(400, json=fixture("token_invalid_request.json")))
    with pytest.raises(NetworkError) as caught:
        connector().refresh_credentials(x_channel)
    assert caught.value.auth
    x_channel.refresh_from_db()
    assert x_channel.credentials["refresh_token"] == REFRESH


def test_a_token_another_worker_refreshed_is_used_without_refreshing_again(frozen, x_channel, api) -> None:
    expiring = {**x_channel.credentials, "expires_at": (NOW + dt.timedelta(minutes=2)).isoformat()}
    Channel.objects.filter(pk=x_channel.pk).update(credentials=expiring)
    stale = Channel.objects.get(pk=x_channel.pk)
    # Another worker refreshed meanwhile:
    fresh = {
        "access_token": "fresh",
        "refresh_token": "fresh-refresh",
        "expires_at": (NOW + dt.timedelta(hours=2)).isoformat(),
    }
    x_channel.credentials = fresh
    x_channel.save()

    assert connector().refresh_credentials(stale) == fresh
    assert stale.credentials == fresh
    assert api.requests == []


def test_text_fingerprint_rule() -> None:
    assert text_fingerprint("A &amp; B https://a.example/x") == text_fingerprint("A & B https://t.co/abc")
    assert text_fingerprint("Hallo") != text_fingerprint("Hallo!")
    assert text_fingerprint("Bild") == text_fingerprint("Bild https://t.co/media", drop_trailing_url=True)
