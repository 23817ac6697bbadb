"""The Facebook Pages connector against documented Graph API payloads."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
import time_machine

from stammtisch.networks.base import MediaItem, NetworkError, Outgoing, Remote
from stammtisch.networks.facebook.connector import FacebookNetwork
from stammtisch.networks.meta.connector import text_fingerprint
from stammtisch.networks.meta.tests.graph import PAGE_ID, error, form, ok
from stammtisch.networks.models import OutboundPost
from stammtisch.networks.registry import get_network

NOW = dt.datetime(2026, 11, 20, 9, 31, tzinfo=dt.UTC)
POST_ID = f"{PAGE_ID}_122101234567890123"


def image(n: int = 1) -> MediaItem:
    return MediaItem(
        path=f"media/{n}.jpg",
        content_type="image/jpeg",
        url=f"https://stammtisch.example/media/{n}/tok/",
        alt_text=f"Bild {n}",
    )


def test_the_registry_serves_the_connector_with_its_limits() -> None:
    network = get_network("facebook")
    assert isinstance(network, FacebookNetwork) and network.supports_first_comment
    assert network.rate_limits[0].per == "channel"


def test_text_and_link_go_to_the_page_feed(page_channel, graph) -> None:
    graph.on("POST", f"{PAGE_ID}/feed", ok("facebook", "feed_created.json"))

    remote = FacebookNetwork().publish(
        page_channel, Outgoing(text="Unser Adventsmenü ist da!", link="https://cafe.example/advent"), "k1"
    )

    assert remote.id == POST_ID and remote.url == f"https://www.facebook.com/{POST_ID}"
    [request] = graph.sent("POST", f"{PAGE_ID}/feed")
    assert form(request) == {"message": "Unser Adventsmenü ist da!", "link": "https://cafe.example/advent"}
    record = OutboundPost.objects.get(channel=page_channel, idempotency_key="k1")
    assert record.text_sha256 == text_fingerprint("Unser Adventsmenü ist da!")


def test_one_image_is_a_published_photo_and_the_post_id_is_kept(page_channel, graph) -> None:
    graph.on("POST", f"{PAGE_ID}/photos", ok("facebook", "photo_created.json"))

    remote = FacebookNetwork().publish(page_channel, Outgoing(text="Frisch gebacken", media=(image(),)), "k2")

    assert remote.id == f"{PAGE_ID}_122101234567890778"
    sent = form(graph.sent("POST", f"{PAGE_ID}/photos")[0])
    assert sent["url"] == "https://stammtisch.example/media/1/tok/" and sent["published"] == "true"
    assert sent["message"] == "Frisch gebacken" and sent["alt_text_custom"] == "Bild 1"


def test_several_images_are_unpublished_photos_attached_to_one_post(page_channel, graph) -> None:
    graph.on("POST", f"{PAGE_ID}/photos", ok("facebook", "photo_unpublished.json"))
    graph.on("POST", f"{PAGE_ID}/feed", ok("facebook", "feed_created.json"))

    outgoing = Outgoing(text="Drei Torten", media=(image(1), image(2), image(3)), link="https://cafe.example")
    FacebookNetwork().publish(page_channel, outgoing, "k3")

    uploads = graph.sent("POST", f"{PAGE_ID}/photos")
    assert [form(r)["published"] for r in uploads] == ["false", "false", "false"]
    post = form(graph.sent("POST", f"{PAGE_ID}/feed")[0])
    assert json.loads(post["attached_media[2]"]) == {"media_fbid": "122101234567890801"}
    assert post["message"] == "Drei Torten\n\nhttps://cafe.example" and "link" not in post


def test_a_video_is_fetched_by_facebook_from_its_public_url(page_channel, graph) -> None:
    graph.on("POST", f"{PAGE_ID}/videos", ok("facebook", "video_created.json"))
    video = MediaItem(path="media/v.mp4", content_type="video/mp4", url="https://stammtisch.example/media/9/tok/")

    remote = FacebookNetwork().publish(page_channel, Outgoing(text="Hinter der Theke", media=(video,)), "k4")

    assert remote.url == f"https://www.facebook.com/{PAGE_ID}/videos/1234567890123456"
    assert form(graph.sent("POST", f"{PAGE_ID}/videos")[0])["file_url"] == "https://stammtisch.example/media/9/tok/"


def test_media_without_a_public_address_is_refused_before_any_call(page_channel, graph) -> None:
    with pytest.raises(NetworkError) as caught:
        FacebookNetwork().publish(
            page_channel, Outgoing(text="x", media=(MediaItem(path="a.jpg", content_type="image/jpeg"),)), "k"
        )
    assert caught.value.permanent and graph.requests == []


def test_a_rejected_post_is_permanent_and_an_expired_token_asks_for_reconnection(page_channel, graph) -> None:
    graph.on("POST", f"{PAGE_ID}/feed", error("error_100.json"), error("error_190.json"))
    with pytest.raises(NetworkError) as first:
        FacebookNetwork().publish(page_channel, Outgoing(text="Hallo"), "k5")
    with pytest.raises(NetworkError) as second:
        FacebookNetwork().publish(page_channel, Outgoing(text="Hallo"), "k6")
    assert first.value.permanent and not first.value.auth
    assert second.value.auth


def test_a_timeout_while_posting_is_an_unknown_outcome_with_the_text_recorded(page_channel, graph) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    graph.on("POST", f"{PAGE_ID}/feed", hang)
    with pytest.raises(NetworkError) as caught:
        FacebookNetwork().publish(page_channel, Outgoing(text="Unser Adventsmenü ist da!"), "k7")
    assert caught.value.outcome_unknown
    assert OutboundPost.objects.filter(channel=page_channel, idempotency_key="k7").exists()


@time_machine.travel(NOW, tick=False)
def test_find_published_matches_the_recorded_text_across_pages(page_channel, graph) -> None:
    OutboundPost.objects.create(
        channel=page_channel, idempotency_key="k8", text_sha256=text_fingerprint("Heute geschlossen")
    )
    graph.on(
        "GET",
        f"{PAGE_ID}/posts",
        lambda r: ok("facebook", "page_posts_last.json" if r.url.params.get("after") else "page_posts.json"),
    )

    remote = FacebookNetwork().find_published(page_channel, "k8", NOW - dt.timedelta(minutes=1))

    assert remote is not None and remote.id == f"{PAGE_ID}_122101234567890050"
    first, second = graph.sent("GET", f"{PAGE_ID}/posts")
    assert int(first.url.params["since"]) == int((NOW - dt.timedelta(minutes=6)).timestamp())
    assert second.url.params["after"] == "QVFIUnBvc3RzMgZDZD"


@time_machine.travel(NOW, tick=False)
def test_find_published_answers_not_found_only_when_nothing_matches(page_channel, graph) -> None:
    assert FacebookNetwork().find_published(page_channel, "never-sent", NOW) is None  # nothing recorded
    OutboundPost.objects.create(channel=page_channel, idempotency_key="k9", text_sha256=text_fingerprint("Neu"))
    graph.on("GET", f"{PAGE_ID}/posts", ok("facebook", "page_posts_last.json"))
    assert FacebookNetwork().find_published(page_channel, "k9", NOW) is None


@time_machine.travel(NOW, tick=False)
def test_find_published_raises_when_it_cannot_read_far_enough(page_channel, graph) -> None:
    OutboundPost.objects.create(channel=page_channel, idempotency_key="k10", text_sha256=text_fingerprint("Neu"))
    graph.on("GET", f"{PAGE_ID}/posts", ok("facebook", "page_posts.json"))  # always another page
    with pytest.raises(NetworkError) as caught:
        FacebookNetwork().find_published(page_channel, "k10", NOW)
    assert caught.value.retry_after and not caught.value.permanent


def test_a_reply_is_a_comment_and_can_be_found_again(page_channel, graph) -> None:
    graph.on("POST", f"{POST_ID}/comments", ok("facebook", "comment_created.json"))
    graph.on("GET", f"{POST_ID}/comments", ok("facebook", "post_comments.json"))

    remote = FacebookNetwork().reply(page_channel, Remote(id=POST_ID), "Danke, bis bald!", "r1")
    found = FacebookNetwork().find_published(page_channel, "r1", dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC))

    assert remote.id == "122101234567890123_1122334455667788"
    assert form(graph.sent("POST", f"{POST_ID}/comments")[0]) == {"message": "Danke, bis bald!"}
    assert found is not None and found.id == remote.id


def test_delete_treats_a_missing_post_as_deleted(page_channel, graph) -> None:
    graph.on("DELETE", POST_ID, ok("facebook", "delete_success.json"), error("error_100_33.json"))
    FacebookNetwork().delete(page_channel, Remote(id=POST_ID))
    FacebookNetwork().delete(page_channel, Remote(id=POST_ID))
    assert len(graph.sent("DELETE", POST_ID)) == 2


def test_fetch_activity_reads_comments_and_replies_but_not_our_own(page_channel, graph) -> None:
    graph.on("GET", f"{PAGE_ID}/feed", ok("facebook", "feed_with_comments.json"))

    events, cursor = FacebookNetwork().fetch_activity(page_channel, {})

    assert [(e.kind, e.author_name, e.text) for e in events] == [
        ("comment", "Mia Muster", "Sieht <b>lecker</b> aus!"),
        ("reply", "Ben Gast", "Und vegan?"),
    ]
    assert events[1].in_reply_to == "122101234567890123_900000000000001" and events[1].post_remote_id == POST_ID
    assert cursor == {"since": "2026-11-20T11:15:00+00:00"}
    again, _ = FacebookNetwork().fetch_activity(page_channel, cursor)
    assert again == []


def test_fetch_activity_waits_when_the_page_is_throttled(page_channel, graph) -> None:
    usage = {
        PAGE_ID: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 10,
                "total_time": 10,
                "estimated_time_to_regain_access": 5,
            }
        ]
    }
    graph.on(
        "GET", f"{PAGE_ID}/feed", error("error_80001.json", headers={"X-Business-Use-Case-Usage": json.dumps(usage)})
    )
    with pytest.raises(NetworkError) as caught:
        FacebookNetwork().fetch_activity(page_channel, {})
    assert caught.value.retry_after == 300


def test_fetch_metrics_counts_reactions_comments_shares_and_followers(page_channel, graph) -> None:
    graph.on("GET", POST_ID, ok("facebook", "post_metrics.json"))
    graph.on("GET", PAGE_ID, ok("facebook", "page_followers.json"))

    metrics = FacebookNetwork().fetch_metrics(page_channel, [Remote(id=POST_ID), Remote(id="gone_1")])

    assert {m.remote_id: m.values for m in metrics} == {
        POST_ID: {"likes": 12, "comments": 3, "shares": 2},
        PAGE_ID: {"followers": 1520, "likes": 1490},
    }


def test_refresh_credentials_keeps_the_page_token_or_reports_a_revoked_one(page_channel, graph) -> None:
    graph.on("GET", PAGE_ID, ok("facebook", "page_followers.json"), error("error_190.json"))
    assert FacebookNetwork().refresh_credentials(page_channel) == page_channel.credentials
    with pytest.raises(NetworkError) as caught:
        FacebookNetwork().refresh_credentials(page_channel)
    assert caught.value.auth
