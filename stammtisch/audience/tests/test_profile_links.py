"""Links between profiles: what the networks' payloads say about an author's profile is kept as
`ProfileLink` rows when the inbox stores their activity, and two people whose accounts link to
each other are suggested for a merge."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from stammtisch.audience import actions, consume, suggest
from stammtisch.audience.models import Identity, Person, ProfileLink
from stammtisch.audience.profiles import profile_of
from stammtisch.audience.tests.conftest import NOW, message
from stammtisch.core.actions import Actor
from stammtisch.core.tests.clients import english_client
from stammtisch.inbox import ingest
from stammtisch.networks.base import Event
from stammtisch.networks.bluesky.connector import BlueskyNetwork
from stammtisch.networks.mastodon.connector import MastodonNetwork
from stammtisch.networks.models import Channel

# A follow notification as Mastodon documents it (https://docs.joinmastodon.org/entities/Notification/
# with its Account, https://docs.joinmastodon.org/entities/Account/: `note` and `fields` are HTML).
MASTODON_FOLLOW = {
    "id": "34975999",
    "type": "follow",
    "created_at": "2026-05-04T10:20:00.000Z",
    "account": {
        "id": "297421",
        "username": "max",
        "acct": "max",
        "display_name": "Max Mustermann",
        "url": "https://social.example/@max",
        "note": (
            '<p>Kaffee, Kuchen, <a href="https://social.example/tags/stuttgart" class="mention hashtag">'
            "#<span>stuttgart</span></a></p>"
        ),
        "fields": [
            {
                "name": "Website",
                "value": '<a href="https://maxmustermann.example" rel="nofollow noopener me">maxmustermann.example</a>',
            },
            {
                "name": "X",
                "value": '<a href="https://x.com/Maxi_M" rel="nofollow noopener me">x.com/Maxi_M</a>',
            },
        ],
    },
}
# A Bluesky follow notification (app.bsky.notification.listNotifications: `author` is a profile view
# with its `description`).
BLUESKY_FOLLOW = {
    "uri": "at://did:plc:maxi/app.bsky.graph.follow/3lbq",
    "cid": "bafyfollow",
    "author": {
        "did": "did:plc:maxi",
        "handle": "maxi.bsky.social",
        "displayName": "Max M.",
        "description": "Stuttgart. Auch auf Mastodon: https://social.example/@max und x.com/maxi_m.",
    },
    "reason": "follow",
    "record": {},
    "isRead": False,
    "indexedAt": "2026-05-04T10:30:00.000Z",
}


@pytest.fixture
def mastodon(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace,
        network="mastodon",
        handle="koenigsbau@social.example",
        remote_account_id="109876",
        display_name="Café (Mastodon)",
    )


@pytest.fixture
def x(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace, network="x", handle="koenigsbau", remote_account_id="x-us", display_name="Café (X)"
    )


def test_profile_pages_of_the_networks_are_recognised() -> None:
    assert profile_of("https://x.com/Maxi_M") == ("x", "maxi_m")
    assert profile_of("https://twitter.com/maxi_m?s=21") == ("x", "maxi_m")
    assert profile_of("https://www.instagram.com/maxi.m/") == ("instagram", "maxi.m")
    assert profile_of("https://bsky.app/profile/maxi.bsky.social") == ("bluesky", "maxi.bsky.social")
    assert profile_of("https://www.threads.net/@maxi") == ("threads", "maxi")
    assert profile_of("https://social.example/@Max") == ("mastodon", "max@social.example")
    assert profile_of("https://www.linkedin.com/in/max-mustermann") == ("linkedin", "max-mustermann")
    assert profile_of("https://t.me/maxi") == ("telegram", "maxi")
    with override_settings(BASE_URL="https://stammtisch.example"):
        assert profile_of("https://stammtisch.example/sandbox/anna.schmidt12/") == ("sandbox", "anna.schmidt12")
    for other in (
        "https://maxmustermann.example",
        "https://x.com/intent/follow",
        "https://x.com/maxi/status/1",
        "https://social.example/tags/stuttgart",
        "https://bsky.app/profile/did:plc:maxi",
        "javascript:alert(1)",
        "https://x.com/<script>",
    ):
        assert profile_of(other) is None, other


def test_a_mastodon_profile_linking_to_an_x_account_suggests_a_merge(cast, mastodon, x) -> None:
    event = MastodonNetwork._event(MASTODON_FOLLOW, mastodon, "social.example")
    assert event is not None and event.data["author_links"] == ["https://maxmustermann.example", "https://x.com/Maxi_M"]
    ingest.store_events(mastodon, [event], now=NOW)
    message(x, author_id="x-42", handle="Maxi_M", name="Maxi")  # the same human, on X
    message(x, author_id="x-43", handle="someone", name="Someone else")
    consume.consume(NOW)

    stored = ProfileLink.objects.order_by("url")
    assert [(link.remote_id, link.url, link.to_network, link.to_handle) for link in stored] == [
        ("297421", "https://maxmustermann.example", "", ""),
        ("297421", "https://x.com/Maxi_M", "x", "maxi_m"),
    ]
    on_mastodon = Person.objects.get(identities__network="mastodon")
    on_x = Person.objects.get(identities__handle="Maxi_M")
    found = [s for s in suggest.suggestions(cast.workspace) if s.reason == "links"]
    assert [{p.pk for p in s.people} for s in found] == [{on_mastodon.pk, on_x.pk}]

    page = english_client(cast.anna).get("/w/cafe-koenigsbau/people/suggestions/").content.decode()
    assert 'data-reason="links"' in page and "One's profile links to the other's" in page
    profile = english_client(cast.anna).get(f"/w/cafe-koenigsbau/people/{on_mastodon.pk}/").content.decode()
    assert "<span data-profile-link>https://x.com/Maxi_M</span>" in profile  # shown, not linked: untrusted

    actions.do_merge_people(Actor(user=cast.bob), on_mastodon, on_x)
    assert not [s for s in suggest.suggestions(cast.workspace) if s.reason == "links"]


def test_a_bluesky_bio_names_accounts_on_other_networks(cast, mastodon) -> None:
    bluesky = Channel.objects.create(
        workspace=cast.workspace, network="bluesky", handle="koenigsbau.bsky.social", remote_account_id="did:plc:us"
    )
    event = BlueskyNetwork._event(BLUESKY_FOLLOW, bluesky)
    assert event is not None
    assert event.data["author_links"] == ["https://social.example/@max", "https://x.com/maxi_m"]
    ingest.store_events(bluesky, [event], now=NOW)
    ingest.store_events(mastodon, [MastodonNetwork._event(MASTODON_FOLLOW, mastodon, "social.example")], now=NOW)
    consume.consume(NOW)
    found = [s for s in suggest.suggestions(cast.workspace) if s.reason == "links"]
    assert len(found) == 1 and {p.display_name for p in found[0].people} == {"Max M.", "Max Mustermann"}


def test_a_newer_profile_replaces_the_stored_links(cast, mastodon) -> None:
    ingest.store_events(mastodon, [MastodonNetwork._event(MASTODON_FOLLOW, mastodon, "social.example")], now=NOW)
    changed = {**MASTODON_FOLLOW, "id": "34976000", "type": "favourite", "status": {"id": "1"}}
    changed["account"] = {**MASTODON_FOLLOW["account"], "fields": []}
    event = MastodonNetwork._event(changed, mastodon, "social.example")
    assert event is not None and event.data["author_links"] == []
    ingest.store_events(mastodon, [event], now=NOW + dt.timedelta(hours=1))
    assert not ProfileLink.objects.exists()
    # A payload without profile (most of them) leaves what is stored alone.
    ingest.store_events(mastodon, [MastodonNetwork._event(MASTODON_FOLLOW, mastodon, "social.example")], now=NOW)
    bare = Event(kind="like", remote_id="l-9", occurred_at=NOW, author_id="297421", author_handle="max@social.example")
    ingest.store_events(mastodon, [bare], now=NOW)
    assert ProfileLink.objects.count() == 2


def test_our_own_account_and_bad_addresses_are_not_kept(cast, mastodon) -> None:
    own = Event(
        kind="like",
        remote_id="l-1",
        occurred_at=NOW,
        author_id="109876",
        author_handle="koenigsbau@social.example",
        data={"author_links": ["https://x.com/koenigsbau"]},
    )
    odd = Event(
        kind="like",
        remote_id="l-2",
        occurred_at=NOW,
        author_id="5",
        author_handle="odd@social.example",
        data={"author_links": ["javascript:alert(1)", "https://" + "a" * 600, 42, "https://ok.example/"]},
    )
    ingest.store_events(mastodon, [own, odd], now=NOW)
    assert list(ProfileLink.objects.values_list("remote_id", "url")) == [("5", "https://ok.example/")]


def test_another_workspaces_accounts_are_never_paired(cast, mastodon) -> None:
    ingest.store_events(mastodon, [MastodonNetwork._event(MASTODON_FOLLOW, mastodon, "social.example")], now=NOW)
    theirs = Channel.objects.create(workspace=cast.other_workspace, network="x", handle="chili", remote_account_id="c")
    message(theirs, author_id="x-42", handle="Maxi_M", name="Maxi")
    consume.consume(NOW)
    assert Identity.objects.filter(workspace=cast.other_workspace, handle="Maxi_M").exists()
    assert not [s for s in suggest.suggestions(cast.workspace) if s.reason == "links"]
    assert not suggest.suggestions(cast.other_workspace)


def test_erasure_removes_the_profile_links_and_they_do_not_come_back(cast, mastodon) -> None:
    ingest.store_events(mastodon, [MastodonNetwork._event(MASTODON_FOLLOW, mastodon, "social.example")], now=NOW)
    consume.consume(NOW)
    person = Person.objects.get(identities__network="mastodon")
    export = actions.do_export_person(Actor(user=cast.alice), person)
    assert [link["url"] for link in export["profile_links"]] == [
        "https://maxmustermann.example",
        "https://x.com/Maxi_M",
    ]

    actions.do_erase_person(Actor(user=cast.alice), person)
    assert not ProfileLink.objects.exists()
    again = {**MASTODON_FOLLOW, "id": "34976001"}
    ingest.store_events(mastodon, [MastodonNetwork._event(again, mastodon, "social.example")], now=NOW)
    assert not ProfileLink.objects.exists()  # suppressed: the next sync keeps nothing of them
