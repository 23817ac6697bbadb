"""The Bluesky connector against a real AT Protocol network: the official @atproto/dev-env (PLC
directory, PDS, Bluesky AppView) on 127.0.0.1, started for the session by `atproto_network`
(local_network.py; `make atproto` installs it, .ci/run requires it).

Stammtisch connects the café's account with an app password, publishes a post with an image, and
a guest account (made with plain XRPC calls) replies, likes, reposts, follows, mentions and
quotes the café. The AppView indexes the PDS's events asynchronously, so every read that depends on them
polls until a deadline instead of reading once.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from stammtisch.core.actions import ActionError, Actor
from stammtisch.devtools.atproto.network import LocalNetwork
from stammtisch.networks.base import Event, MediaItem, Metric, Outgoing, Remote
from stammtisch.networks.bluesky import api
from stammtisch.networks.bluesky.actions import do_connect_bluesky_channel
from stammtisch.networks.bluesky.connector import BlueskyNetwork
from stammtisch.networks.bluesky.tests.local_network import atproto_network  # noqa: F401 (the fixture)
from stammtisch.networks.registry import get_network

pytestmark = [pytest.mark.atproto, pytest.mark.timeout(600)]

T = TypeVar("T")
PASSWORD = "stammtisch-local-network"
POST_KEY = "real-network-post"
REPLY_KEY = "real-network-reply"
DEADLINE = 30.0  # seconds for the AppView to catch up; it usually needs well under one


@pytest.fixture(autouse=True)
def fake_dns() -> None:
    """The package's conftest answers DNS with made-up addresses; this module talks to the real
    network on 127.0.0.1, so nothing is faked here."""


def eventually(read: Callable[[], T], done: Callable[[T], bool], what: str) -> T:
    """Read until `done(value)` or the deadline; then fail with the last value seen."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {DEADLINE:.0f} s; last seen: {value!r}")
        time.sleep(0.2)


def now() -> str:
    return api.format_time(timezone.now())


@dataclass
class Account:
    """An account on the local PDS, driven with plain XRPC calls (not through Stammtisch)."""

    http: httpx.Client
    handle: str
    did: str

    @classmethod
    def sign_up(cls, pds: str, name: str) -> Account:
        http = httpx.Client(base_url=pds, timeout=30)
        handle = f"{name}-{secrets.token_hex(3)}.test"  # the dev PDS serves .test handles
        body = {"handle": handle, "email": f"{handle}@example.org", "password": PASSWORD}
        session = http.post("/xrpc/com.atproto.server.createAccount", json=body).raise_for_status().json()
        http.headers["Authorization"] = f"Bearer {session['accessJwt']}"
        return cls(http=http, handle=handle, did=session["did"])

    def call(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, f"/xrpc/{nsid}", **kwargs)
        assert response.is_success, f"{nsid}: HTTP {response.status_code} {response.text}"
        return response.json()

    def create(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        payload = {"repo": self.did, "collection": collection, "record": {"$type": collection, **record}}
        return self.call("POST", "com.atproto.repo.createRecord", json=payload)

    def posts(self, uri: str) -> list[dict[str, Any]]:
        return self.call("GET", "app.bsky.feed.getPosts", params={"uris": [uri]})["posts"]

    def record(self, uri: str) -> httpx.Response:
        repo, collection, rkey = api.split_uri(uri)
        params = {"repo": repo, "collection": collection, "rkey": rkey}
        return self.http.get("/xrpc/com.atproto.repo.getRecord", params=params)


@dataclass
class Accounts:
    pds: str
    cafe: Account  # connected to Stammtisch
    guest: Account  # someone on Bluesky


@pytest.fixture
def accounts(atproto_network: LocalNetwork) -> Iterator[Accounts]:  # noqa: F811 (the fixture imported above)
    pds = atproto_network.pds_url
    cafe, guest = Account.sign_up(pds, "cafe"), Account.sign_up(pds, "gast")
    yield Accounts(pds=pds, cafe=cafe, guest=guest)
    cafe.http.close()
    guest.http.close()


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "#c0392b").save(out, "PNG")
    return out.getvalue()


def kinds(events: list[Event]) -> set[str]:
    return {event.kind for event in events}


def by_remote_id(metrics: list[Metric]) -> dict[str, dict[str, int]]:
    return {metric.remote_id: metric.values for metric in metrics}


def test_a_channel_publishes_hears_back_replies_measures_and_deletes(cast, settings, accounts: Accounts) -> None:
    pds, cafe, guest = accounts.pds, accounts.cafe, accounts.guest
    bluesky = get_network("bluesky")
    assert isinstance(bluesky, BlueskyNetwork)
    app_password = cafe.call("POST", "com.atproto.server.createAppPassword", json={"name": "Stammtisch"})["password"]
    connect = {"identifier": cafe.handle, "app_password": app_password, "pds": pds}

    # The SSRF guard keeps a PDS on a loopback address out, as in production ...
    with pytest.raises(ActionError):
        do_connect_bluesky_channel(Actor(user=cast.alice), cast.workspace, **connect)
    # ... so this test, and only this test, allows private addresses.
    settings.HTTP_ALLOW_PRIVATE = True

    channel = do_connect_bluesky_channel(Actor(user=cast.alice), cast.workspace, **connect)

    assert (channel.network, channel.handle, channel.remote_account_id) == ("bluesky", cafe.handle, cafe.did)
    assert channel.network_data["pds"] == pds
    assert channel.token_expires_at is not None and channel.token_expires_at > timezone.now() + dt.timedelta(days=1)

    # Publish text with an image, a mention, a hashtag and a link.
    since = timezone.now()
    image = default_storage.save("media/neue-karte.png", ContentFile(png(120, 80)))
    item = MediaItem(image, "image/png", "Die neue Herbstkarte", width=120, height=80)
    outgoing = Outgoing(
        text=f"Ab heute: die Herbstkarte! Danke @{guest.handle} #Zwiebelkuchen",
        media=(item,),
        link="https://example.org/karte",
    )
    post = bluesky.publish(channel, outgoing, POST_KEY)

    assert post.id.startswith(f"at://{cafe.did}/app.bsky.feed.post/")
    stored = cafe.record(post.id).raise_for_status().json()["value"]
    assert stored["text"].endswith("\n\nhttps://example.org/karte")
    features = {feature["$type"]: feature for facet in stored["facets"] for feature in facet["features"]}
    assert features["app.bsky.richtext.facet#mention"]["did"] == guest.did
    assert features["app.bsky.richtext.facet#tag"]["tag"] == "Zwiebelkuchen"
    assert features["app.bsky.richtext.facet#link"]["uri"] == "https://example.org/karte"
    picture = stored["embed"]["images"][0]
    assert (picture["alt"], picture["aspectRatio"]) == ("Die neue Herbstkarte", {"width": 120, "height": 80})
    assert picture["image"]["mimeType"] == "image/png"

    # Sending again with the same idempotency key (a retry) gives the same post, not a second one.
    assert bluesky.publish(channel, outgoing, POST_KEY).id == post.id
    listed = cafe.call(
        "GET", "com.atproto.repo.listRecords", params={"repo": cafe.did, "collection": api.POST_COLLECTION}
    )
    assert [record["uri"] for record in listed["records"]] == [post.id]

    # The guest answers. A reply indexed before its parent never notifies, so wait until the
    # AppView knows the post (as a person would have seen it before replying).
    seen = eventually(lambda: guest.posts(post.id), lambda posts: len(posts) == 1, "the AppView shows the post")
    assert seen[0]["embed"]["images"][0]["alt"] == "Die neue Herbstkarte"
    subject = {"uri": post.id, "cid": seen[0]["cid"]}
    comment = guest.create(
        api.POST_COLLECTION,
        {
            "text": "Wir kommen am Freitag!",
            "createdAt": now(),
            "langs": ["de"],
            "reply": {"root": subject, "parent": subject},
        },
    )
    like = guest.create("app.bsky.feed.like", {"subject": subject, "createdAt": now()})
    repost = guest.create("app.bsky.feed.repost", {"subject": subject, "createdAt": now()})
    follow = guest.create("app.bsky.graph.follow", {"subject": cafe.did, "createdAt": now()})
    handle = f"@{cafe.handle}"
    text = f"Kennt ihr schon {handle}?"
    start = len(text.split(handle)[0].encode())
    mention_facet = {
        "index": {"byteStart": start, "byteEnd": start + len(handle.encode())},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": cafe.did}],
    }
    mention = guest.create(api.POST_COLLECTION, {"text": text, "createdAt": now(), "facets": [mention_facet]})
    quote = guest.create(
        api.POST_COLLECTION,
        {"text": "Schaut mal!", "createdAt": now(), "embed": {"$type": "app.bsky.embed.record", "record": subject}},
    )

    # fetch_activity reports each of them (a quote is a mention with our post attached).
    wanted = {"comment", "like", "share", "follow", "mention"}
    events, cursor = eventually(
        lambda: bluesky.fetch_activity(channel, {}),
        lambda result: wanted <= kinds(result[0]) and len(result[0]) == 6,
        "fetch_activity",
    )
    found = {event.kind: event for event in events if event.data.get("reason") != "quote"}
    quoted = next(event for event in events if event.data.get("reason") == "quote")
    assert sorted(event.kind for event in events) == ["comment", "follow", "like", "mention", "mention", "share"]
    assert all(event.author_id == guest.did and event.author_handle == guest.handle for event in events)
    assert (found["comment"].remote_id, found["comment"].text) == (comment["uri"], "Wir kommen am Freitag!")
    assert (found["comment"].in_reply_to, found["comment"].post_remote_id) == (post.id, post.id)
    assert found["comment"].author_language == "de"
    assert (found["like"].remote_id, found["like"].post_remote_id) == (like["uri"], post.id)
    assert (found["share"].remote_id, found["share"].post_remote_id) == (repost["uri"], post.id)
    assert found["follow"].remote_id == follow["uri"]
    assert (found["mention"].remote_id, found["mention"].text) == (mention["uri"], text)
    assert (quoted.kind, quoted.remote_id, quoted.text) == ("mention", quote["uri"], "Schaut mal!")
    assert (quoted.post_remote_id, quoted.data["quote_of"]) == (post.id, post.id)
    assert all(since - dt.timedelta(seconds=5) <= event.occurred_at <= timezone.now() for event in events)
    # The next sync starts where this one stopped: nothing new, nothing lost.
    again, _cursor = bluesky.fetch_activity(channel, cursor)
    assert {event.remote_id for event in again} <= {event.remote_id for event in events}

    # Stammtisch answers the guest's comment, in the thread of our post.
    answer = bluesky.reply(channel, Remote(id=comment["uri"]), "Wir freuen uns auf euch!", REPLY_KEY)
    assert answer.id.startswith(f"at://{cafe.did}/app.bsky.feed.post/") and answer.id != post.id
    reply_record = cafe.record(answer.id).raise_for_status().json()["value"]
    assert reply_record["reply"]["parent"] == {"uri": comment["uri"], "cid": comment["cid"]}
    assert reply_record["reply"]["root"] == subject
    notified = eventually(
        lambda: guest.call("GET", "app.bsky.notification.listNotifications")["notifications"],
        lambda items: any(item["reason"] == "reply" and item["uri"] == answer.id for item in items),
        "the guest is notified of our reply",
    )
    assert next(item for item in notified if item["uri"] == answer.id)["author"]["did"] == cafe.did

    # fetch_metrics counts the likes, reposts, replies and quotes of the post, and the followers.
    expected_post = {"likes": 1, "shares": 1, "comments": 1, "quotes": 1}
    expected_account = {"followers": 1, "following": 0, "posts": 2}
    metrics = eventually(
        lambda: by_remote_id(bluesky.fetch_metrics(channel, [post])),
        lambda values: values.get(post.id) == expected_post and values.get(cafe.did) == expected_account,
        "fetch_metrics",
    )
    assert set(metrics) == {post.id, cafe.did}

    # A worker refreshes the session before it runs out; the PDS rotates the refresh token.
    old = dict(channel.credentials)
    bluesky.refresh_credentials(channel)
    channel.refresh_from_db()
    assert channel.credentials["access_jwt"] != old["access_jwt"]
    assert channel.credentials["refresh_jwt"] and channel.credentials["refresh_jwt"] != old["refresh_jwt"]

    # find_published finds the post by its idempotency key (the new session works) ...
    published = bluesky.find_published(channel, POST_KEY, since)
    assert published is not None and published.id == post.id
    assert published.published_at is not None and abs(published.published_at - since) < dt.timedelta(minutes=1)

    # ... and after delete it is gone: on the PDS at once, from the AppView eventually.
    bluesky.delete(channel, post)
    assert bluesky.find_published(channel, POST_KEY, since) is None
    assert cafe.record(post.id).status_code == 400
    eventually(lambda: guest.posts(post.id), lambda posts: posts == [], "the AppView drops the deleted post")
    eventually(
        lambda: by_remote_id(bluesky.fetch_metrics(channel, [post])),
        lambda values: set(values) == {cafe.did} and values[cafe.did]["posts"] == 1,
        "fetch_metrics leaves out the deleted post",
    )
