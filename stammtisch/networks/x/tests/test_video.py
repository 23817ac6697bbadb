"""Publishing a video to X: the chunked upload (initialize, append, finalize, status), against the
documented payloads in fixtures/ (fixtures/README.md names the pages). Waiting is injected."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs

import httpx
import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from stammtisch.networks import rules
from stammtisch.networks.base import MediaItem, NetworkError, Outgoing
from stammtisch.networks.models import OutboundPost
from stammtisch.networks.registry import get_network
from stammtisch.networks.x import connector as x_connector
from stammtisch.networks.x.connector import XNetwork
from stammtisch.networks.x.tests.conftest import fixture

NOW = dt.datetime(2026, 11, 27, 10, 10, tzinfo=dt.UTC)
KEY = "5d1c7a52-3b0e-4f4e-8d7a-2a9c3e6f1b07"
MEDIA_ID = "1880028106020515841"
VIDEO = b"0123456789abcde"  # 15 bytes: two chunks of 10 in these tests


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(x_connector, "VIDEO_CHUNK", 10)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def network(waits) -> XNetwork:
    connector = get_network("x")
    assert isinstance(connector, XNetwork)
    connector.sleep = waits.append  # no real waiting: record how long we would have waited
    return connector


def video(content_type: str = "video/mp4") -> MediaItem:
    name = default_storage.save("media/film.mp4", ContentFile(VIDEO))
    return MediaItem(path=name, content_type=content_type, size=len(VIDEO), width=1080, height=1920)


def ok(name: str) -> httpx.Response:
    return httpx.Response(200, json=fixture(name))


def upload_routes(api, *statuses: httpx.Response) -> None:
    api.on("POST", "/2/media/upload/initialize", ok("media_initialize.json"))
    api.on("POST", f"/2/media/upload/{MEDIA_ID}/append", ok("media_append.json"))
    api.on("POST", f"/2/media/upload/{MEDIA_ID}/finalize", ok("media_finalize_pending.json"))
    api.on("GET", "/2/media/upload", *statuses)
    api.on("POST", "/2/tweets", httpx.Response(201, json=fixture("tweet_created.json")))


def test_it_uploads_a_video_in_chunks_waits_for_processing_and_attaches_it(
    frozen, small_chunks, x_channel, api, network, waits
) -> None:
    upload_routes(api, ok("media_status_in_progress.json"), ok("media_status_succeeded.json"))

    remote = network.publish(x_channel, Outgoing(text="Unser Café im Film", media=(video(),)), KEY)

    assert remote.id == "1445880548472328192"
    [init] = api.sent("POST", "/2/media/upload/initialize")
    assert json.loads(init.content) == {"media_type": "video/mp4", "total_bytes": 15, "media_category": "tweet_video"}
    first, second = api.sent("POST", f"/2/media/upload/{MEDIA_ID}/append")
    assert b'name="segment_index"\r\n\r\n0\r\n' in first.content and b"0123456789\r\n" in first.content
    assert b'name="segment_index"\r\n\r\n1\r\n' in second.content and b"abcde\r\n" in second.content
    assert b"0123456789" not in second.content
    assert len(api.sent("POST", f"/2/media/upload/{MEDIA_ID}/finalize")) == 1
    statuses = api.sent("GET", "/2/media/upload")
    assert [parse_qs(r.url.query.decode()) for r in statuses] == [{"command": ["STATUS"], "media_id": [MEDIA_ID]}] * 2
    # finalize said "pending, check after 1 s", the first status "in_progress, check after 5 s"
    assert waits == [1.0, 5.0]
    [tweet] = api.sent("POST", "/2/tweets")
    assert json.loads(tweet.content) == {"text": "Unser Café im Film", "media": {"media_ids": [MEDIA_ID]}}
    paths = [request.url.path for request in api.requests]
    assert paths.index("/2/tweets") == len(paths) - 1  # the post comes after the video is ready
    assert OutboundPost.objects.get(idempotency_key=KEY).media_count == 1


def test_a_mov_video_is_uploaded_as_quicktime(frozen, x_channel, api, network) -> None:
    upload_routes(api, ok("media_status_succeeded.json"))

    network.publish(x_channel, Outgoing(text="", media=(video("video/quicktime"),)), KEY)

    [init] = api.sent("POST", "/2/media/upload/initialize")
    assert json.loads(init.content)["media_type"] == "video/quicktime"
    assert len(api.sent("POST", f"/2/media/upload/{MEDIA_ID}/append")) == 1  # 15 bytes: one 4 MiB chunk


def test_failed_processing_is_permanent_with_xs_message(frozen, x_channel, api, network) -> None:
    upload_routes(api, ok("media_status_failed.json"))

    with pytest.raises(NetworkError) as caught:
        network.publish(x_channel, Outgoing(text="Film", media=(video(),)), KEY)

    assert caught.value.permanent and not caught.value.auth
    assert "Unsupported video format" in caught.value.message
    assert api.sent("POST", "/2/tweets") == []
    assert not OutboundPost.objects.filter(idempotency_key=KEY).exists()


def test_a_429_during_append_waits_until_the_limit_resets(frozen, small_chunks, x_channel, api, network) -> None:
    upload_routes(api, ok("media_status_succeeded.json"))
    reset = int(NOW.timestamp()) + 600
    headers = {"x-rate-limit-limit": "500", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
    api.on(
        "POST",
        f"/2/media/upload/{MEDIA_ID}/append",
        ok("media_append.json"),
        httpx.Response(429, json=fixture("error_429.json"), headers=headers),
    )

    with pytest.raises(NetworkError) as caught:
        network.publish(x_channel, Outgoing(text="Film", media=(video(),)), KEY)

    assert caught.value.retry_after == 600.0 and not caught.value.permanent
    assert len(api.sent("POST", f"/2/media/upload/{MEDIA_ID}/append")) == 2
    assert api.sent("POST", f"/2/media/upload/{MEDIA_ID}/finalize") == []
    assert api.sent("POST", "/2/tweets") == []


def test_a_server_error_while_finalizing_is_transient(frozen, x_channel, api, network) -> None:
    upload_routes(api, ok("media_status_succeeded.json"))
    api.on("POST", f"/2/media/upload/{MEDIA_ID}/finalize", httpx.Response(503, json=fixture("error_503.json")))

    with pytest.raises(NetworkError) as caught:
        network.publish(x_channel, Outgoing(text="Film", media=(video(),)), KEY)

    assert not caught.value.permanent and not caught.value.auth
    assert "HTTP 503" in caught.value.message
    assert api.sent("POST", "/2/tweets") == []


def test_a_timeout_during_the_upload_posts_nothing_and_leaves_nothing_to_find(frozen, x_channel, api, network) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    upload_routes(api, ok("media_status_succeeded.json"))
    api.on("POST", f"/2/media/upload/{MEDIA_ID}/append", timeout)

    with pytest.raises(NetworkError) as caught:
        network.publish(x_channel, Outgoing(text="Film", media=(video(),)), KEY)

    assert not caught.value.permanent
    assert api.sent("POST", "/2/tweets") == []
    # Nothing was recorded, so reconciling answers "not published" and the retry may go ahead.
    assert network.find_published(x_channel, KEY, NOW) is None


def test_it_stops_waiting_for_processing_after_a_bounded_time(frozen, x_channel, api, network, waits) -> None:
    upload_routes(api, ok("media_status_in_progress.json"))

    with pytest.raises(NetworkError) as caught:
        network.publish(x_channel, Outgoing(text="Film", media=(video(),)), KEY)

    assert not caught.value.permanent and caught.value.retry_after == 60
    assert "still processing" in caught.value.message
    assert sum(waits) <= x_connector.VIDEO_PROCESSING_WAIT
    assert sum(waits) + 5.0 > x_connector.VIDEO_PROCESSING_WAIT  # it did wait as long as allowed
    assert api.sent("POST", "/2/tweets") == []


def test_a_video_the_composer_allows_for_x_is_published(frozen, x_channel, api, network) -> None:
    """The composer's rules and the connector agree: each video type the rules allow for X goes out."""
    upload_routes(api, ok("media_status_succeeded.json"))
    video_types = [kind for kind, _limit in rules.RULES["x"].media_types if kind.startswith("video/")]
    assert video_types  # X takes videos

    for content_type in video_types:
        item = video(content_type)
        assert rules.validate("x", "Film", [item]).ok
        network.publish(x_channel, Outgoing(text="Film", media=(item,)), f"{KEY}-{content_type}")

    assert len(api.sent("POST", "/2/tweets")) == len(video_types)
