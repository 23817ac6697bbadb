"""The Instagram connector against documented Graph API payloads (Instagram API with Facebook Login)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import time_machine

from stammtisch.networks.base import MediaItem, NetworkError, Outgoing, Remote
from stammtisch.networks.instagram.connector import CONTAINERS, InstagramNetwork
from stammtisch.networks.meta.connector import text_fingerprint
from stammtisch.networks.meta.tests.graph import IG_ID, error, form, ok
from stammtisch.networks.models import OutboundPost
from stammtisch.networks.registry import get_network

NOW = dt.datetime(2026, 11, 20, 9, 31, tzinfo=dt.UTC)
CONTAINER = "17889615691921648"
MEDIA_ID = "17920238422030506"
CAPTION = "Unser Adventsmenü ist da! #advent"


def image(n: int = 1) -> MediaItem:
    return MediaItem(path=f"media/{n}.jpg", content_type="image/jpeg", url=f"https://stammtisch.example/media/{n}/tok/")


def video(n: int = 9) -> MediaItem:
    return MediaItem(path=f"media/{n}.mp4", content_type="video/mp4", url=f"https://stammtisch.example/media/{n}/tok/")


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def ready(graph):  # type: ignore[no-untyped-def]
    graph.on("GET", f"{IG_ID}/content_publishing_limit", ok("instagram", "publishing_limit.json"))
    graph.on("POST", f"{IG_ID}/media", ok("instagram", "container_created.json"))
    graph.on("GET", CONTAINER, ok("instagram", "container_finished.json"))
    graph.on("POST", f"{IG_ID}/media_publish", ok("instagram", "media_published.json"))
    graph.on("GET", MEDIA_ID, ok("instagram", "permalink.json"))
    return graph


def test_the_registry_serves_the_connector_with_the_publishing_limit() -> None:
    network = get_network("instagram")
    assert isinstance(network, InstagramNetwork) and network.supports_first_comment
    assert (network.rate_limits[0].requests, network.rate_limits[0].seconds) == (50, 86400.0)


def test_an_image_is_a_container_then_published(ig_channel, ready) -> None:
    remote = InstagramNetwork(sleep=Sleeps()).publish(ig_channel, Outgoing(text=CAPTION, media=(image(),)), "k1")

    assert remote.id == MEDIA_ID and remote.url == "https://www.instagram.com/p/DAbCdEfGhIj/"
    assert form(ready.sent("POST", f"{IG_ID}/media")[0]) == {
        "image_url": "https://stammtisch.example/media/1/tok/",
        "caption": CAPTION,
    }
    assert form(ready.sent("POST", f"{IG_ID}/media_publish")[0]) == {"creation_id": CONTAINER}
    ig_channel.refresh_from_db()
    assert ig_channel.network_data[CONTAINERS] == {"k1": CONTAINER}
    assert OutboundPost.objects.get(idempotency_key="k1").text_sha256 == text_fingerprint(CAPTION)


def test_a_video_is_a_reel_and_publishing_waits_until_it_is_processed(ig_channel, ready) -> None:
    ready.on(
        "GET",
        CONTAINER,
        ok("instagram", "container_in_progress.json"),
        ok("instagram", "container_in_progress.json"),
        ok("instagram", "container_finished.json"),
    )
    sleeps = Sleeps()

    InstagramNetwork(sleep=sleeps).publish(ig_channel, Outgoing(text="Hinter der Theke", media=(video(),)), "k2")

    assert form(ready.sent("POST", f"{IG_ID}/media")[0])["media_type"] == "REELS"
    assert sleeps == [1, 2]
    assert len(ready.sent("POST", f"{IG_ID}/media_publish")) == 1


def test_several_files_become_a_carousel_of_child_containers(ig_channel, ready) -> None:
    ready.on(
        "POST",
        f"{IG_ID}/media",
        ok("instagram", "child_container_1.json"),
        ok("instagram", "child_container_2.json"),
        ok("instagram", "container_created.json"),
    )
    ready.on("GET", "17899506308402768", ok("instagram", "container_finished.json"))

    InstagramNetwork(sleep=Sleeps()).publish(ig_channel, Outgoing(text="Zwei", media=(image(), video())), "k3")

    first, second, parent = (form(r) for r in ready.sent("POST", f"{IG_ID}/media"))
    assert first == {"image_url": "https://stammtisch.example/media/1/tok/", "is_carousel_item": "true"}
    assert second["media_type"] == "VIDEO" and second["is_carousel_item"] == "true"
    assert parent == {"media_type": "CAROUSEL", "children": "17899506308402767,17899506308402768", "caption": "Zwei"}


def test_a_container_instagram_cannot_process_is_permanent_and_never_published(ig_channel, ready) -> None:
    ready.on("GET", CONTAINER, ok("instagram", "container_error.json"))
    with pytest.raises(NetworkError) as caught:
        InstagramNetwork(sleep=Sleeps()).publish(ig_channel, Outgoing(text="x", media=(video(),)), "k4")
    assert caught.value.permanent and "Unsupported video format" in caught.value.message
    assert ready.sent("POST", f"{IG_ID}/media_publish") == []


def test_a_file_instagram_cannot_download_is_permanent(ig_channel, ready) -> None:
    ready.on("POST", f"{IG_ID}/media", error("error_media_url.json"))
    with pytest.raises(NetworkError) as caught:
        InstagramNetwork(sleep=Sleeps()).publish(ig_channel, Outgoing(text="x", media=(image(),)), "k5")
    assert caught.value.permanent and not caught.value.auth


def test_a_full_daily_quota_waits_without_creating_containers(ig_channel, ready) -> None:
    ready.on("GET", f"{IG_ID}/content_publishing_limit", ok("instagram", "publishing_limit_full.json"))
    with pytest.raises(NetworkError) as caught:
        InstagramNetwork(sleep=Sleeps()).publish(ig_channel, Outgoing(text="x", media=(image(),)), "k6")
    assert caught.value.retry_after == 3600 and ready.sent("POST", f"{IG_ID}/media") == []


def test_the_publishing_limit_error_waits_and_a_revoked_token_asks_for_reconnection(ig_channel, ready) -> None:
    ready.on("POST", f"{IG_ID}/media_publish", error("error_9_limit.json"), error("error_190.json", status=401))
    with pytest.raises(NetworkError) as limited:
        InstagramNetwork(sleep=Sleeps()).publish(ig_channel, Outgoing(text="x", media=(image(),)), "k7")
    with pytest.raises(NetworkError) as revoked:
        InstagramNetwork(sleep=Sleeps()).publish(ig_channel, Outgoing(text="x", media=(image(),)), "k8")
    assert limited.value.retry_after and not limited.value.permanent
    assert revoked.value.auth


def test_instagram_needs_media(ig_channel, graph) -> None:
    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().publish(ig_channel, Outgoing(text="Nur Text"), "k")
    assert caught.value.permanent and graph.requests == []


@time_machine.travel(NOW, tick=False)
def test_an_unknown_outcome_is_settled_by_the_containers_status_and_the_caption(ig_channel, ready) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    ready.on("POST", f"{IG_ID}/media_publish", hang)
    with pytest.raises(NetworkError) as caught:
        InstagramNetwork(sleep=Sleeps()).publish(ig_channel, Outgoing(text=CAPTION, media=(image(),)), "k9")
    assert caught.value.outcome_unknown

    ready.on("GET", CONTAINER, ok("instagram", "container_published.json"))
    ready.on("GET", f"{IG_ID}/media", ok("instagram", "user_media.json"))
    ig_channel.refresh_from_db()
    remote = InstagramNetwork().find_published(ig_channel, "k9", NOW)

    assert remote is not None and remote.id == MEDIA_ID and remote.url == "https://www.instagram.com/p/DAbCdEfGhIj/"
    assert ready.sent("GET", CONTAINER)[-1].url.params["fields"] == "status_code"


@time_machine.travel(NOW, tick=False)
def test_a_container_that_was_not_published_means_not_found(ig_channel, graph) -> None:
    OutboundPost.objects.create(channel=ig_channel, idempotency_key="k10", text_sha256=text_fingerprint(CAPTION))
    ig_channel.network_data = {CONTAINERS: {"k10": CONTAINER}}
    ig_channel.save()
    graph.on("GET", CONTAINER, ok("instagram", "container_finished.json"))
    assert InstagramNetwork().find_published(ig_channel, "k10", NOW) is None
    assert graph.sent("GET", f"{IG_ID}/media") == []


@time_machine.travel(NOW, tick=False)
def test_a_published_container_not_listed_yet_raises_instead_of_not_found(ig_channel, graph) -> None:
    OutboundPost.objects.create(channel=ig_channel, idempotency_key="k11", text_sha256=text_fingerprint("Neu"))
    ig_channel.network_data = {CONTAINERS: {"k11": CONTAINER}}
    ig_channel.save()
    graph.on("GET", CONTAINER, ok("instagram", "container_published.json"))
    graph.on(
        "GET",
        f"{IG_ID}/media",
        lambda r: ok("instagram", "user_media_older.json" if r.url.params.get("after") else "user_media.json"),
    )
    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().find_published(ig_channel, "k11", NOW)
    assert caught.value.retry_after and not caught.value.permanent
    assert len(graph.sent("GET", f"{IG_ID}/media")) == 2  # read until older than the send


def test_the_first_comment_goes_on_the_post_and_an_answer_to_a_comment_is_a_reply(ig_channel, graph) -> None:
    graph.on("POST", f"{MEDIA_ID}/comments", ok("instagram", "comment_created.json"))
    remote = InstagramNetwork().reply(ig_channel, Remote(id=MEDIA_ID), "#advent #café", "c1")
    assert remote.id == "17870913679156914"
    assert form(graph.sent("POST", f"{MEDIA_ID}/comments")[0]) == {"message": "#advent #café"}

    comment = "17858893269000001"
    graph.on("POST", f"{comment}/comments", error("error_nonexisting_edge.json"))
    graph.on("POST", f"{comment}/replies", ok("instagram", "comment_created.json"))
    InstagramNetwork().reply(ig_channel, Remote(id=comment), "Bis Weihnachten!", "c2")
    assert form(graph.sent("POST", f"{comment}/replies")[0]) == {"message": "Bis Weihnachten!"}

    graph.on("GET", f"{comment}/comments", error("error_nonexisting_edge.json"))
    graph.on("GET", f"{comment}/replies", ok("instagram", "comment_replies.json"))
    found = InstagramNetwork().find_published(ig_channel, "c2", NOW)
    assert found is not None and found.id == "17858893269000009"


def test_delete_removes_the_media_and_accepts_a_missing_one(ig_channel, graph) -> None:
    graph.on("DELETE", MEDIA_ID, ok("facebook", "delete_success.json"), error("error_100_33.json"))
    InstagramNetwork().delete(ig_channel, Remote(id=MEDIA_ID))
    InstagramNetwork().delete(ig_channel, Remote(id=MEDIA_ID))
    assert len(graph.sent("DELETE", MEDIA_ID)) == 2


def test_fetch_activity_reads_comments_and_replies_but_not_our_own(ig_channel, graph) -> None:
    graph.on("GET", f"{IG_ID}/media", ok("instagram", "media_with_comments.json"))

    events, cursor = InstagramNetwork().fetch_activity(ig_channel, {})

    assert [(e.kind, e.author_handle, e.text, e.in_reply_to) for e in events] == [
        ("comment", "mia.muster", "Wie lange gibt es das?", MEDIA_ID),
        ("reply", "mia.muster", "Super, danke", "17858893269000001"),
    ]
    assert cursor == {"since": "2026-11-20T10:25:00+00:00"}
    assert InstagramNetwork().fetch_activity(ig_channel, cursor)[0] == []


def test_fetch_activity_retries_after_a_server_error(ig_channel, graph) -> None:
    graph.on("GET", f"{IG_ID}/media", error("error_2.json", status=500))
    with pytest.raises(NetworkError) as caught:
        InstagramNetwork().fetch_activity(ig_channel, {})
    assert not caught.value.permanent


def test_fetch_metrics_reads_counts_insights_and_followers(ig_channel, graph) -> None:
    graph.on("GET", MEDIA_ID, ok("instagram", "media_metrics.json"))
    graph.on("GET", f"{MEDIA_ID}/insights", ok("instagram", "media_insights.json"))
    graph.on("GET", "17920238422030400", ok("instagram", "media_metrics.json"))
    graph.on("GET", "17920238422030400/insights", error("error_100.json"))
    graph.on("GET", IG_ID, ok("instagram", "account.json"))

    metrics = InstagramNetwork().fetch_metrics(ig_channel, [Remote(id=MEDIA_ID), Remote(id="17920238422030400")])

    values = {m.remote_id: m.values for m in metrics}
    assert values[MEDIA_ID] == {"likes": 41, "comments": 5, "reach": 812, "views": 1290, "saves": 17, "shares": 6}
    assert values["17920238422030400"] == {"likes": 41, "comments": 5}  # no insights for this one
    assert values[IG_ID] == {"followers": 2310, "following": 180, "posts": 245}
