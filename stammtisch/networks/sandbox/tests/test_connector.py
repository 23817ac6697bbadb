"""The Sandbox connector fulfils the connector contract (networks/base.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from stammtisch.networks.base import MediaItem, NetworkError, Outgoing, Remote
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import get_network
from stammtisch.networks.sandbox import clock, connector, simulation, texts
from stammtisch.networks.sandbox.connector import SandboxNetwork
from stammtisch.networks.sandbox.models import SandboxAccount, SandboxEvent, SandboxPost
from stammtisch.networks.sandbox.tests.conftest import START

DAY = dt.timedelta(days=1)
TEXT = "Frisch aus dem Ofen: unsere Zimtschnecken! Mit Kaffee oder Kakao? Was nehmt ihr?"


def publish(network: SandboxNetwork, channel: Channel, when: dt.datetime, key: str, text: str = TEXT) -> Remote:
    with clock.at(when):
        return network.publish(channel, Outgoing(text=text), key)


def post_of(remote: Remote) -> SandboxPost:
    return SandboxPost.objects.get(pk=int(remote.id.removeprefix("post-")))


def first_comment_of(network: SandboxNetwork, channel: Channel, at: dt.datetime):
    with clock.at(at):
        events, _ = network.fetch_activity(channel, {})
    return next(e for e in events if e.kind == "comment")


def test_it_is_the_registered_sandbox_connector() -> None:
    network = get_network("sandbox")
    assert isinstance(network, SandboxNetwork)
    assert network.rules.max_length == 5000
    assert network.supports_first_comment


def test_it_publishes_a_post(network, channel, account) -> None:
    when = START + dt.timedelta(hours=10)
    remote = publish(network, channel, when, "key-1")

    post = post_of(remote)
    assert remote.id == f"post-{post.pk}"
    assert remote.published_at == when
    assert remote.url.endswith(f"/sandbox/cafe-koenigsbau/{post.pk}/#post-{post.pk}")
    assert post.account == account and post.text == TEXT and post.idempotency_key == "key-1"
    assert post.features["language"] == "de" and "baking" in post.features["topics"]
    # Its reactions lie in the future of the moment it was published.
    assert SandboxEvent.objects.filter(post=post).exists()
    assert not SandboxEvent.objects.filter(post=post, occurs_at__lt=when).exists()


def test_it_stores_link_media_and_first_comment(network, channel) -> None:
    outgoing = Outgoing(
        text="Neu im Blog: so rösten wir unsere Bohnen",
        link="https://example.org/roesten",
        media=(MediaItem(path="a.jpg", content_type="image/jpeg"),),
        first_comment="Mehr dazu im Link!",
    )
    with clock.at(START):
        remote = network.publish(channel, outgoing, "key-1")
    post = post_of(remote)
    assert post.link == "https://example.org/roesten" and post.media_count == 1
    comment = SandboxPost.objects.get(parent=post, author_persona__isnull=True)
    assert comment.text == "Mehr dazu im Link!" and comment.author_persona is None


def test_it_creates_a_second_post_when_published_twice_with_one_key(network, channel) -> None:
    first = publish(network, channel, START, "same-key")
    second = publish(network, channel, START + dt.timedelta(minutes=1), "same-key")
    assert first.id != second.id
    assert SandboxPost.objects.filter(idempotency_key="same-key").count() == 2


def test_it_rejects_a_text_that_is_too_long(network, channel) -> None:
    with pytest.raises(NetworkError) as error:
        publish(network, channel, START, "k", text="x" * 5001)
    assert error.value.permanent
    assert not SandboxPost.objects.exists()  # nothing stored


@pytest.mark.parametrize("credentials", [{}, {"token": ""}, {"token": "wrong"}])
def test_it_refuses_a_missing_or_wrong_token(network, channel, credentials) -> None:
    channel.credentials = credentials
    with pytest.raises(NetworkError) as error:
        publish(network, channel, START, "k")
    assert error.value.auth and error.value.permanent


def test_it_refuses_a_token_of_another_account(network, channel) -> None:
    other = Channel(workspace=channel.workspace, network="sandbox", handle="someone-else")
    other.credentials = channel.credentials
    with pytest.raises(NetworkError) as error:
        publish(network, other, START, "k")
    assert error.value.auth


def test_it_finds_a_published_post_by_its_key(network, channel) -> None:
    remote = publish(network, channel, START, "key-1")
    publish(network, channel, START, "key-2")
    with clock.at(START + DAY):
        assert network.find_published(channel, "key-1", START - DAY) == remote
        assert network.find_published(channel, "nope", START - DAY) is None


def test_it_does_not_find_a_deleted_post(network, channel) -> None:
    remote = publish(network, channel, START, "key-1")
    with clock.at(START + DAY):
        network.delete(channel, remote)
        assert network.find_published(channel, "key-1", START - DAY) is None


def test_it_replies_to_a_comment_and_finds_the_reply_by_key(network, channel) -> None:
    publish(network, channel, START, "key-1")
    comment = first_comment_of(network, channel, START + 3 * DAY)
    with clock.at(START + 3 * DAY):
        reply = network.reply(channel, Remote(id=comment.remote_id), "Danke dir!", "reply-key")
        assert network.find_published(channel, "reply-key", START) == reply
    stored = post_of(reply)
    assert stored.parent_id == int(comment.remote_id.removeprefix("post-"))
    assert stored.root_id == int(comment.post_remote_id.removeprefix("post-"))


def test_it_refuses_a_reply_to_something_unknown_or_not_yet_there(network, channel) -> None:
    remote = publish(network, channel, START, "key-1")
    with clock.at(START - DAY), pytest.raises(NetworkError) as early:
        network.reply(channel, remote, "Hallo", "r1")
    assert early.value.permanent
    with clock.at(START + DAY), pytest.raises(NetworkError) as unknown:
        network.reply(channel, Remote(id="post-999999"), "Hallo", "r2")
    assert unknown.value.permanent


def test_it_deletes_a_post_and_cancels_what_had_not_happened_yet(network, channel) -> None:
    remote = publish(network, channel, START, "key-1")
    post = post_of(remote)
    cut = START + dt.timedelta(hours=3)
    before = SandboxEvent.objects.filter(post=post, occurs_at__lte=cut).count()
    with clock.at(cut):
        network.delete(channel, remote)
        network.delete(channel, remote)  # again: nothing happens
    post.refresh_from_db()
    assert post.deleted_at == cut
    assert SandboxEvent.objects.filter(post=post).count() == before
    assert not SandboxPost.objects.filter(root=post, published_at__gt=cut).exists()


def test_it_cannot_delete_a_personas_comment(network, channel) -> None:
    publish(network, channel, START, "key-1")
    comment = first_comment_of(network, channel, START + 3 * DAY)
    with clock.at(START + 3 * DAY), pytest.raises(NetworkError) as error:
        network.delete(channel, Remote(id=comment.remote_id))
    assert error.value.permanent


def test_it_returns_activity_that_has_happened_with_persona_details(network, channel) -> None:
    remote = publish(network, channel, START, "key-1")
    with clock.at(START + dt.timedelta(hours=6)):
        events, _cursor = network.fetch_activity(channel, {})
    assert events, "six hours after a post, the audience has done something"
    assert all(e.occurred_at <= START + dt.timedelta(hours=6) for e in events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert {e.kind for e in events} <= {"like", "share", "comment", "reply", "follow", "unfollow", "click"}
    like = next(e for e in events if e.kind == "like")
    assert like.post_remote_id == remote.id and like.author_handle and like.author_language in ("de", "en")
    comment = next(e for e in events if e.kind == "comment")
    assert comment.text and comment.in_reply_to == remote.id


def test_it_pages_activity_and_never_repeats_or_loses_an_event(network, channel, monkeypatch) -> None:
    monkeypatch.setattr(connector, "PAGE_SIZE", 20)
    for day in range(5):
        publish(network, channel, START + day * DAY, f"key-{day}")

    seen: list[str] = []
    cursor: dict = {}
    for hours in (5, 30, 80, 200):
        with clock.at(START + dt.timedelta(hours=hours)):
            while True:
                events, cursor = network.fetch_activity(channel, cursor)
                assert len(events) <= 20
                seen += [e.remote_id for e in events]
                if len(events) < 20:
                    break
    with clock.at(START + dt.timedelta(hours=200)):
        again, _ = network.fetch_activity(channel, cursor)
    assert again == []
    assert len(seen) == len(set(seen))
    expected = SandboxEvent.objects.filter(
        occurs_at__lte=START + dt.timedelta(hours=200), kind__in=connector.ACTIVITY_KINDS
    ).count()
    assert len(seen) == expected > 60


def test_its_pages_hold_at_most_500_events() -> None:
    assert connector.PAGE_SIZE == 500


def test_it_delivers_events_written_later_for_an_earlier_time(network, channel) -> None:
    """The demo publishes back-dated posts (clock.at) while a worker syncs in the present."""
    now = START + 10 * DAY
    with clock.at(now):
        _, cursor = network.fetch_activity(channel, {})
    remote = publish(network, channel, START + DAY, "back-dated")
    with clock.at(now):
        events, _ = network.fetch_activity(channel, cursor)
    assert any(e.post_remote_id == remote.id for e in events)


def test_it_measures_posts_and_the_account(network, channel, account) -> None:
    first = publish(network, channel, START, "key-1")
    second = publish(network, channel, START + DAY, "key-2", text="Kurz.")
    with clock.at(START + dt.timedelta(hours=2)):
        early = {m.remote_id: m.values for m in network.fetch_metrics(channel, [first, second])}
    with clock.at(START + 10 * DAY):
        metrics = network.fetch_metrics(channel, [first, second, Remote(id="post-424242")])
    late = {m.remote_id: m.values for m in metrics}

    assert set(late) == {first.id, second.id, account.remote_id}
    assert second.id not in early  # not published yet at that time
    for key in ("views", "likes", "shares", "comments", "questions", "clicks", "follows"):
        assert late[first.id][key] >= early[first.id][key]
    assert late[first.id]["views"] > early[first.id]["views"] > 0
    post = post_of(first)
    assert late[first.id]["likes"] == SandboxEvent.objects.filter(post=post, kind="like").count()
    assert late[account.remote_id]["followers"] > 50 and late[account.remote_id]["posts"] == 2


def test_it_refreshes_credentials_and_retires_the_old_token(network, channel, time_machine) -> None:
    old = dict(channel.credentials)
    new = network.refresh_credentials(channel)
    assert new["token"] != old["token"]
    channel.credentials = new
    assert network.fetch_metrics(channel, [])  # the new token works
    channel.credentials = old
    network.fetch_metrics(channel, [])  # the old one, for a grace period
    time_machine.move_to(dt.datetime.now(dt.UTC) + connector.TOKEN_GRACE + dt.timedelta(minutes=1))
    with pytest.raises(NetworkError) as error:
        network.fetch_metrics(channel, [])
    assert error.value.auth


def test_it_is_reached_through_the_channel(channel) -> None:
    assert isinstance(channel.connector, SandboxNetwork)
    assert SandboxAccount.objects.get(handle=channel.handle).remote_id == channel.remote_account_id


def test_without_the_audience_simulation_a_post_is_analysed_when_first_read(network, channel, settings) -> None:
    settings.SANDBOX_REACTIONS = False
    remote = publish(network, channel, START + dt.timedelta(hours=10), "key-quiet")

    post = post_of(remote)
    assert post.text == TEXT and post.idempotency_key == "key-quiet"
    assert post.features == {}  # not worked out while publishing
    assert not SandboxEvent.objects.filter(post=post).exists()
    features = simulation.features_of(post.features, post.text, post.link, post.media_count)
    assert features == texts.analyse(TEXT)
    assert features["language"] == "de" and "baking" in features["topics"]
    stored = {"topics": ["coffee"], "language": "en"}
    assert simulation.features_of(stored, post.text, post.link, post.media_count) is stored
