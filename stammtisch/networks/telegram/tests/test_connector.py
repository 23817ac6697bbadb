"""The Telegram connector against documented Bot API payloads (fixtures/README.md names the pages)."""

from __future__ import annotations

import datetime as dt
import json
import logging

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from stammtisch.networks.base import MediaItem, NetworkError, Outgoing, Remote
from stammtisch.networks.models import BotUpdate, Channel, OutboundPost
from stammtisch.networks.registry import get_network
from stammtisch.networks.telegram.connector import TelegramNetwork
from stammtisch.networks.telegram.tests.conftest import CHANNEL_ID, GROUP_ID, TOKEN, answer, fixture

KEY = "4f1c2b9e-0d4e-4f6a-8c1b-2a3b4c5d6e7f"


def connector() -> TelegramNetwork:
    network = get_network("telegram")
    assert isinstance(network, TelegramNetwork)
    return network


# --- publish -------------------------------------------------------------------------------------


def test_it_posts_a_text_message_to_the_channel(telegram_channel, bot_api) -> None:
    bot_api.on("sendMessage", answer("sendMessage.json"))

    remote = connector().publish(telegram_channel, Outgoing(text="Heute gibt es Maultaschen!"), KEY)

    assert remote == Remote(
        id=f"{CHANNEL_ID}:42",
        url="https://t.me/cafe_koenigsbau/42",
        published_at=dt.datetime(2026, 6, 1, 10, 0, 1, tzinfo=dt.UTC),
    )
    [request] = bot_api.requests
    assert str(request.url) == f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert json.loads(request.content) == {"chat_id": CHANNEL_ID, "text": "Heute gibt es Maultaschen!"}
    assert OutboundPost.objects.filter(channel=telegram_channel, idempotency_key=KEY).exists()


def test_a_photo_goes_with_its_caption(telegram_channel, bot_api) -> None:
    name = default_storage.save("media/kuchen.jpg", ContentFile(b"\xff\xd8\xff fake jpeg"))
    bot_api.on("sendPhoto", answer("sendPhoto.json"))

    remote = connector().publish(
        telegram_channel, Outgoing(text="Apfelkuchen!", media=(MediaItem(name, "image/jpeg", "Kuchen"),)), KEY
    )

    assert remote.id == f"{CHANNEL_ID}:43"
    body = bot_api.calls("sendPhoto")[0].content
    assert b'name="caption"' in body and b"Apfelkuchen!" in body
    assert b'name="photo"' in body and b"attach://file0" in body
    assert b'filename="kuchen.jpg"' in body and b"fake jpeg" in body


def test_several_photos_go_as_an_album_and_its_remote_id_names_every_message(telegram_channel, bot_api) -> None:
    names = [default_storage.save(f"media/k{i}.jpg", ContentFile(b"jpeg")) for i in range(2)]
    bot_api.on("sendMediaGroup", answer("sendMediaGroup.json"))

    remote = connector().publish(
        telegram_channel, Outgoing(text="Zwei Kuchen", media=tuple(MediaItem(n, "image/jpeg") for n in names)), KEY
    )

    assert remote.id == f"{CHANNEL_ID}:44,45"
    body = bot_api.calls("sendMediaGroup")[0].content.decode("latin-1")
    assert (
        '[{"type": "photo", "media": "attach://file0", "caption": "Zwei Kuchen"}, '
        '{"type": "photo", "media": "attach://file1"}]'
    ) in body


def test_a_caption_longer_than_1024_characters_is_refused_before_sending(telegram_channel, bot_api) -> None:
    name = default_storage.save("media/kuchen.jpg", ContentFile(b"jpeg"))
    with pytest.raises(NetworkError) as caught:
        connector().publish(telegram_channel, Outgoing(text="x" * 1025, media=(MediaItem(name, "image/jpeg"),)), KEY)
    assert caught.value.permanent and "1024" in caught.value.message
    assert bot_api.requests == []


def test_a_bad_request_is_permanent_with_telegrams_reason(telegram_channel, bot_api) -> None:
    bot_api.on("sendMessage", answer("error_400_too_long.json"))
    with pytest.raises(NetworkError) as caught:
        connector().publish(telegram_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.permanent and not caught.value.auth
    assert "message is too long" in caught.value.message


@pytest.mark.parametrize("name", ["error_401.json", "error_403.json"])
def test_a_revoked_token_or_a_removed_bot_is_an_auth_error(telegram_channel, bot_api, name) -> None:
    bot_api.on("sendMessage", answer(name))
    with pytest.raises(NetworkError) as caught:
        connector().publish(telegram_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.auth


def test_flood_control_gives_telegrams_retry_after(telegram_channel, bot_api) -> None:
    bot_api.on("sendMessage", answer("error_429.json"))
    with pytest.raises(NetworkError) as caught:
        connector().publish(telegram_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.retry_after == 35 and not caught.value.permanent


def test_a_server_error_is_retried(telegram_channel, bot_api) -> None:
    bot_api.on("sendMessage", httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(NetworkError) as caught:
        connector().publish(telegram_channel, Outgoing(text="Hallo"), KEY)
    assert not caught.value.permanent and not caught.value.auth and not caught.value.outcome_unknown


def test_a_timeout_is_an_unknown_outcome_and_never_shows_the_token(telegram_channel, bot_api, caplog) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out reading {request.url}", request=request)

    bot_api.on("sendMessage", slow)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NetworkError) as caught:
        connector().publish(telegram_channel, Outgoing(text="Hallo"), KEY)
    assert caught.value.outcome_unknown
    assert TOKEN not in str(caught.value) and TOKEN not in caught.value.message
    assert TOKEN not in caplog.text


# --- find_published ------------------------------------------------------------------------------


def test_find_published_is_not_found_when_nothing_was_sent(telegram_channel, bot_api) -> None:
    assert connector().find_published(telegram_channel, KEY, since=dt.datetime.now(tz=dt.UTC)) is None
    assert bot_api.requests == []


def test_find_published_asks_for_a_manual_check_instead_of_risking_a_duplicate(telegram_channel, bot_api) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    bot_api.on("sendMessage", slow)
    network = connector()
    with pytest.raises(NetworkError):
        network.publish(telegram_channel, Outgoing(text="Hallo"), KEY)
    with pytest.raises(NetworkError) as caught:
        network.find_published(telegram_channel, KEY, since=dt.datetime.now(tz=dt.UTC))
    assert caught.value.permanent
    assert "look at the channel" in caught.value.message


# --- reply, delete -------------------------------------------------------------------------------


def test_a_reply_goes_to_the_comment_in_the_discussion_group(telegram_channel, bot_api) -> None:
    sent = {
        **fixture("sendMessage.json")["result"],
        "message_id": 1003,
        "chat": {"id": int(GROUP_ID), "type": "supergroup"},
    }
    bot_api.on("sendMessage", httpx.Response(200, json={"ok": True, "result": sent}))

    remote = connector().reply(telegram_channel, Remote(id=f"{GROUP_ID}:1002"), "Ja, mit Spinat!", KEY)

    assert remote.id == f"{GROUP_ID}:1003"
    assert bot_api.json_of("sendMessage") == {
        "chat_id": GROUP_ID,
        "text": "Ja, mit Spinat!",
        "reply_parameters": {"message_id": 1002},
    }


def test_a_reply_to_our_post_uses_its_forward_in_the_group(telegram_channel, bot_api) -> None:
    telegram_channel.sync_cursor = {"forwards": {"42": "1001"}}
    bot_api.on("sendMessage", answer("sendMessage.json"))
    connector().reply(telegram_channel, Remote(id=f"{CHANNEL_ID}:42"), "Guten Appetit!", KEY)
    assert bot_api.json_of("sendMessage")["reply_parameters"] == {"message_id": 1001}


def test_without_a_discussion_group_there_is_nothing_to_reply_in(telegram_channel, bot_api) -> None:
    telegram_channel.network_data = {"bot_id": "7000000001"}
    with pytest.raises(NetworkError) as caught:
        connector().reply(telegram_channel, Remote(id=f"{CHANNEL_ID}:42"), "Danke!", KEY)
    assert caught.value.permanent and "no discussion group" in caught.value.message
    assert bot_api.requests == []


def test_delete_removes_every_message_of_an_album(telegram_channel, bot_api) -> None:
    bot_api.on("deleteMessages", answer("deleteMessages.json"), answer("error_400_delete_not_found.json"))
    network = connector()
    network.delete(telegram_channel, Remote(id=f"{CHANNEL_ID}:44,45"))
    network.delete(telegram_channel, Remote(id=f"{CHANNEL_ID}:44,45"))  # already gone: fine
    assert bot_api.json_of("deleteMessages") == {"chat_id": CHANNEL_ID, "message_ids": [44, 45]}


def test_delete_after_48_hours_explains_the_limit(telegram_channel, bot_api) -> None:
    bot_api.on("deleteMessages", answer("error_400_cant_delete.json"))
    with pytest.raises(NetworkError) as caught:
        connector().delete(telegram_channel, Remote(id=f"{CHANNEL_ID}:42"))
    assert caught.value.permanent and "48 hours" in caught.value.message


# --- fetch_activity ------------------------------------------------------------------------------


def test_comments_in_the_discussion_group_become_events(telegram_channel, bot_api) -> None:
    bot_api.on("getUpdates", answer("getUpdates.json"), httpx.Response(200, json={"ok": True, "result": []}))

    events, cursor = connector().fetch_activity(telegram_channel, {})

    assert [(e.kind, e.remote_id) for e in events] == [("comment", f"{GROUP_ID}:1002"), ("reply", f"{GROUP_ID}:1004")]
    comment, answer_to_us = events
    assert comment.post_remote_id == f"{CHANNEL_ID}:42"
    assert comment.in_reply_to == f"{GROUP_ID}:1001"
    assert comment.text == "Gibt es die auch vegetarisch? <b>bitte</b>"  # plain text, escaped when shown
    assert (comment.author_id, comment.author_handle, comment.author_name, comment.author_language) == (
        "111222333",
        "zoe_s",
        "Zoë Schmid",
        "de",
    )
    assert comment.occurred_at == dt.datetime(2026, 6, 1, 10, 1, 40, tzinfo=dt.UTC)
    assert answer_to_us.in_reply_to == f"{GROUP_ID}:1003"
    assert answer_to_us.post_remote_id == f"{CHANNEL_ID}:42"  # through its thread, the post's forward
    assert cursor == {"update_id": 500004, "forwards": {"42": "1001"}}
    first = bot_api.json_of("getUpdates")
    assert first == {"limit": 100, "timeout": 0, "allowed_updates": ["message"]}
    # The private message to the bot is not kept.
    assert not BotUpdate.objects.filter(chat_id="444555666").exists()


def test_two_channels_of_one_bot_each_get_their_own_updates(cast, telegram_channel, bot_api) -> None:
    other = Channel.objects.create(
        workspace=cast.workspace,
        network="telegram",
        handle="koenigsbau_torten",
        display_name="Torten",
        remote_account_id="-1005555555555",
        credentials={"bot_token": TOKEN},
        network_data={"bot_id": "7000000001", "linked_chat_id": "-1006666666666"},
    )
    update = fixture("getUpdates.json")["result"][1]
    other_update = {
        "update_id": 500010,
        "message": {**update["message"], "message_id": 77, "chat": {"id": -1006666666666, "type": "supergroup"}},
    }
    bot_api.on(
        "getUpdates",
        httpx.Response(200, json={"ok": True, "result": [update, other_update]}),
        httpx.Response(200, json={"ok": True, "result": []}),
    )
    network = connector()

    mine, _cursor = network.fetch_activity(telegram_channel, {})
    theirs, their_cursor = network.fetch_activity(other, {})

    assert [e.remote_id for e in mine] == [f"{GROUP_ID}:1002"]
    assert [e.remote_id for e in theirs] == ["-1006666666666:77"]  # not lost to the first channel's fetch
    assert their_cursor["update_id"] == 500010
    # The second fetch confirmed what the first stored: it asked from the next update on.
    assert bot_api.json_of("getUpdates", 1)["offset"] == 500011


def test_a_webhook_on_the_bot_stops_the_sync_with_a_clear_error(telegram_channel, bot_api) -> None:
    bot_api.on("getUpdates", answer("error_409_webhook.json"))
    with pytest.raises(NetworkError) as caught:
        connector().fetch_activity(telegram_channel, {})
    assert caught.value.permanent and "webhook" in caught.value.message


def test_updates_are_paged_through(telegram_channel, bot_api, monkeypatch) -> None:
    from stammtisch.networks.telegram import connector as module

    monkeypatch.setattr(module, "UPDATES_PAGE", 2)
    updates = fixture("getUpdates.json")["result"]
    bot_api.on(
        "getUpdates",
        httpx.Response(200, json={"ok": True, "result": updates[:2]}),
        httpx.Response(200, json={"ok": True, "result": updates[2:]}),
        httpx.Response(200, json={"ok": True, "result": []}),
    )
    events, cursor = connector().fetch_activity(telegram_channel, {})
    assert [e.remote_id for e in events] == [f"{GROUP_ID}:1002", f"{GROUP_ID}:1004"]
    assert cursor["update_id"] == 500004
    assert [json.loads(r.content).get("offset") for r in bot_api.calls("getUpdates")] == [None, 500003, 500005]


# --- metrics, refresh ----------------------------------------------------------------------------


def test_metrics_are_the_followers_only(telegram_channel, bot_api) -> None:
    bot_api.on("getChatMemberCount", answer("getChatMemberCount.json"))
    metrics = connector().fetch_metrics(telegram_channel, [Remote(id=f"{CHANNEL_ID}:42")])
    assert [(m.remote_id, m.values) for m in metrics] == [(CHANNEL_ID, {"followers": 1234})]


def test_refresh_checks_the_token_and_keeps_it(telegram_channel, bot_api) -> None:
    bot_api.on("getMe", answer("getMe.json"), answer("error_401.json"))
    network = connector()
    assert network.refresh_credentials(telegram_channel) == {"bot_token": TOKEN}
    with pytest.raises(NetworkError) as caught:
        network.refresh_credentials(telegram_channel)
    assert caught.value.auth
