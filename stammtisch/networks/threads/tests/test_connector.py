"""The Threads connector against documented payloads (fixtures/README.md names the pages)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import time_machine

from stammtisch.networks import health
from stammtisch.networks.base import MediaItem, NetworkError, Outgoing, Remote
from stammtisch.networks.meta.connector import text_fingerprint
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.registry import get_network
from stammtisch.networks.rules import RULES
from stammtisch.networks.threads import connector as module
from stammtisch.networks.threads.connector import CONTAINERS, ThreadsNetwork
from stammtisch.networks.threads.tests.conftest import HANDLE, TOKEN, USER_ID, error, fixture, form, ok

NOW = dt.datetime(2026, 11, 27, 10, 10, tzinfo=dt.UTC)
KEY = "0b7c7c2e-4a8e-4d8f-9a57-3f1f5c1d2e01"
CONTAINER = "17889615691921648"
MEDIA_ID = "18050206876707110"
PERMALINK = "https://www.threads.com/@cafe.koenigsbau/post/DCf3kQ2tZ9x"
IMAGE = MediaItem(
    path="media/karte.jpg",
    content_type="image/jpeg",
    alt_text="Die neue Winterkarte",
    url="https://stammtisch.example/m/karte.jpg",
)
IMAGE_2 = MediaItem(path="media/kuchen.png", content_type="image/png", url="https://stammtisch.example/m/kuchen.png")


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def connector() -> ThreadsNetwork:
    network = get_network("threads")
    assert isinstance(network, ThreadsNetwork)
    return network


def happy_publish(threads_api, container: str = "container_created.json") -> None:
    threads_api.on("POST", f"{USER_ID}/threads", ok(container))
    threads_api.on("GET", CONTAINER, ok("container_finished.json"))
    threads_api.on("GET", f"{USER_ID}/threads_publishing_limit", ok("publishing_limit.json"))
    threads_api.on("POST", f"{USER_ID}/threads_publish", ok("published.json"))
    threads_api.on("GET", MEDIA_ID, ok("permalink.json"))


def remembered(channel: Channel) -> dict[str, str]:
    channel.refresh_from_db()
    return dict(channel.network_data.get(CONTAINERS) or {})


def test_the_connector_uses_the_composers_rules() -> None:
    assert ThreadsNetwork.rules is RULES["threads"]
    assert ThreadsNetwork.rules.max_length == 500
    assert [(limit.per, limit.requests, limit.seconds) for limit in ThreadsNetwork.rate_limits] == [
        ("channel", 250, 86400.0)
    ]


# --- publish -------------------------------------------------------------------------------------


def test_it_publishes_a_text_post_with_its_link_as_attachment(frozen, threads_channel, threads_api) -> None:
    happy_publish(threads_api)

    remote = connector().publish(
        threads_channel, Outgoing(text="Frische Franzbrötchen ab 7 Uhr!", link="https://cafe.example/karte"), KEY
    )

    assert remote == Remote(id=MEDIA_ID, url=PERMALINK, published_at=NOW)
    [create] = threads_api.sent("POST", f"{USER_ID}/threads")
    assert str(create.url) == f"https://graph.threads.net/v1.0/{USER_ID}/threads"
    assert create.headers["Authorization"] == f"Bearer {TOKEN}"
    assert form(create) == {
        "media_type": "TEXT",
        "text": "Frische Franzbrötchen ab 7 Uhr!",
        "link_attachment": "https://cafe.example/karte",
    }
    [limit] = threads_api.sent("GET", f"{USER_ID}/threads_publishing_limit")
    assert limit.url.params["fields"] == "quota_usage,config"
    [publish] = threads_api.sent("POST", f"{USER_ID}/threads_publish")
    assert form(publish) == {"creation_id": CONTAINER}
    record = OutboundPost.objects.get(channel=threads_channel, idempotency_key=KEY)
    assert record.text_sha256 == text_fingerprint("Frische Franzbrötchen ab 7 Uhr!")
    assert (record.in_reply_to, record.media_count, record.sent_at) == ("", 0, NOW)
    assert remembered(threads_channel) == {KEY: CONTAINER}
    # The container was created and remembered before anything was published.
    paths = [(r.method, r.url.path) for r in threads_api.requests]
    assert paths.index(("POST", f"/v1.0/{USER_ID}/threads")) < paths.index(("POST", f"/v1.0/{USER_ID}/threads_publish"))


def test_it_publishes_an_image_from_its_public_url_with_the_link_in_the_text(
    frozen, threads_channel, threads_api
) -> None:
    happy_publish(threads_api)

    connector().publish(
        threads_channel, Outgoing(text="Neue Karte", media=(IMAGE,), link="https://cafe.example/karte"), KEY
    )

    [create] = threads_api.sent("POST", f"{USER_ID}/threads")
    assert form(create) == {
        "media_type": "IMAGE",
        "image_url": "https://stammtisch.example/m/karte.jpg",
        "alt_text": "Die neue Winterkarte",
        "text": "Neue Karte\n\nhttps://cafe.example/karte",
    }
    assert OutboundPost.objects.get(idempotency_key=KEY).media_count == 1


def test_several_images_become_a_carousel(frozen, threads_channel, threads_api) -> None:
    carousel = fixture("carousel_container.json")["id"]
    threads_api.on(
        "POST",
        f"{USER_ID}/threads",
        ok("child_container_1.json"),
        ok("child_container_2.json"),
        ok("carousel_container.json"),
    )
    threads_api.on("GET", carousel, ok("container_finished.json"))
    threads_api.on("GET", f"{USER_ID}/threads_publishing_limit", ok("publishing_limit.json"))
    threads_api.on("POST", f"{USER_ID}/threads_publish", ok("published.json"))
    threads_api.on("GET", MEDIA_ID, ok("permalink.json"))

    connector().publish(threads_channel, Outgoing(text="Unser Wintermenü", media=(IMAGE, IMAGE_2)), KEY)

    first, second, album = (form(r) for r in threads_api.sent("POST", f"{USER_ID}/threads"))
    assert first == {
        "media_type": "IMAGE",
        "image_url": "https://stammtisch.example/m/karte.jpg",
        "alt_text": "Die neue Winterkarte",
        "is_carousel_item": "true",
    }
    assert second == {
        "media_type": "IMAGE",
        "image_url": "https://stammtisch.example/m/kuchen.png",
        "is_carousel_item": "true",
    }
    assert album == {
        "media_type": "CAROUSEL",
        "children": "17889615691921701,17889615691921702",
        "text": "Unser Wintermenü",
    }
    [publish] = threads_api.sent("POST", f"{USER_ID}/threads_publish")
    assert form(publish) == {"creation_id": carousel}
    assert remembered(threads_channel) == {KEY: carousel}


def test_a_retry_reuses_the_container_and_never_creates_a_second_post(frozen, threads_channel, threads_api) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    happy_publish(threads_api)
    threads_api.on("POST", f"{USER_ID}/threads_publish", timeout, ok("published.json"))
    outgoing = Outgoing(text="Frische Franzbrötchen ab 7 Uhr!")

    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, outgoing, KEY)
    assert caught.value.outcome_unknown and not caught.value.permanent

    remote = connector().publish(threads_channel, outgoing, KEY)  # the container was not published yet

    assert remote.id == MEDIA_ID
    assert len(threads_api.sent("POST", f"{USER_ID}/threads")) == 1  # one container only
    assert [form(r) for r in threads_api.sent("POST", f"{USER_ID}/threads_publish")] == [{"creation_id": CONTAINER}] * 2


def test_a_retry_after_the_container_went_out_finds_the_post_instead(frozen, threads_channel, threads_api) -> None:
    happy_publish(threads_api)
    OutboundPost.objects.create(
        channel=threads_channel,
        idempotency_key=KEY,
        text_sha256=text_fingerprint("Frische Franzbrötchen ab 7 Uhr!"),
        sent_at=NOW - dt.timedelta(minutes=16),
    )
    threads_channel.network_data = {CONTAINERS: {KEY: CONTAINER}}
    threads_channel.save()
    threads_api.on("GET", CONTAINER, ok("container_published.json"))
    threads_api.on("GET", f"{USER_ID}/threads", ok("user_threads.json"))

    remote = connector().publish(threads_channel, Outgoing(text="Frische Franzbrötchen ab 7 Uhr!"), KEY)

    assert remote == Remote(id=MEDIA_ID, url=PERMALINK, published_at=dt.datetime(2026, 11, 27, 9, 55, tzinfo=dt.UTC))
    assert threads_api.sent("POST", f"{USER_ID}/threads") == []
    assert threads_api.sent("POST", f"{USER_ID}/threads_publish") == []


def test_a_container_an_earlier_attempt_publishes_while_we_wait_is_not_published_again(
    frozen, threads_channel, threads_api
) -> None:
    happy_publish(threads_api)
    OutboundPost.objects.create(
        channel=threads_channel,
        idempotency_key=KEY,
        text_sha256=text_fingerprint("Frische Franzbrötchen ab 7 Uhr!"),
        sent_at=NOW - dt.timedelta(minutes=16),
    )
    threads_channel.network_data = {CONTAINERS: {KEY: CONTAINER}}
    threads_channel.save()
    threads_api.on("GET", CONTAINER, ok("container_in_progress.json"), ok("container_published.json"))
    threads_api.on("GET", f"{USER_ID}/threads", ok("user_threads.json"))

    remote = ThreadsNetwork(sleep=lambda _s: None).publish(
        threads_channel, Outgoing(text="Frische Franzbrötchen ab 7 Uhr!"), KEY
    )

    assert remote.id == MEDIA_ID
    assert threads_api.sent("POST", f"{USER_ID}/threads_publish") == []
    assert OutboundPost.objects.get(idempotency_key=KEY).sent_at == NOW - dt.timedelta(minutes=16)


def test_an_expired_container_is_replaced_on_retry(frozen, threads_channel, threads_api) -> None:
    happy_publish(threads_api)
    threads_channel.network_data = {CONTAINERS: {KEY: "17889615691920000"}}
    threads_channel.save()
    threads_api.on("GET", "17889615691920000", ok("container_expired.json"))

    connector().publish(threads_channel, Outgoing(text="Hallo"), KEY)

    assert len(threads_api.sent("POST", f"{USER_ID}/threads")) == 1
    assert remembered(threads_channel) == {KEY: CONTAINER}


def test_media_without_a_public_address_is_refused_before_anything_is_sent(
    frozen, threads_channel, threads_api
) -> None:
    local = MediaItem(path="media/karte.jpg", content_type="image/jpeg")
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="Karte", media=(local,)), KEY)
    assert caught.value.permanent and "public address" in caught.value.message
    assert threads_api.requests == []
    assert not OutboundPost.objects.exists()


def test_a_file_type_threads_refuses_is_refused_before_anything_is_sent(frozen, threads_channel, threads_api) -> None:
    gif = MediaItem(path="media/a.gif", content_type="image/gif", url="https://stammtisch.example/m/a.gif")
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="GIF", media=(gif,)), KEY)
    assert caught.value.permanent and not caught.value.auth
    assert threads_api.requests == []


def test_a_video_container_is_polled_until_it_is_ready(frozen, threads_channel, threads_api) -> None:
    happy_publish(threads_api)
    threads_api.on(
        "GET",
        CONTAINER,
        ok("container_in_progress.json"),
        ok("container_in_progress.json"),
        ok("container_finished.json"),
    )
    slept: list[float] = []
    video = MediaItem(path="media/film.mp4", content_type="video/mp4", url="https://stammtisch.example/m/film.mp4")

    ThreadsNetwork(sleep=slept.append).publish(threads_channel, Outgoing(text="Film", media=(video,)), KEY)

    [create] = threads_api.sent("POST", f"{USER_ID}/threads")
    assert form(create) == {"media_type": "VIDEO", "video_url": "https://stammtisch.example/m/film.mp4", "text": "Film"}
    assert slept == [1, 2]
    assert len(threads_api.sent("POST", f"{USER_ID}/threads_publish")) == 1


def test_a_container_threads_could_not_process_is_permanent(frozen, threads_channel, threads_api) -> None:
    happy_publish(threads_api)
    threads_api.on("GET", CONTAINER, ok("container_error.json"))
    video = MediaItem(path="media/film.mp4", content_type="video/mp4", url="https://stammtisch.example/m/film.mp4")
    with pytest.raises(NetworkError) as caught:
        ThreadsNetwork(sleep=lambda _s: None).publish(threads_channel, Outgoing(text="Film", media=(video,)), KEY)
    assert caught.value.permanent and "FAILED_DOWNLOADING_VIDEO" in caught.value.message
    assert threads_api.sent("POST", f"{USER_ID}/threads_publish") == []


def test_a_validation_error_is_permanent_with_threads_message(frozen, threads_channel, threads_api) -> None:
    threads_api.on("POST", f"{USER_ID}/threads", error("error_100_validation.json"))
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="x" * 501), KEY)
    error_ = caught.value
    assert error_.permanent and not error_.auth and error_.retry_after is None and not error_.outcome_unknown
    assert "at most 500 characters" in error_.message and "code 100" in error_.message
    assert threads_api.sent("POST", f"{USER_ID}/threads_publish") == []


def test_an_expired_or_revoked_token_is_an_auth_error(frozen, threads_channel, threads_api) -> None:
    threads_api.on("POST", f"{USER_ID}/threads", error("error_190.json"))
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.auth and caught.value.permanent
    assert "code 190" in caught.value.message


def test_a_rate_limit_error_waits(frozen, threads_channel, threads_api) -> None:
    happy_publish(threads_api)
    threads_api.on("POST", f"{USER_ID}/threads_publish", error("error_4_rate_limit.json", 403))
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.retry_after == 600 and not caught.value.permanent


def test_a_429_waits_as_long_as_retry_after_says(frozen, threads_channel, threads_api) -> None:
    threads_api.on("POST", f"{USER_ID}/threads", httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.retry_after == 120.0 and not caught.value.permanent


def test_a_used_up_publishing_quota_waits_without_publishing(frozen, threads_channel, threads_api) -> None:
    happy_publish(threads_api)
    threads_api.on("GET", f"{USER_ID}/threads_publishing_limit", ok("publishing_limit_full.json"))
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.retry_after == 3600 and not caught.value.permanent
    assert "250 posts" in caught.value.message
    assert threads_api.sent("POST", f"{USER_ID}/threads_publish") == []
    assert remembered(threads_channel) == {KEY: CONTAINER}  # reused when the quota frees up


def test_a_server_error_is_transient(frozen, threads_channel, threads_api) -> None:
    threads_api.on("POST", f"{USER_ID}/threads", error("error_1_unknown.json", 500))
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="Hallo"), KEY)
    assert not caught.value.permanent and not caught.value.outcome_unknown and not caught.value.auth


def test_a_timeout_while_publishing_is_an_unknown_outcome(frozen, threads_channel, threads_api) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    happy_publish(threads_api)
    threads_api.on("POST", f"{USER_ID}/threads_publish", timeout)
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.outcome_unknown and not caught.value.permanent
    assert OutboundPost.objects.filter(idempotency_key=KEY).exists()  # recorded before sending
    assert remembered(threads_channel) == {KEY: CONTAINER}


# --- reply and delete ----------------------------------------------------------------------------


def test_it_replies_with_a_container_answering_the_post(frozen, threads_channel, threads_api) -> None:
    happy_publish(threads_api)
    threads_api.on("GET", f"{USER_ID}/threads_publishing_limit", ok("reply_limit.json"))

    connector().reply(threads_channel, Remote(id="18051000000000004"), "Ja, auch am Sonntag!", KEY)

    [create] = threads_api.sent("POST", f"{USER_ID}/threads")
    assert form(create) == {"media_type": "TEXT", "text": "Ja, auch am Sonntag!", "reply_to_id": "18051000000000004"}
    [limit] = threads_api.sent("GET", f"{USER_ID}/threads_publishing_limit")
    assert limit.url.params["fields"] == "reply_quota_usage,reply_config"
    assert OutboundPost.objects.get(idempotency_key=KEY).in_reply_to == "18051000000000004"


def test_it_deletes_and_a_post_already_gone_counts_as_deleted(frozen, threads_channel, threads_api) -> None:
    threads_api.on("DELETE", MEDIA_ID, ok("delete.json"))
    connector().delete(threads_channel, Remote(id=MEDIA_ID))
    connector().delete(threads_channel, Remote(id="18050206876700000"))  # unknown: the 100/33 answer
    assert len(threads_api.sent("DELETE", MEDIA_ID)) == 1
    assert len(threads_api.sent("DELETE", "18050206876700000")) == 1


# --- find_published ------------------------------------------------------------------------------


def record(channel: Channel, text: str, *, minutes_ago: int, in_reply_to: str = "", media: int = 0) -> None:
    OutboundPost.objects.create(
        channel=channel,
        idempotency_key=KEY,
        text_sha256=text_fingerprint(text),
        in_reply_to=in_reply_to,
        media_count=media,
        sent_at=NOW - dt.timedelta(minutes=minutes_ago),
    )
    channel.network_data = {CONTAINERS: {KEY: CONTAINER}}
    channel.save()


def test_find_published_after_an_unknown_outcome_finds_the_post(frozen, threads_channel, threads_api) -> None:
    record(threads_channel, "Frische Franzbrötchen ab 7 Uhr!", minutes_ago=16)
    threads_api.on("GET", CONTAINER, ok("container_published.json"))
    threads_api.on("GET", f"{USER_ID}/threads", ok("user_threads.json"))

    found = connector().find_published(threads_channel, KEY, NOW - dt.timedelta(minutes=16))

    assert found == Remote(id=MEDIA_ID, url=PERMALINK, published_at=dt.datetime(2026, 11, 27, 9, 55, tzinfo=dt.UTC))
    [listing] = threads_api.sent("GET", f"{USER_ID}/threads")
    assert listing.url.params["since"] == str(int((NOW - dt.timedelta(minutes=21)).timestamp()))


def test_find_published_follows_pages_and_compares_the_kind_of_post(frozen, threads_channel, threads_api) -> None:
    text = "Unser Wintermenü: Maultaschen, Linsen mit Spätzle, Apfelstrudel"
    OutboundPost.objects.create(
        channel=threads_channel,
        idempotency_key=KEY,
        text_sha256=text_fingerprint(text),
        media_count=3,
        sent_at=dt.datetime(2026, 11, 25, 11, 58, tzinfo=dt.UTC),
    )
    threads_channel.network_data = {CONTAINERS: {KEY: CONTAINER}}
    threads_channel.save()
    threads_api.on("GET", CONTAINER, ok("container_published.json"))
    threads_api.on("GET", f"{USER_ID}/threads", ok("user_threads.json"), ok("user_threads_page2.json"))

    found = connector().find_published(threads_channel, KEY, dt.datetime(2026, 11, 25, 11, 58, tzinfo=dt.UTC))

    assert found is not None and found.id == "18050206876707050"
    second = threads_api.sent("GET", f"{USER_ID}/threads")[1]
    assert second.url.params["after"] == "QVFIUkx2dWxXS3NRMXRmWm9rTGRoVWw2QXhzZA1JMVFlYnpH"


def test_find_published_finds_our_reply_not_someone_elses_with_the_same_words(
    frozen, threads_channel, threads_api
) -> None:
    record(threads_channel, "Ja, auch am Sonntag!", minutes_ago=3, in_reply_to="18051000000000004")
    threads_api.on("GET", CONTAINER, ok("container_published.json"))
    threads_api.on("GET", "18051000000000004/replies", ok("replies.json"))

    found = connector().find_published(threads_channel, KEY, NOW - dt.timedelta(minutes=3))

    assert found is not None and found.id == "18051000000000006"


def test_find_published_without_a_record_or_container_is_not_found_without_asking(
    frozen, threads_channel, threads_api
) -> None:
    assert connector().find_published(threads_channel, KEY, NOW) is None
    OutboundPost.objects.create(channel=threads_channel, idempotency_key=KEY, text_sha256=text_fingerprint("x"))
    assert connector().find_published(threads_channel, KEY, NOW) is None  # no container: never published
    assert threads_api.requests == []


def test_find_published_trusts_a_container_that_was_not_published(frozen, threads_channel, threads_api) -> None:
    record(threads_channel, "Hallo", minutes_ago=2)
    threads_api.on("GET", CONTAINER, ok("container_finished.json"))
    assert connector().find_published(threads_channel, KEY, NOW) is None
    assert threads_api.sent("GET", f"{USER_ID}/threads") == []


def test_find_published_never_answers_not_found_for_a_published_container(frozen, threads_channel, threads_api) -> None:
    record(threads_channel, "Noch nicht gelistet", minutes_ago=1)
    threads_api.on("GET", CONTAINER, ok("container_published.json"))
    threads_api.on("GET", f"{USER_ID}/threads", ok("user_threads.json"))
    with pytest.raises(NetworkError) as caught:
        connector().find_published(threads_channel, KEY, NOW)
    assert caught.value.retry_after == 600 and not caught.value.permanent


def test_find_published_with_the_container_gone_and_no_match_asks_a_person(
    frozen, threads_channel, threads_api
) -> None:
    record(threads_channel, "Nicht dabei", minutes_ago=1)
    threads_api.on("GET", f"{USER_ID}/threads", ok("user_threads.json"))  # the container: 100/33
    with pytest.raises(NetworkError) as caught:
        connector().find_published(threads_channel, KEY, NOW)
    assert caught.value.permanent and "cannot tell" in caught.value.message


# --- activity and metrics ------------------------------------------------------------------------


def conversations(threads_api, *answers: httpx.Response) -> None:
    threads_api.on("GET", f"{USER_ID}/threads", ok("user_threads.json"))
    threads_api.on("GET", f"{MEDIA_ID}/conversation", *answers)
    for other in ("18050206876707099", "18050206876707080"):
        threads_api.on("GET", f"{other}/conversation", ok("conversation_empty.json"))


def test_fetch_activity_reads_new_replies_page_by_page_and_mentions(frozen, threads_channel, threads_api) -> None:
    conversations(threads_api, ok("conversation_page1.json"), ok("conversation_page2.json"))
    threads_api.on("GET", f"{USER_ID}/mentions", ok("mentions.json"))
    cursor = {
        "posts": {MEDIA_ID: {"since": "2026-11-27T09:58:00+00:00"}},
        "mentions_since": "2026-11-27T09:00:00+00:00",
    }

    events, new_cursor = connector().fetch_activity(threads_channel, cursor)

    assert [(e.kind, e.remote_id) for e in events] == [
        ("comment", "18051000000000002"),
        ("mention", "18052000000000002"),
        ("comment", "18051000000000003"),
        ("reply", "18051000000000004"),
    ]
    nested = events[-1]
    assert (nested.author_handle, nested.text) == ("lena_k", "Auch am Sonntag?")
    assert (nested.in_reply_to, nested.post_remote_id) == ("18051000000000003", MEDIA_ID)
    assert nested.data == {"url": "https://www.threads.com/@lena_k/post/DCf4zZ9yY8x"}
    assert new_cursor == {
        "posts": {MEDIA_ID: {"since": "2026-11-27T10:06:00+00:00"}},
        "mentions_since": "2026-11-27T10:02:00+00:00",
    }
    first, second = threads_api.sent("GET", f"{MEDIA_ID}/conversation")
    assert (first.url.params["reverse"], "after" in first.url.params) == ("true", False)
    assert second.url.params["after"] == "QVFIUlZA3Q2ZAxb1BsaWRnTXdKVmRLd0o0cnFYZAXRtM2Fz"
    [mentions] = threads_api.sent("GET", f"{USER_ID}/mentions")
    assert mentions.url.params["since"] == str(int(dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC).timestamp()))
    # A repost is someone else's post, and a post without replies has nothing to read.
    assert threads_api.sent("GET", "18050206876707060/conversation") == []
    assert threads_api.sent("GET", "18050206876707099/conversation") == []
    assert len(threads_api.sent("GET", "18050206876707080/conversation")) == 1
    [listing] = threads_api.sent("GET", f"{USER_ID}/threads")
    assert listing.url.params["fields"] == "id,timestamp,media_type,has_replies"


def test_an_unfinished_conversation_carries_on_next_time(frozen, threads_channel, threads_api, monkeypatch) -> None:
    monkeypatch.setattr(module, "CONVERSATION_PAGES", 1)
    conversations(threads_api, ok("conversation_page1.json"), ok("conversation_page2.json"))
    threads_api.on("GET", f"{USER_ID}/mentions", error("error_10_permission.json"))  # not granted: skipped
    since = "2026-11-27T09:58:00+00:00"

    events, cursor = connector().fetch_activity(threads_channel, {"posts": {MEDIA_ID: {"since": since}}})

    assert [e.remote_id for e in events] == ["18051000000000003", "18051000000000004"]
    assert cursor["posts"][MEDIA_ID] == {
        "since": since,
        "after": "QVFIUlZA3Q2ZAxb1BsaWRnTXdKVmRLd0o0cnFYZAXRtM2Fz",
        "newest": "2026-11-27T10:06:00+00:00",
    }
    assert "mentions_since" not in cursor

    events, cursor = connector().fetch_activity(threads_channel, cursor)

    assert [e.remote_id for e in events] == ["18051000000000002"]
    assert cursor["posts"][MEDIA_ID] == {"since": "2026-11-27T10:06:00+00:00"}
    resumed = threads_api.sent("GET", f"{MEDIA_ID}/conversation")[1]
    assert resumed.url.params["after"] == "QVFIUlZA3Q2ZAxb1BsaWRnTXdKVmRLd0o0cnFYZAXRtM2Fz"


def test_fetch_metrics_reads_post_insights_and_followers(frozen, threads_channel, threads_api) -> None:
    threads_api.on("GET", f"{MEDIA_ID}/insights", ok("media_insights.json"))
    threads_api.on("GET", f"{USER_ID}/threads_insights", ok("user_insights_followers.json"))

    metrics = connector().fetch_metrics(threads_channel, [Remote(id=MEDIA_ID), Remote(id="18050206876700000")])

    assert {m.remote_id: m.values for m in metrics} == {
        MEDIA_ID: {"views": 1520, "likes": 31, "comments": 4, "shares": 2, "quotes": 1, "sends": 3},
        USER_ID: {"followers": 812},
    }
    [insights] = threads_api.sent("GET", f"{MEDIA_ID}/insights")
    assert insights.url.params["metric"] == "views,likes,replies,reposts,quotes,shares"
    [followers] = threads_api.sent("GET", f"{USER_ID}/threads_insights")
    assert followers.url.params["metric"] == "followers_count"


# --- tokens --------------------------------------------------------------------------------------


def age(channel: Channel, *, days_left: float, issued_days_ago: float) -> None:
    channel.token_expires_at = NOW + dt.timedelta(days=days_left)
    channel.credentials = {**channel.credentials, "issued_at": (NOW - dt.timedelta(days=issued_days_ago)).isoformat()}
    channel.save()


def test_a_token_with_few_days_left_is_refreshed_before_the_call(frozen, threads_channel, threads_api) -> None:
    age(threads_channel, days_left=20, issued_days_ago=40)
    threads_api.on("GET", "refresh_access_token", ok("token_refreshed.json"))
    threads_api.on("DELETE", MEDIA_ID, ok("delete.json"))

    connector().delete(threads_channel, Remote(id=MEDIA_ID))

    refresh, delete = threads_api.requests
    assert refresh.url.path == "/refresh_access_token"
    assert dict(refresh.url.params) == {"grant_type": "th_refresh_token", "access_token": TOKEN}
    new = fixture("token_refreshed.json")["access_token"]
    assert delete.headers["Authorization"] == f"Bearer {new}"
    threads_channel.refresh_from_db()
    assert threads_channel.credentials == {"access_token": new, "issued_at": NOW.isoformat()}
    assert threads_channel.token_expires_at == NOW + dt.timedelta(seconds=5183944)


def test_a_token_with_many_days_left_or_too_new_is_not_refreshed(frozen, threads_channel, threads_api) -> None:
    threads_api.on("DELETE", MEDIA_ID, ok("delete.json"))
    connector().delete(threads_channel, Remote(id=MEDIA_ID))  # 55 days left: no refresh due
    age(threads_channel, days_left=20, issued_days_ago=0.5)  # Threads refreshes only tokens a day old
    assert connector().refresh_credentials(threads_channel)["access_token"] == TOKEN
    assert [r.method for r in threads_api.requests] == ["DELETE"]


def test_a_network_hiccup_during_refresh_keeps_the_token_and_the_call_goes_on(
    frozen, threads_channel, threads_api
) -> None:
    age(threads_channel, days_left=20, issued_days_ago=40)
    threads_api.on("GET", "refresh_access_token", error("error_1_unknown.json", 503))
    threads_api.on("DELETE", MEDIA_ID, ok("delete.json"))

    with pytest.raises(NetworkError) as caught:
        connector().refresh_credentials(threads_channel)
    assert not caught.value.auth and not caught.value.permanent
    connector().delete(threads_channel, Remote(id=MEDIA_ID))  # refresh fails again, the old token still works

    [delete] = threads_api.sent("DELETE", MEDIA_ID)
    assert delete.headers["Authorization"] == f"Bearer {TOKEN}"
    threads_channel.refresh_from_db()
    assert threads_channel.credentials["access_token"] == TOKEN
    assert threads_channel.token_expires_at == NOW + dt.timedelta(days=20)


def test_a_revoked_token_fails_the_refresh_as_auth(frozen, threads_channel, threads_api) -> None:
    age(threads_channel, days_left=20, issued_days_ago=40)
    threads_api.on("GET", "refresh_access_token", error("error_190.json"))
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.auth
    assert threads_api.sent("POST", f"{USER_ID}/threads") == []


def test_a_token_that_ran_out_asks_for_a_reconnect_without_calling(frozen, threads_channel, threads_api) -> None:
    threads_channel.token_expires_at = NOW - dt.timedelta(minutes=1)
    threads_channel.save()
    with pytest.raises(NetworkError) as caught:
        connector().publish(threads_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.auth and "reconnect" in caught.value.message
    assert threads_api.requests == []


def test_the_daily_expiry_check_refreshes_instead_of_warning(frozen, threads_channel, threads_api) -> None:
    age(threads_channel, days_left=5, issued_days_ago=55)
    threads_api.on("GET", "refresh_access_token", ok("token_refreshed.json"))

    assert health.warn_expiring_tokens(NOW) == 0

    threads_channel.refresh_from_db()
    assert threads_channel.token_expires_at == NOW + dt.timedelta(seconds=5183944)
    assert threads_channel.credentials["access_token"] == fixture("token_refreshed.json")["access_token"]
    assert health.status(threads_channel, NOW) == health.Status.OK


def test_a_token_another_worker_refreshed_is_used_without_refreshing_again(
    frozen, threads_channel, threads_api
) -> None:
    age(threads_channel, days_left=20, issued_days_ago=40)
    stale = Channel.objects.get(pk=threads_channel.pk)
    fresh = {"access_token": "fresh", "issued_at": NOW.isoformat()}
    Channel.objects.filter(pk=threads_channel.pk).update(
        credentials=fresh, token_expires_at=NOW + dt.timedelta(days=60)
    )

    assert connector().refresh_credentials(stale) == fresh
    assert stale.credentials == fresh and stale.token_expires_at == NOW + dt.timedelta(days=60)
    assert threads_api.requests == []
    assert stale.handle == HANDLE
