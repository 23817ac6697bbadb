"""The LinkedIn connector against documented payloads (fixtures/README.md names the pages)."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs

import httpx
import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import translation

from stammtisch.networks.base import MediaItem, Metric, NetworkError, Outgoing, Remote
from stammtisch.networks.linkedin import api as linkedin_api
from stammtisch.networks.linkedin.connector import LinkedInNetwork
from stammtisch.networks.linkedin.tests.conftest import (
    ACCESS,
    CLIENT_ID,
    CLIENT_SECRET,
    MEMBER_URN,
    ORG_URN,
    REFRESH,
    fixture,
)
from stammtisch.networks.models import Channel, OutboundPost
from stammtisch.networks.registry import get_network
from stammtisch.networks.rules import RULES

NOW = dt.datetime(2026, 11, 27, 10, 10, tzinfo=dt.UTC)
KEY = "5d0c1f7a-2b9e-4c61-8d3f-0a4e6b7c8d91"
POST_URN = "urn:li:share:7270000000000000004"
THREAD = "urn:li:activity:7270000000000000100"
COMMENT_URN = f"urn:li:comment:({THREAD},7270000000000000201)"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def connector() -> LinkedInNetwork:
    network = get_network("linkedin")
    assert isinstance(network, LinkedInNetwork)
    return network


def created(urn: str = POST_URN) -> httpx.Response:
    return httpx.Response(201, headers={"x-restli-id": urn, "x-linkedin-id": urn})


def body(request: httpx.Request) -> dict:
    return json.loads(request.content)


def query(request: httpx.Request) -> dict[str, str]:
    """The raw query, values still Rest.li-encoded as sent."""
    raw = request.url.raw_path.decode().split("?", 1)[1]
    return dict(part.split("=", 1) for part in raw.split("&"))


def test_it_enforces_the_composers_rules() -> None:
    assert LinkedInNetwork.rules is RULES["linkedin"]
    assert LinkedInNetwork.rules.max_length == 3000


# --- publish -------------------------------------------------------------------------------------


def test_it_publishes_text_in_little_format_and_records_it_before_sending(frozen, page_channel, api) -> None:
    api.on("POST", "/rest/posts", created())
    text = "Mittagstisch (heute): Linsen & Spätzle - #Stuttgart @Team_Küche"

    remote = connector().publish(page_channel, Outgoing(text=text), KEY)

    assert remote == Remote(id=POST_URN, url=f"https://www.linkedin.com/feed/update/{POST_URN}/", published_at=NOW)
    [request] = api.requests
    assert request.url == "https://api.linkedin.com/rest/posts"
    assert request.headers["Authorization"] == f"Bearer {ACCESS}"
    assert request.headers["LinkedIn-Version"] == linkedin_api.VERSION == "202606"
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert body(request) == {
        "author": ORG_URN,
        "commentary": r"Mittagstisch \(heute\): Linsen & Spätzle - #Stuttgart \@Team\_Küche",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    record = OutboundPost.objects.get(channel=page_channel, idempotency_key=KEY)
    assert record.text_sha256 == linkedin_api.text_fingerprint(text)
    assert (record.in_reply_to, record.media_count, record.sent_at) == ("", 0, NOW)


def test_a_member_posts_as_the_person(frozen, member_channel, api) -> None:
    api.on("POST", "/rest/posts", created("urn:li:share:7270000000000000009"))
    remote = connector().publish(member_channel, Outgoing(text="Guten Morgen!"), KEY)
    assert remote.id == "urn:li:share:7270000000000000009"
    assert body(api.requests[0])["author"] == MEMBER_URN


def test_it_uploads_an_image_through_the_images_api(frozen, page_channel, api) -> None:
    name = default_storage.save("media/karte.jpg", ContentFile(b"\xff\xd8\xff fake jpeg"))
    api.on("POST", "/rest/images", httpx.Response(200, json=fixture("image_initialize.json")))
    api.on("PUT", "/dms-uploads/sp/D4D10AQGhXpdHeVKeCQ/uploaded-image/0", httpx.Response(201))
    api.on("POST", "/rest/posts", created())

    item = MediaItem(path=name, content_type="image/jpeg", alt_text="Die neue Karte")
    connector().publish(page_channel, Outgoing(text="Neue Karte", media=(item,)), KEY)

    [init, upload, post] = api.requests
    assert init.url == "https://api.linkedin.com/rest/images?action=initializeUpload"
    assert body(init) == {"initializeUploadRequest": {"owner": ORG_URN}}
    assert upload.url.host == "www.linkedin.com" and upload.method == "PUT"
    assert upload.content == b"\xff\xd8\xff fake jpeg"
    assert upload.headers["Authorization"] == f"Bearer {ACCESS}"
    assert body(post)["content"] == {"media": {"id": "urn:li:image:D4D10AQGhXpdHeVKeCQ", "altText": "Die neue Karte"}}
    assert OutboundPost.objects.get(idempotency_key=KEY).media_count == 1


def test_several_images_become_a_multi_image_post_with_the_link_in_the_text(frozen, page_channel, api) -> None:
    names = [default_storage.save(f"media/bild{i}.png", ContentFile(b"\x89PNG %d" % i)) for i in range(3)]
    api.on("POST", "/rest/images", httpx.Response(200, json=fixture("image_initialize.json")))
    api.on("PUT", "/dms-uploads/sp/D4D10AQGhXpdHeVKeCQ/uploaded-image/0", httpx.Response(201))
    api.on("POST", "/rest/posts", created())
    media = tuple(MediaItem(path=name, content_type="image/png") for name in names)

    connector().publish(
        page_channel, Outgoing(text="Unser Wochenende", media=media, link="https://cafe-koenigsbau.de/galerie"), KEY
    )

    [post] = api.sent("POST", "/rest/posts")
    assert body(post)["content"] == {"multiImage": {"images": [{"id": "urn:li:image:D4D10AQGhXpdHeVKeCQ"}] * 3}}
    assert body(post)["commentary"] == "Unser Wochenende\n\nhttps://cafe-koenigsbau.de/galerie"
    assert len(api.sent("PUT", "/dms-uploads/sp/D4D10AQGhXpdHeVKeCQ/uploaded-image/0")) == 3
    record = OutboundPost.objects.get(idempotency_key=KEY)
    assert record.media_count == 3
    assert record.text_sha256 == linkedin_api.text_fingerprint("Unser Wochenende\n\nhttps://cafe-koenigsbau.de/galerie")


def test_a_video_is_uploaded_in_the_parts_linkedin_asks_for(frozen, page_channel, api) -> None:
    name = default_storage.save("media/film.mp4", ContentFile(b"0123456789abcdef"))
    api.on("POST", "/rest/videos", httpx.Response(200, json=fixture("video_initialize.json")), httpx.Response(200))
    api.on(
        "PUT",
        "/dms-uploads/sp/D5505AQH-oV1qvnFtKA/uploadedVideo",
        httpx.Response(200, headers={"ETag": "/ambry-video/signedId/part1"}),
        httpx.Response(200, headers={"ETag": "/ambry-video/signedId/part2"}),
    )
    api.on("POST", "/rest/posts", created("urn:li:ugcPost:7270000000000000010"))

    item = MediaItem(path=name, content_type="video/mp4", size=16)
    connector().publish(page_channel, Outgoing(text="Backstube im Zeitraffer", media=(item,)), KEY)

    init, finalize = api.sent("POST", "/rest/videos")
    assert init.url.params["action"] == "initializeUpload"
    assert body(init) == {
        "initializeUploadRequest": {
            "owner": ORG_URN,
            "fileSizeBytes": 16,
            "uploadCaptions": False,
            "uploadThumbnail": False,
        }
    }
    parts = api.sent("PUT", "/dms-uploads/sp/D5505AQH-oV1qvnFtKA/uploadedVideo")
    assert [part.content for part in parts] == [b"0123456789", b"abcdef"]
    assert finalize.url.params["action"] == "finalizeUpload"
    assert body(finalize) == {
        "finalizeUploadRequest": {
            "video": "urn:li:video:D5505AQH-oV1qvnFtKA",
            "uploadToken": "",
            "uploadedPartIds": ["/ambry-video/signedId/part1", "/ambry-video/signedId/part2"],
        }
    }
    [post] = api.sent("POST", "/rest/posts")
    assert body(post)["content"] == {"media": {"id": "urn:li:video:D5505AQH-oV1qvnFtKA"}}


def test_a_link_becomes_an_article_with_the_pages_title(frozen, page_channel, api) -> None:
    page = '<html><head><meta property="og:title" content="Unsere Karte &amp; Preise"><title>x</title></head></html>'
    api.on("GET", "/karte", httpx.Response(200, text=page, headers={"Content-Type": "text/html; charset=utf-8"}))
    api.on("POST", "/rest/posts", created())

    connector().publish(page_channel, Outgoing(text="Neu!", link="https://cafe-koenigsbau.de/karte"), KEY)

    [post] = api.sent("POST", "/rest/posts")
    assert body(post)["content"] == {
        "article": {"source": "https://cafe-koenigsbau.de/karte", "title": "Unsere Karte & Preise"}
    }
    assert body(post)["commentary"] == "Neu!"


def test_an_unreadable_link_gets_its_host_as_title(frozen, page_channel, api) -> None:
    api.on("POST", "/rest/posts", created())  # the page itself answers 404
    connector().publish(page_channel, Outgoing(text="", link="https://cafe-koenigsbau.de/weg"), KEY)
    [post] = api.sent("POST", "/rest/posts")
    assert body(post)["content"]["article"]["title"] == "cafe-koenigsbau.de"


def test_text_over_the_rules_is_refused_before_anything_is_sent(frozen, page_channel, api) -> None:
    with translation.override("en"), pytest.raises(NetworkError) as caught:
        connector().publish(page_channel, Outgoing(text="x" * 3001), KEY)
    assert caught.value.permanent and not caught.value.auth
    assert "Too long for LinkedIn: 3,001 of 3,000 characters" in caught.value.message
    with pytest.raises(NetworkError):
        connector().publish(page_channel, Outgoing(text=""), KEY)
    assert api.requests == []
    assert not OutboundPost.objects.exists()


def test_an_upload_address_outside_linkedin_is_refused(frozen, page_channel, api) -> None:
    name = default_storage.save("media/karte.jpg", ContentFile(b"jpeg"))
    api.on("POST", "/rest/images", httpx.Response(200, json=fixture("image_initialize_elsewhere.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(
            page_channel, Outgoing(text="Karte", media=(MediaItem(path=name, content_type="image/jpeg"),)), KEY
        )
    assert caught.value.permanent
    assert [r.url.host for r in api.requests] == ["api.linkedin.com"]  # the file went nowhere


@pytest.mark.parametrize(
    "status,name,words",
    [(422, "error_422.json", "Duplicate post is detected"), (400, "error_400.json", "Invalid value")],
)
def test_a_validation_error_is_permanent_with_linkedins_message(frozen, page_channel, api, status, name, words) -> None:
    api.on("POST", "/rest/posts", httpx.Response(status, json=fixture(name)))
    with pytest.raises(NetworkError) as caught:
        connector().publish(page_channel, Outgoing(text="Schon gesagt"), KEY)
    error = caught.value
    assert error.permanent and not error.auth and error.retry_after is None and not error.outcome_unknown
    assert words in error.message and f"HTTP {status}" in error.message


def test_a_revoked_token_is_an_auth_error(frozen, page_channel, api) -> None:
    api.on("POST", "/rest/posts", httpx.Response(401, json=fixture("error_401.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(page_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.auth and caught.value.permanent
    assert "revoked" in caught.value.message


def test_a_missing_permission_is_permanent_but_not_a_reconnect(frozen, page_channel, api) -> None:
    api.on("POST", "/rest/posts", httpx.Response(403, json=fixture("error_403.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(page_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.permanent and not caught.value.auth
    assert "ACCESS_DENIED" in caught.value.message


def test_a_429_waits_for_retry_after_or_a_sensible_default(page_channel, api) -> None:
    api.on(
        "POST",
        "/rest/posts",
        httpx.Response(429, json=fixture("error_429.json"), headers={"Retry-After": "120"}),
        httpx.Response(429, json=fixture("error_429.json")),
    )
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(NetworkError) as caught:
            connector().publish(page_channel, Outgoing(text="Hallo"), KEY)
        assert caught.value.retry_after == 120.0 and not caught.value.permanent
        with pytest.raises(NetworkError) as caught:
            connector().publish(page_channel, Outgoing(text="Hallo"), KEY)
        assert caught.value.retry_after == 3600.0  # no Retry-After: an hour
    with time_machine.travel(dt.datetime(2026, 11, 27, 23, 50, tzinfo=dt.UTC), tick=False):
        with pytest.raises(NetworkError) as caught:
            connector().publish(page_channel, Outgoing(text="Hallo"), KEY)
        assert caught.value.retry_after == 660.0  # or just after midnight UTC, when daily limits reset
    assert "MEMBER DAY limit" in caught.value.message


def test_a_server_error_is_transient(frozen, page_channel, api) -> None:
    api.on("POST", "/rest/posts", httpx.Response(500, json=fixture("error_500.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(page_channel, Outgoing(text="Hallo"), KEY)
    assert not caught.value.permanent and not caught.value.outcome_unknown and not caught.value.auth


def test_an_unsupported_api_version_is_permanent_and_says_why(frozen, page_channel, api) -> None:
    api.on("POST", "/rest/posts", httpx.Response(426, json=fixture("error_426.json")))
    with pytest.raises(NetworkError) as caught:
        connector().publish(page_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.permanent and "must be updated" in caught.value.message


def test_a_timeout_after_sending_is_an_unknown_outcome(frozen, page_channel, api) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    api.on("POST", "/rest/posts", timeout)
    with pytest.raises(NetworkError) as caught:
        connector().publish(page_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.outcome_unknown and not caught.value.permanent
    assert OutboundPost.objects.filter(idempotency_key=KEY).exists()  # recorded before sending


def test_an_answer_without_the_post_urn_is_an_unknown_outcome(frozen, page_channel, api) -> None:
    api.on("POST", "/rest/posts", httpx.Response(201))
    with pytest.raises(NetworkError) as caught:
        connector().publish(page_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.outcome_unknown


# --- find_published ------------------------------------------------------------------------------


def record(channel: Channel, text: str, *, minutes_ago: int = 5, in_reply_to: str = "", media: int = 0) -> None:
    OutboundPost.objects.create(
        channel=channel,
        idempotency_key=KEY,
        text_sha256=linkedin_api.text_fingerprint(text),
        in_reply_to=in_reply_to,
        media_count=media,
        sent_at=NOW - dt.timedelta(minutes=minutes_ago),
    )


def test_nothing_recorded_means_nothing_was_sent(frozen, page_channel, api) -> None:
    assert connector().find_published(page_channel, KEY, since=NOW - dt.timedelta(hours=1)) is None
    assert api.requests == []


def test_it_finds_a_post_after_an_unknown_outcome_among_the_authors_posts(frozen, page_channel, api) -> None:
    record(
        page_channel,
        "Frische Franzbrötchen ab 7 Uhr - heute mit #Zimt! https://cafe-koenigsbau.de/karte",
        minutes_ago=8,
    )
    api.on(
        "GET",
        "/rest/posts",
        httpx.Response(200, json=fixture("posts_page1.json")),
        httpx.Response(200, json=fixture("posts_page2.json")),
    )

    found = connector().find_published(page_channel, KEY, since=NOW - dt.timedelta(minutes=9))

    assert found == Remote(
        id="urn:li:share:7270000000000000002",
        url="https://www.linkedin.com/feed/update/urn:li:share:7270000000000000002/",
        published_at=dt.datetime(2026, 11, 27, 10, 2, tzinfo=dt.UTC),
    )
    first, second = api.sent("GET", "/rest/posts")
    assert query(first) == {
        "author": "urn%3Ali%3Aorganization%3A2414183",
        "q": "author",
        "count": "50",
        "start": "0",
        "sortBy": "CREATED",
    }
    assert first.headers["X-RestLi-Method"] == "FINDER"
    assert query(second)["start"] == "2"


def test_hashtag_templates_escapes_and_media_are_compared(frozen, page_channel, api) -> None:
    api.on("GET", "/rest/posts", httpx.Response(200, json=fixture("posts_page1.json")))
    record(page_channel, "Mittagstisch: Linsen mit Spätzle #Stuttgart")
    assert connector().find_published(page_channel, KEY, since=NOW).id == "urn:li:share:7270000000000000004"
    OutboundPost.objects.all().delete()
    record(page_channel, "Neue Karte (ab Montag)", media=1)
    assert connector().find_published(page_channel, KEY, since=NOW).id == "urn:li:ugcPost:7270000000000000003"
    OutboundPost.objects.all().delete()
    record(page_channel, "Neue Karte (ab Montag)", media=0)  # same text, no image: not this post
    api.on(
        "GET",
        "/rest/posts",
        httpx.Response(200, json=fixture("posts_page1.json")),
        httpx.Response(200, json=fixture("posts_page2.json")),
    )
    assert connector().find_published(page_channel, KEY, since=NOW) is None


def test_a_post_that_is_not_there_is_not_found_once_the_list_reaches_back_past_the_send(
    frozen, page_channel, api
) -> None:
    record(page_channel, "Das haben wir nie gepostet", minutes_ago=6)
    api.on(
        "GET",
        "/rest/posts",
        httpx.Response(200, json=fixture("posts_page1.json")),
        httpx.Response(200, json=fixture("posts_page2.json")),
    )
    assert connector().find_published(page_channel, KEY, since=NOW - dt.timedelta(minutes=6)) is None
    assert len(api.sent("GET", "/rest/posts")) == 2


def test_a_very_fresh_send_is_looked_for_again_later(frozen, page_channel, api) -> None:
    record(page_channel, "Hallo", minutes_ago=0)
    with pytest.raises(NetworkError) as caught:
        connector().find_published(page_channel, KEY, since=NOW)
    assert caught.value.retry_after == 60 and not caught.value.permanent
    assert api.requests == []


def test_a_profile_without_read_access_cannot_be_reconciled_and_says_so(frozen, member_channel, api) -> None:
    record(member_channel, "Hallo")
    with pytest.raises(NetworkError) as caught:
        connector().find_published(member_channel, KEY, since=NOW)
    assert caught.value.permanent and not caught.value.auth
    assert api.requests == []  # r_member_social is not granted: not even asked


def test_a_profile_with_read_access_is_searched(frozen, member_channel, api) -> None:
    member_channel.network_data = {**member_channel.network_data, "scopes": ["r_member_social", "w_member_social"]}
    member_channel.save()
    record(member_channel, "Schöne Woche!", minutes_ago=5)
    api.on("GET", "/rest/posts", httpx.Response(200, json=fixture("posts_empty.json")))
    assert connector().find_published(member_channel, KEY, since=NOW - dt.timedelta(minutes=5)) is None
    assert query(api.requests[0])["author"] == "urn%3Ali%3Aperson%3A782bbtaQ"


def test_several_matching_posts_without_text_are_not_guessed(frozen, page_channel, api) -> None:
    record(page_channel, "", media=1)
    image = {"media": {"id": "urn:li:image:D4D10AQGhXpdHeVKeCQ"}}
    posts = fixture("posts_empty.json")
    posts["elements"] = [
        {"id": f"urn:li:share:{n}", "commentary": "", "createdAt": 1795774000000 - n, "content": image} for n in (1, 2)
    ]
    api.on("GET", "/rest/posts", httpx.Response(200, json=posts))
    with pytest.raises(NetworkError) as caught:
        connector().find_published(page_channel, KEY, since=NOW)
    assert caught.value.permanent


def test_it_finds_a_first_comment_among_the_comments(frozen, page_channel, api) -> None:
    record(page_channel, "Danke euch allen!", in_reply_to=POST_URN)
    api.on(
        "GET",
        f"/rest/socialActions/{POST_URN}/comments",
        httpx.Response(200, json=fixture("comments_page1.json")),
        httpx.Response(200, json=fixture("comments_page2.json")),
    )
    found = connector().find_published(page_channel, KEY, since=NOW - dt.timedelta(hours=1))
    assert found is not None and found.id == f"urn:li:comment:({THREAD},7270000000000000203)"
    first = api.requests[0]
    assert first.url.raw_path.startswith(b"/rest/socialActions/urn%3Ali%3Ashare%3A7270000000000000004/comments?")


# --- reply, delete -------------------------------------------------------------------------------


def test_it_replies_to_a_post_with_a_comment(frozen, page_channel, api) -> None:
    api.on(
        "POST", f"/rest/socialActions/{POST_URN}/comments", httpx.Response(201, json=fixture("comment_created.json"))
    )

    remote = connector().reply(page_channel, Remote(id=POST_URN), "Danke! Ab 7 Uhr (auch sonntags).", KEY)

    comment_urn = f"urn:li:comment:({THREAD},7270000000000000555)"
    assert remote.id == comment_urn and remote.published_at == NOW
    assert remote.url.startswith(f"https://www.linkedin.com/feed/update/{THREAD}/?commentUrn=urn%3Ali%3Acomment%3A")
    [request] = api.requests
    assert request.url.raw_path == b"/rest/socialActions/urn%3Ali%3Ashare%3A7270000000000000004/comments"
    assert body(request) == {
        "actor": ORG_URN,
        "object": POST_URN,
        "message": {"text": r"Danke! Ab 7 Uhr \(auch sonntags\)."},
    }
    assert OutboundPost.objects.get(idempotency_key=KEY).in_reply_to == POST_URN


def test_it_answers_a_comment_in_its_thread(frozen, page_channel, api) -> None:
    api.on(
        "POST", f"/rest/socialActions/{COMMENT_URN}/comments", httpx.Response(201, json=fixture("comment_created.json"))
    )
    connector().reply(page_channel, Remote(id=COMMENT_URN), "Ja, freitags!", KEY)
    [request] = api.requests
    assert body(request) == {
        "actor": ORG_URN,
        "object": THREAD,
        "message": {"text": "Ja, freitags!"},
        "parentComment": COMMENT_URN,
    }
    assert b"urn%3Ali%3Acomment%3A%28urn%3Ali%3Aactivity%3A7270000000000000100%2C" in request.url.raw_path


def test_it_deletes_posts_and_comments_and_gone_is_done(frozen, page_channel, api) -> None:
    api.on("DELETE", f"/rest/posts/{POST_URN}", httpx.Response(204))
    api.on("DELETE", f"/rest/socialActions/{THREAD}/comments/7270000000000000201", httpx.Response(204))

    connector().delete(page_channel, Remote(id=POST_URN))
    connector().delete(page_channel, Remote(id=COMMENT_URN))
    connector().delete(page_channel, Remote(id="urn:li:share:1"))  # 404: already gone

    post, comment, _gone = api.requests
    assert post.url.raw_path == b"/rest/posts/urn%3Ali%3Ashare%3A7270000000000000004"
    assert post.headers["X-RestLi-Method"] == "DELETE"
    assert query(comment) == {"actor": "urn%3Ali%3Aorganization%3A2414183"}
    api.on("DELETE", "/rest/posts/urn:li:share:2", httpx.Response(403, json=fixture("error_403.json")))
    with pytest.raises(NetworkError) as caught:
        connector().delete(page_channel, Remote(id="urn:li:share:2"))
    assert caught.value.permanent


# --- activity ------------------------------------------------------------------------------------


def activity_api(api) -> None:
    posts = fixture("posts_page1.json")
    posts["elements"] = posts["elements"][:1]  # one post with comments
    api.on("GET", "/rest/posts", httpx.Response(200, json=posts))
    api.on(
        "GET",
        f"/rest/socialActions/{POST_URN}/comments",
        httpx.Response(200, json=fixture("comments_page1.json")),
        httpx.Response(200, json=fixture("comments_page2.json")),
    )
    api.on(
        "GET", f"/rest/socialActions/{COMMENT_URN}/comments", httpx.Response(200, json=fixture("comment_replies.json"))
    )
    api.on(
        "GET",
        "/rest/organizationalEntityFollowerStatistics",
        httpx.Response(200, json=fixture("follower_statistics.json")),
    )


def test_it_reads_comments_page_by_page_with_answers_and_follower_gains(frozen, page_channel, api) -> None:
    activity_api(api)

    events, cursor = connector().fetch_activity(page_channel, {})

    assert [(e.kind, e.remote_id.rsplit(",", 1)[-1]) for e in events] == [
        ("follow", "followers:2026-11-24"),
        ("unfollow", "followers:2026-11-26"),
        ("comment", "7270000000000000201)"),
        ("comment", "7270000000000000202)"),
        ("reply", "7270000000000000302)"),
    ]
    follow, unfollow, question, praise, answer = events
    assert follow.data == {"count": 3, "organic": 3, "paid": 0}
    assert unfollow.data == {"count": 1, "organic": -1, "paid": 0}
    assert question.text == "Gibt es das auch vegan?" and question.author_id == "urn:li:person:Xk3bT9wQ"
    assert (question.in_reply_to, question.post_remote_id) == (POST_URN, POST_URN)
    assert question.occurred_at == dt.datetime(2026, 11, 27, 9, 50, tzinfo=dt.UTC)
    assert praise.text == "Lecker! (war gestern da)"
    assert (answer.in_reply_to, answer.post_remote_id) == (COMMENT_URN, POST_URN)
    assert answer.data["url"].startswith(f"https://www.linkedin.com/feed/update/{THREAD}/?commentUrn=")
    # Our own comment (…203) and our own answer (…301) are not activity.
    comment_pages = api.sent("GET", f"/rest/socialActions/{POST_URN}/comments")
    assert [query(r)["start"] for r in comment_pages] == ["0", "2"]
    [stats] = api.sent("GET", "/rest/organizationalEntityFollowerStatistics")
    assert (
        query(stats)["timeIntervals"] == "(timeRange:(start:1795132800000,end:1795737600000),timeGranularityType:DAY)"
    )
    assert cursor == {"since": 1795773400000, "followers_until": "2026-11-26"}

    activity_api(api)
    again, cursor_again = connector().fetch_activity(page_channel, cursor)
    assert again == [] and cursor_again == cursor
    assert len(api.sent("GET", "/rest/organizationalEntityFollowerStatistics")) == 1  # yesterday is done


def test_a_profile_without_read_access_reports_no_activity_and_asks_nothing(frozen, member_channel, api) -> None:
    assert connector().fetch_activity(member_channel, {"since": 5}) == ([], {"since": 5})
    assert api.requests == []


def test_a_content_admin_gets_comments_but_no_follower_statistics(frozen, page_channel, api) -> None:
    page_channel.network_data = {**page_channel.network_data, "role": "CONTENT_ADMINISTRATOR"}
    page_channel.save()
    activity_api(api)
    events, cursor = connector().fetch_activity(page_channel, {})
    assert {e.kind for e in events} == {"comment", "reply"}
    assert "followers_until" not in cursor
    assert api.sent("GET", "/rest/organizationalEntityFollowerStatistics") == []


# --- metrics -------------------------------------------------------------------------------------


def test_page_metrics_combine_social_metadata_share_statistics_and_followers(frozen, page_channel, api) -> None:
    ugc = "urn:li:ugcPost:7270000000000000003"
    api.on("GET", f"/rest/socialMetadata/{POST_URN}", httpx.Response(200, json=fixture("social_metadata.json")))
    api.on("GET", f"/rest/socialMetadata/{ugc}", httpx.Response(404, json=fixture("error_404.json")))
    api.on(
        "GET", "/rest/organizationalEntityShareStatistics", httpx.Response(200, json=fixture("share_statistics.json"))
    )
    api.on("GET", f"/rest/networkSizes/{ORG_URN}", httpx.Response(200, json=fixture("network_size.json")))

    metrics = connector().fetch_metrics(page_channel, [Remote(id=POST_URN), Remote(id=ugc)])

    assert metrics == [
        Metric(
            remote_id=POST_URN,
            observed_at=NOW,
            values={"likes": 17, "comments": 4, "views": 1034, "reach": 812, "clicks": 27, "shares": 5},
        ),
        Metric(
            remote_id=ugc,
            observed_at=NOW,
            values={"views": 301, "reach": 240, "clicks": 3, "shares": 1, "likes": 6, "comments": 0},
        ),
        Metric(remote_id=ORG_URN, observed_at=NOW, values={"followers": 1873}),
    ]
    [stats] = api.sent("GET", "/rest/organizationalEntityShareStatistics")
    assert query(stats) == {
        "q": "organizationalEntity",
        "organizationalEntity": "urn%3Ali%3Aorganization%3A2414183",
        "shares": "List(urn%3Ali%3Ashare%3A7270000000000000004)",
        "ugcPosts": "List(urn%3Ali%3AugcPost%3A7270000000000000003)",
    }
    [size] = api.sent("GET", f"/rest/networkSizes/{ORG_URN}")
    assert query(size) == {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"}


def test_member_metrics_come_from_member_post_analytics(frozen, member_channel, api) -> None:
    member_channel.network_data = {
        **member_channel.network_data,
        "scopes": ["r_member_postAnalytics", "r_member_profileAnalytics", "w_member_social"],
    }
    member_channel.save()
    counts = {"IMPRESSION": 950, "MEMBERS_REACHED": 610, "RESHARE": 2, "REACTION": 31, "COMMENT": 7}

    def analytics(request: httpx.Request) -> httpx.Response:
        answer = fixture("member_post_analytics.json")
        answer["elements"][0]["count"] = counts[request.url.params["queryType"]]
        return httpx.Response(200, json=answer)

    api.on("GET", "/rest/memberCreatorPostAnalytics", analytics)
    api.on("GET", "/rest/memberFollowersCount", httpx.Response(200, json=fixture("member_followers_count.json")))

    metrics = connector().fetch_metrics(member_channel, [Remote(id="urn:li:ugcPost:7270000000000000011")])

    assert metrics == [
        Metric(
            remote_id="urn:li:ugcPost:7270000000000000011",
            observed_at=NOW,
            values={"views": 950, "reach": 610, "shares": 2, "likes": 31, "comments": 7},
        ),
        Metric(remote_id=MEMBER_URN, observed_at=NOW, values={"followers": 642}),
    ]
    first = api.sent("GET", "/rest/memberCreatorPostAnalytics")[0]
    assert query(first) == {
        "q": "entity",
        "entity": "(ugc:urn%3Ali%3AugcPost%3A7270000000000000011)",
        "queryType": "IMPRESSION",
        "aggregation": "TOTAL",
    }
    assert api.sent("GET", "/rest/socialMetadata/urn:li:ugcPost:7270000000000000011") == []  # needs r_member_social


def test_a_profile_without_analytics_permissions_has_no_metrics(frozen, member_channel, api) -> None:
    assert connector().fetch_metrics(member_channel, [Remote(id=POST_URN)]) == []
    assert api.requests == []


# --- tokens --------------------------------------------------------------------------------------


def test_refresh_keeps_the_refresh_token_when_the_answer_has_none(frozen, page_channel, api) -> None:
    api.on(
        "POST", "/oauth/v2/accessToken", httpx.Response(200, json=fixture("token_refreshed_without_refresh_token.json"))
    )
    before = page_channel.token_expires_at

    credentials = connector().refresh_credentials(page_channel)

    assert credentials["access_token"] == fixture("token_refreshed_without_refresh_token.json")["access_token"]
    assert credentials["refresh_token"] == REFRESH
    page_channel.refresh_from_db()
    assert page_channel.credentials["refresh_token"] == REFRESH
    assert page_channel.token_expires_at == before  # the refresh token's end did not move
    assert dt.datetime.fromisoformat(page_channel.credentials["expires_at"]) == NOW + dt.timedelta(days=60)
    [request] = api.requests
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def test_refresh_takes_the_refresh_tokens_remaining_lifetime(frozen, page_channel, api) -> None:
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(200, json=fixture("token_refreshed.json")))
    connector().refresh_credentials(page_channel)
    page_channel.refresh_from_db()
    assert page_channel.token_expires_at == NOW + dt.timedelta(seconds=26352000)  # 305 days


def test_an_access_token_about_to_expire_is_refreshed_before_the_call(frozen, page_channel, api) -> None:
    page_channel.credentials = {**page_channel.credentials, "expires_at": (NOW + dt.timedelta(hours=3)).isoformat()}
    page_channel.save()
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(200, json=fixture("token_refreshed.json")))
    api.on("POST", "/rest/posts", created())

    connector().publish(page_channel, Outgoing(text="Hallo"), KEY)

    token_call, post = api.requests
    assert token_call.url.path == "/oauth/v2/accessToken"
    assert post.headers["Authorization"] == f"Bearer {fixture('token_refreshed.json')['access_token']}"


def test_a_rejected_refresh_token_asks_for_reconnection_and_no_refresh_token_is_explained(
    frozen, page_channel, api
) -> None:
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(400, json=fixture("token_invalid_refresh.json")))
    with pytest.raises(NetworkError) as caught:
        connector().refresh_credentials(page_channel)
    assert caught.value.auth
    page_channel.refresh_from_db()
    assert page_channel.credentials["refresh_token"] == REFRESH  # left alone

    page_channel.credentials = {"access_token": ACCESS, "expires_at": (NOW + dt.timedelta(days=3)).isoformat()}
    page_channel.save()
    with pytest.raises(NetworkError) as caught:
        connector().refresh_credentials(page_channel)
    assert caught.value.permanent and not caught.value.auth
    assert len(api.requests) == 1


def test_a_network_hiccup_during_refresh_is_transient(frozen, page_channel, api) -> None:
    api.on("POST", "/oauth/v2/accessToken", httpx.Response(503, json=fixture("error_500.json")))
    with pytest.raises(NetworkError) as caught:
        connector().refresh_credentials(page_channel)
    assert not caught.value.permanent and not caught.value.auth


def test_an_expired_access_without_refresh_token_asks_for_reconnection(frozen, member_channel, api) -> None:
    member_channel.credentials = {"access_token": ACCESS, "expires_at": (NOW - dt.timedelta(minutes=1)).isoformat()}
    member_channel.save()
    with pytest.raises(NetworkError) as caught:
        connector().publish(member_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.auth
    assert api.requests == []


def test_a_content_admin_gets_post_counts_even_when_the_follower_count_is_refused(frozen, page_channel, api) -> None:
    page_channel.network_data = {**page_channel.network_data, "role": "CONTENT_ADMINISTRATOR"}
    page_channel.save()
    api.on("GET", f"/rest/socialMetadata/{POST_URN}", httpx.Response(200, json=fixture("social_metadata.json")))
    api.on("GET", f"/rest/networkSizes/{ORG_URN}", httpx.Response(403, json=fixture("error_403.json")))

    metrics = connector().fetch_metrics(page_channel, [Remote(id=POST_URN)])

    assert metrics == [Metric(remote_id=POST_URN, observed_at=NOW, values={"likes": 17, "comments": 4})]
    assert api.sent("GET", "/rest/organizationalEntityShareStatistics") == []  # super admins only
