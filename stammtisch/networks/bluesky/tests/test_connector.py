"""The Bluesky connector against documented payloads (fixtures/README.md names the pages)."""

from __future__ import annotations

import datetime as dt
import re
import time

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from stammtisch.networks.base import MediaItem, NetworkError, Outgoing, RateLimit, Remote
from stammtisch.networks.bluesky import api
from stammtisch.networks.bluesky.connector import BlueskyNetwork
from stammtisch.networks.bluesky.tests.conftest import DID, HANDLE, error, fixture, make_jwt, ok, session_answer
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.registry import get_network

KEY = "0b7c7c2e-4a8e-4d8f-9a57-3f1f5c1d2e01"
POST_URI = f"at://{DID}/app.bsky.feed.post/3lbqta5jtlc2x"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")  # atproto.com/specs/tid


def connector() -> BlueskyNetwork:
    network = get_network("bluesky")
    assert isinstance(network, BlueskyNetwork)
    return network


def bearer(request: httpx.Request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")


def test_it_publishes_a_post_with_facets_and_our_own_record_key(pds, bluesky_channel) -> None:
    pds.on(api.RESOLVE_HANDLE, ok("resolveHandle.json"))
    pds.on(api.CREATE_RECORD, ok("createRecord.json"))
    text = "Grüß Gott @anna.bsky.social! #Zwiebelkuchen"

    remote = connector().publish(bluesky_channel, Outgoing(text=text, link="https://cafe.example/karte"), KEY)

    assert remote.id == POST_URI
    assert remote.url == f"https://bsky.app/profile/{HANDLE}/post/3lbqta5jtlc2x"
    sent = pds.json_of(api.CREATE_RECORD)
    assert bearer(pds.calls(api.CREATE_RECORD)[0]) == bluesky_channel.credentials["access_jwt"]
    assert (sent["repo"], sent["collection"]) == (DID, "app.bsky.feed.post")
    assert TID.match(sent["rkey"])
    record = sent["record"]
    assert record["$type"] == "app.bsky.feed.post"
    assert record["text"] == f"{text}\n\nhttps://cafe.example/karte"
    assert record["createdAt"].endswith("Z")
    # "Grüß Gott " is 12 bytes in UTF-8 (ü and ß take two each), though 10 characters.
    assert record["facets"] == [
        {
            "index": {"byteStart": 12, "byteEnd": 29},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:annaschmidt7stuttgart"}],
        },
        {
            "index": {"byteStart": 31, "byteEnd": 45},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Zwiebelkuchen"}],
        },
        {
            "index": {"byteStart": 47, "byteEnd": 73},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://cafe.example/karte"}],
        },
    ]
    encoded = record["text"].encode()
    assert encoded[12:29].decode() == "@anna.bsky.social" and encoded[47:73].decode() == "https://cafe.example/karte"
    assert pds.calls(api.RESOLVE_HANDLE)[0].url.params["handle"] == "anna.bsky.social"
    outbound = OutboundPost.objects.get(channel=bluesky_channel, idempotency_key=KEY)
    assert sent["rkey"] == api.record_key(KEY, outbound.sent_at)


def test_a_handle_that_does_not_resolve_gets_no_mention_facet(pds, bluesky_channel) -> None:
    pds.on(api.RESOLVE_HANDLE, error(400, "error_resolve_handle.json"))
    pds.on(api.CREATE_RECORD, ok("createRecord.json"))

    connector().publish(bluesky_channel, Outgoing(text="Hallo @niemand.example.com"), KEY)

    assert "facets" not in pds.json_of(api.CREATE_RECORD)["record"]


def test_it_uploads_images_with_alt_text_and_aspect_ratio(pds, bluesky_channel) -> None:
    name = default_storage.save("media/kuchen.jpg", ContentFile(b"\xff\xd8\xff\xe0j"))
    pds.on(api.UPLOAD_BLOB, ok("uploadBlob.json"))
    pds.on(api.CREATE_RECORD, ok("createRecord.json"))
    item = MediaItem(name, "image/jpeg", "Apfelkuchen auf einem weißen Teller", width=1200, height=800)

    connector().publish(bluesky_channel, Outgoing(text="Apfelkuchen!", media=(item,)), KEY)

    upload = pds.calls(api.UPLOAD_BLOB)[0]
    assert upload.content == b"\xff\xd8\xff\xe0j" and upload.headers["Content-Type"] == "image/jpeg"
    assert pds.json_of(api.CREATE_RECORD)["record"]["embed"] == {
        "$type": "app.bsky.embed.images",
        "images": [
            {
                "alt": "Apfelkuchen auf einem weißen Teller",
                "image": fixture("uploadBlob.json")["blob"],
                "aspectRatio": {"width": 1200, "height": 800},
            }
        ],
    }
    assert OutboundPost.objects.get(idempotency_key=KEY).media_count == 1


def test_it_refuses_videos_and_images_over_a_megabyte_before_any_request(pds, bluesky_channel) -> None:
    video = default_storage.save("media/film.mp4", ContentFile(b"fake mp4"))
    big = default_storage.save("media/gross.jpg", ContentFile(b"x" * 1_000_001))
    with pytest.raises(NetworkError, match="videos") as caught:
        connector().publish(bluesky_channel, Outgoing(text="Film", media=(MediaItem(video, "video/mp4"),)), KEY)
    assert caught.value.permanent
    with pytest.raises(NetworkError, match="1,000,000 bytes") as caught:
        connector().publish(bluesky_channel, Outgoing(text="Groß", media=(MediaItem(big, "image/jpeg"),)), KEY)
    assert caught.value.permanent
    assert pds.requests == []


def test_a_retry_uses_the_same_record_key_and_returns_the_post_that_exists(pds, bluesky_channel) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    pds.on(api.CREATE_RECORD, timeout)
    with pytest.raises(NetworkError) as caught:
        connector().publish(bluesky_channel, Outgoing(text="Guten Morgen, Stuttgart!"), KEY)
    assert caught.value.outcome_unknown and not caught.value.permanent

    # The PDS did create it; a second createRecord with the same key is refused.
    pds.on(
        api.CREATE_RECORD,
        httpx.Response(400, json={"error": "InvalidRequest", "message": "Record already exists"}),
    )
    pds.on(api.GET_RECORD, ok("getRecord.json"))
    remote = connector().publish(bluesky_channel, Outgoing(text="Guten Morgen, Stuttgart!"), KEY)

    assert remote.id == POST_URI
    assert remote.published_at == dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
    first, second = pds.json_of(api.CREATE_RECORD, 0), pds.json_of(api.CREATE_RECORD, 1)
    assert first["rkey"] == second["rkey"]
    assert pds.calls(api.GET_RECORD)[0].url.params["rkey"] == first["rkey"]
    assert OutboundPost.objects.filter(idempotency_key=KEY).count() == 1


def test_find_published_reads_the_record_by_its_key(pds, bluesky_channel) -> None:
    sent_at = timezone.now() - dt.timedelta(minutes=3)
    OutboundPost.objects.create(channel=bluesky_channel, idempotency_key=KEY, text_sha256="x", sent_at=sent_at)
    pds.on(api.GET_RECORD, ok("getRecord.json"))

    found = connector().find_published(bluesky_channel, KEY, sent_at)

    assert found is not None and found.id == POST_URI
    params = pds.calls(api.GET_RECORD)[0].url.params
    assert (params["repo"], params["collection"]) == (DID, "app.bsky.feed.post")
    assert params["rkey"] == api.record_key(KEY, OutboundPost.objects.get(idempotency_key=KEY).sent_at)


def test_find_published_answers_none_when_the_pds_has_no_such_record(pds, bluesky_channel) -> None:
    OutboundPost.objects.create(channel=bluesky_channel, idempotency_key=KEY, text_sha256="x")
    pds.on(api.GET_RECORD, error(400, "error_record_not_found.json"))

    assert connector().find_published(bluesky_channel, KEY, timezone.now()) is None
    assert connector().find_published(bluesky_channel, "never-sent", timezone.now()) is None
    assert len(pds.calls(api.GET_RECORD)) == 1  # nothing recorded for "never-sent": nothing asked


def test_find_published_raises_when_the_pds_cannot_answer(pds, bluesky_channel) -> None:
    OutboundPost.objects.create(channel=bluesky_channel, idempotency_key=KEY, text_sha256="x")
    pds.on(api.GET_RECORD, error(502, "error_internal.json"))

    with pytest.raises(NetworkError) as caught:
        connector().find_published(bluesky_channel, KEY, timezone.now())
    assert not caught.value.permanent


def test_a_validation_error_is_permanent(pds, bluesky_channel) -> None:
    pds.on(api.CREATE_RECORD, error(400, "error_invalid_request.json"))
    pds.on(api.GET_RECORD, error(400, "error_record_not_found.json"))

    with pytest.raises(NetworkError, match="must not be longer than 300 graphemes") as caught:
        connector().publish(bluesky_channel, Outgoing(text="zu lang"), KEY)

    assert caught.value.permanent and not caught.value.auth and caught.value.retry_after is None


def test_an_expired_access_token_is_refreshed_and_the_call_repeated(pds, bluesky_channel) -> None:
    old_access, old_refresh = bluesky_channel.credentials["access_jwt"], bluesky_channel.credentials["refresh_jwt"]
    fresh = session_answer("refreshSession.json")
    pds.on(api.CREATE_RECORD, error(400, "error_expired_token.json"), ok("createRecord.json"))
    pds.on(api.REFRESH_SESSION, ok(fresh))

    remote = connector().publish(bluesky_channel, Outgoing(text="Hallo"), KEY)

    assert remote.id == POST_URI
    assert bearer(pds.calls(api.REFRESH_SESSION)[0]) == old_refresh
    assert [bearer(r) for r in pds.calls(api.CREATE_RECORD)] == [old_access, fresh["accessJwt"]]
    stored = Channel.objects.get(pk=bluesky_channel.pk)
    assert stored.credentials == {"access_jwt": fresh["accessJwt"], "refresh_jwt": fresh["refreshJwt"]}
    assert stored.token_expires_at == api.jwt_expiry(fresh["refreshJwt"])
    assert stored.network_data["refresh_expires_at"] == api.jwt_expiry(fresh["refreshJwt"]).isoformat()


def test_a_token_that_runs_out_soon_is_refreshed_before_the_call(pds, bluesky_channel) -> None:
    bluesky_channel.credentials = {**bluesky_channel.credentials, "access_jwt": make_jwt(DID, dt.timedelta(minutes=2))}
    bluesky_channel.save()
    fresh = session_answer("refreshSession.json")
    pds.on(api.REFRESH_SESSION, ok(fresh))
    pds.on(api.GET_PROFILE, ok("getProfile.json"))

    connector().fetch_metrics(bluesky_channel, [])

    assert [r.url.path for r in pds.requests] == [
        "/xrpc/com.atproto.server.refreshSession",
        "/xrpc/app.bsky.actor.getProfile",
    ]
    assert bearer(pds.requests[1]) == fresh["accessJwt"]


def test_a_refresh_without_a_new_refresh_token_keeps_the_stored_one(pds, bluesky_channel) -> None:
    old_refresh = bluesky_channel.credentials["refresh_jwt"]
    fresh = session_answer("refreshSession.json", refresh=False)
    pds.on(api.REFRESH_SESSION, ok(fresh))

    credentials = connector().refresh_credentials(bluesky_channel)

    assert credentials == {"access_jwt": fresh["accessJwt"], "refresh_jwt": old_refresh}
    assert Channel.objects.get(pk=bluesky_channel.pk).credentials == credentials


def test_a_rejected_refresh_token_asks_for_reconnection_and_keeps_the_tokens(pds, bluesky_channel) -> None:
    before = dict(bluesky_channel.credentials)
    pds.on(api.REFRESH_SESSION, error(400, "error_expired_token.json"))

    with pytest.raises(NetworkError) as caught:
        connector().refresh_credentials(bluesky_channel)

    assert caught.value.auth
    assert Channel.objects.get(pk=bluesky_channel.pk).credentials == before


def test_a_hiccup_during_refresh_is_transient_and_keeps_the_tokens(pds, bluesky_channel) -> None:
    before = dict(bluesky_channel.credentials)
    pds.on(api.REFRESH_SESSION, error(503, "error_internal.json"))

    with pytest.raises(NetworkError) as caught:
        connector().refresh_credentials(bluesky_channel)

    assert not caught.value.permanent and not caught.value.auth
    assert Channel.objects.get(pk=bluesky_channel.pk).credentials == before


def test_it_waits_until_ratelimit_reset_after_429(pds, bluesky_channel) -> None:
    reset = int(time.time()) + 600
    headers = {
        "ratelimit-limit": "5000",
        "ratelimit-remaining": "0",
        "ratelimit-reset": str(reset),
        "ratelimit-policy": "5000;w=3600",
    }
    pds.on(api.CREATE_RECORD, error(429, "error_rate_limit.json", headers))

    with pytest.raises(NetworkError, match="RateLimitExceeded") as caught:
        connector().publish(bluesky_channel, Outgoing(text="Hallo"), KEY)

    assert not caught.value.permanent
    assert caught.value.retry_after is not None and 590 <= caught.value.retry_after <= 600
    assert pds.calls(api.GET_RECORD) == []  # no extra calls while rate-limited


def test_a_server_error_is_transient(pds, bluesky_channel) -> None:
    pds.on(api.CREATE_RECORD, error(500, "error_internal.json"))
    pds.on(api.GET_RECORD, error(400, "error_record_not_found.json"))

    with pytest.raises(NetworkError) as caught:
        connector().publish(bluesky_channel, Outgoing(text="Hallo"), KEY)

    assert not caught.value.permanent and not caught.value.auth and not caught.value.outcome_unknown


def test_a_connection_failure_before_sending_is_safe_to_retry(pds, bluesky_channel) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    pds.on(api.CREATE_RECORD, refuse)
    with pytest.raises(NetworkError) as caught:
        connector().publish(bluesky_channel, Outgoing(text="Hallo"), KEY)
    assert not caught.value.outcome_unknown and not caught.value.permanent


def test_it_replies_with_root_and_parent(pds, bluesky_channel) -> None:
    answer_uri = "at://did:plc:annaschmidt7stuttgart/app.bsky.feed.post/3lbqtb2xyzk2a"
    posts = fixture("getPosts.json")
    pds.on(api.GET_POSTS, ok({"posts": [posts["posts"][1]]}))
    pds.on(api.CREATE_RECORD, ok("createRecord.json"))

    connector().reply(bluesky_channel, Remote(id=answer_uri), "Ja, ab 11 Uhr!", KEY)

    assert pds.calls(api.GET_POSTS)[0].url.params.get_list("uris") == [answer_uri]
    reply = pds.json_of(api.CREATE_RECORD)["record"]["reply"]
    assert reply["parent"] == {"uri": answer_uri, "cid": posts["posts"][1]["cid"]}
    assert reply["root"] == {"uri": POST_URI, "cid": posts["posts"][0]["cid"]}  # the thread's first post
    assert OutboundPost.objects.get(idempotency_key=KEY).in_reply_to == answer_uri


def test_a_reply_to_a_deleted_post_is_permanent(pds, bluesky_channel) -> None:
    pds.on(api.GET_POSTS, ok({"posts": []}))
    with pytest.raises(NetworkError, match="no longer exists") as caught:
        connector().reply(bluesky_channel, Remote(id=POST_URI), "Danke!", KEY)
    assert caught.value.permanent
    assert pds.calls(api.CREATE_RECORD) == []


def test_it_deletes_its_own_posts_only(pds, bluesky_channel) -> None:
    pds.on(api.DELETE_RECORD, ok({"commit": {"cid": "bafyreicommit", "rev": "3lbqtz"}}))

    connector().delete(bluesky_channel, Remote(id=POST_URI))

    assert pds.json_of(api.DELETE_RECORD) == {"repo": DID, "collection": "app.bsky.feed.post", "rkey": "3lbqta5jtlc2x"}
    with pytest.raises(NetworkError, match="another account") as caught:
        connector().delete(
            bluesky_channel, Remote(id="at://did:plc:annaschmidt7stuttgart/app.bsky.feed.post/3lbqtb2xyzk2a")
        )
    assert caught.value.permanent


def test_fetch_activity_takes_the_newest_page_first_then_pages_back_to_the_last_sync(pds, bluesky_channel) -> None:
    pds.on(api.LIST_NOTIFICATIONS, ok("listNotifications_page1.json"))

    events, cursor = connector().fetch_activity(bluesky_channel, {})

    assert [(e.kind, e.author_handle) for e in events] == [
        ("like", "anna.bsky.social"),
        ("comment", "anna.bsky.social"),
        ("mention", "jonas.bsky.social"),
    ]
    like, comment, quote = events
    assert like.post_remote_id == POST_URI and like.remote_id.endswith("app.bsky.feed.like/3lbqtc4like2b")
    assert (comment.text, comment.in_reply_to, comment.post_remote_id) == (
        "Gibt es heute Zwiebelkuchen?",
        POST_URI,
        POST_URI,
    )
    assert comment.author_language == "de" and comment.author_id == "did:plc:annaschmidt7stuttgart"
    assert comment.data["url"] == "https://bsky.app/profile/anna.bsky.social/post/3lbqtb2xyzk2a"
    assert quote.data["quote_of"] == POST_URI and quote.post_remote_id == POST_URI
    assert cursor == {"seen_at": "2026-11-27T08:30:01+00:00"}
    assert len(pds.calls(api.LIST_NOTIFICATIONS)) == 1  # first sync: no backfill

    # Next sync: newer notifications are on page 1; page 2 reaches back past the last sync.
    newer = fixture("listNotifications_page1.json")
    for notification, minute in zip(newer["notifications"], (50, 45, 40), strict=True):
        notification["uri"] += "new"
        notification["indexedAt"] = f"2026-11-27T08:{minute}:01.000Z"
    older = fixture("listNotifications_page2.json")
    older["notifications"][0]["indexedAt"] = "2026-11-27T08:35:00.000Z"
    pds.on(api.LIST_NOTIFICATIONS, ok(newer), ok(older))

    events, cursor = connector().fetch_activity(bluesky_channel, cursor)

    # By when they happened: posts by their createdAt (08:25, 08:30), the others when indexed.
    assert [(e.kind, e.occurred_at.strftime("%H:%M")) for e in events] == [
        ("comment", "08:25"),
        ("mention", "08:30"),
        ("share", "08:35"),
        ("like", "08:40"),
    ]
    assert cursor == {"seen_at": "2026-11-27T08:50:01+00:00"}
    second_page = pds.calls(api.LIST_NOTIFICATIONS)[2]
    assert second_page.url.params["cursor"] == "2026-11-27T08:20:00.000Z"


def test_fetch_activity_maps_follows_and_mentions_and_skips_other_reasons(pds, bluesky_channel) -> None:
    pds.on(api.LIST_NOTIFICATIONS, ok("listNotifications_page2.json"))

    events, _cursor = connector().fetch_activity(bluesky_channel, {})

    assert [(e.kind, e.author_handle) for e in events] == [
        ("mention", "lena.example.de"),
        ("follow", "lena.example.de"),
        ("share", "jonas.bsky.social"),
    ]
    mention = events[0]
    assert mention.text == "Treffen um 10 im @cafe-koenigsbau.bsky.social?" and mention.post_remote_id == ""


def test_fetch_metrics_reads_counts_per_post_and_followers(pds, bluesky_channel) -> None:
    pds.on(api.GET_POSTS, ok("getPosts.json"))
    pds.on(api.GET_PROFILE, ok("getProfile.json"))

    metrics = connector().fetch_metrics(bluesky_channel, [Remote(id=POST_URI), Remote(id="not-a-uri")])

    assert pds.calls(api.GET_POSTS)[0].url.params.get_list("uris") == [POST_URI]
    assert metrics[0].remote_id == POST_URI
    assert metrics[0].values == {"likes": 42, "shares": 5, "comments": 3, "quotes": 1}
    assert metrics[-1].remote_id == DID
    assert metrics[-1].values == {"followers": 1284, "following": 210, "posts": 342}
    assert pds.calls(api.GET_PROFILE)[0].url.params["actor"] == DID


def test_metrics_are_fetched_25_posts_at_a_time(pds, bluesky_channel) -> None:
    pds.on(api.GET_POSTS, ok({"posts": []}))
    pds.on(api.GET_PROFILE, ok("getProfile.json"))
    remotes = [Remote(id=f"at://{DID}/app.bsky.feed.post/3lbqta5jtl{i:03d}") for i in range(30)]

    connector().fetch_metrics(bluesky_channel, remotes)

    assert [len(r.url.params.get_list("uris")) for r in pds.calls(api.GET_POSTS)] == [25, 5]


def test_a_self_hosted_pds_on_a_private_address_is_never_called(pds, bluesky_channel) -> None:
    bluesky_channel.network_data = {"pds": "https://pds.intranet.example"}
    bluesky_channel.save()

    with pytest.raises(NetworkError):
        connector().fetch_metrics(bluesky_channel, [])

    assert pds.requests == []


def test_it_declares_bluesky_rate_limits() -> None:
    assert BlueskyNetwork.rate_limits == (
        RateLimit("channel", 1666, 3600.0),
        RateLimit("channel", 11666, 86400.0),
        RateLimit("network", 3000, 300.0),
    )


def test_record_keys_are_valid_tids_and_stable_per_idempotency_key() -> None:
    when = dt.datetime(2026, 11, 27, 8, 0, 0, 123456, tzinfo=dt.UTC)
    key = api.record_key(KEY, when)
    assert TID.match(key) and key == api.record_key(KEY, when)
    assert key != api.record_key("another-key", when)
    assert api.tid(0, 0) == "2222222222222"
    assert api.tid((1 << 53) - 1, 1023) == "bzzzzzzzzzzzz"  # 63 bits: the top one of 64 stays 0
    assert api.tid(1_700_000_000_000_000, 0).startswith("3k")  # late 2023, as in real post URIs
