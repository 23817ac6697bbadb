"""Connecting a Telegram channel with a bot token: checked with getMe, getChat and getChatMember."""

from __future__ import annotations

import json

import httpx
import pytest
from django.db import connection
from django.urls import reverse

from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks.models import Channel
from stammtisch.networks.telegram.tests.conftest import CHANNEL_ID, GROUP_ID, TOKEN, answer


def connect_url(cast) -> str:
    return reverse("telegram:connect", kwargs={"slug": cast.workspace.slug})


@pytest.fixture
def good_bot(bot_api):
    bot_api.on("getMe", answer("getMe.json"))
    bot_api.on("getChat", answer("getChat.json"))

    def member(request: httpx.Request) -> httpx.Response:
        chat = str(json.loads(request.content)["chat_id"])
        return answer("getChatMember_administrator.json" if chat == CHANNEL_ID else "getChatMember_member.json")

    bot_api.on("getChatMember", member)
    return bot_api


def test_it_checks_the_bot_and_connects_the_channel(cast, good_bot) -> None:
    client = english_client(cast.alice)
    assert "Create a bot with @BotFather" in client.get(connect_url(cast)).content.decode()

    response = client.post(
        connect_url(cast), {"bot_token": TOKEN, "channel": "https://t.me/cafe_koenigsbau"}, follow=True
    )

    page = response.content.decode()
    assert "Telegram channel “Café Königsbau” connected." in page
    assert "discussion group" not in page  # the bot can read the group: no warning
    assert TOKEN not in page
    channel = Channel.objects.get(network="telegram")
    assert (channel.handle, channel.remote_account_id, channel.display_name) == (
        "cafe_koenigsbau",
        CHANNEL_ID,
        "Café Königsbau",
    )
    assert channel.credentials == {"bot_token": TOKEN}
    assert channel.network_data == {
        "bot_id": "7000000001",
        "bot_username": "koenigsbau_bot",
        "username": "cafe_koenigsbau",
        "linked_chat_id": GROUP_ID,
        "can_read_discussion": True,
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM networks_channel WHERE id = %s", [channel.pk])
        assert TOKEN not in cursor.fetchone()[0]
    assert good_bot.json_of("getChat") == {"chat_id": "@cafe_koenigsbau"}
    assert [json.loads(r.content) for r in good_bot.calls("getChatMember")] == [
        {"chat_id": int(CHANNEL_ID), "user_id": 7000000001},
        {"chat_id": int(GROUP_ID), "user_id": 7000000001},
    ]
    assert TOKEN not in str(AuditEvent.objects.get(action="channel.connect").data)


def test_a_bot_that_may_not_post_is_refused_with_a_way_out(cast, good_bot) -> None:
    good_bot.on("getChatMember", answer("getChatMember_no_post.json"))
    response = english_client(cast.alice).post(connect_url(cast), {"bot_token": TOKEN, "channel": "@cafe_koenigsbau"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Make it an administrator with the right to post messages." in page
    assert TOKEN not in page  # the token field is never filled in again
    assert not Channel.objects.exists()


@pytest.mark.parametrize(
    ("route", "reply", "message"),
    [
        ("getMe", answer("error_401.json"), "does not accept this bot token"),
        ("getChat", answer("error_400_chat_not_found.json"), "The bot cannot see this channel"),
        (
            "getChat",
            httpx.Response(200, json={"ok": True, "result": {"id": -100777, "type": "supergroup", "title": "Gruppe"}}),
            "This is not a Telegram channel",
        ),
        ("getMe", httpx.Response(502, text="Bad Gateway"), "cannot be reached right now"),
    ],
)
def test_it_explains_what_is_wrong(cast, good_bot, route, reply, message) -> None:
    good_bot.on(route, reply)
    response = english_client(cast.alice).post(connect_url(cast), {"bot_token": TOKEN, "channel": "@cafe_koenigsbau"})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Channel.objects.exists()


def test_malformed_input_is_caught_before_asking_telegram(cast, bot_api) -> None:
    response = english_client(cast.alice).post(
        connect_url(cast), {"bot_token": "123/../../getMe?x=", "channel": "not a channel!"}
    )
    page = response.content.decode()
    assert "This does not look like a bot token" in page
    assert "Please give the channel as @name" in page
    assert bot_api.requests == []


def test_reconnecting_keeps_the_channel_even_after_a_rename(cast, good_bot) -> None:
    channel = Channel.objects.create(
        workspace=cast.workspace,
        network="telegram",
        handle="old_name",
        display_name="Alt",
        remote_account_id=CHANNEL_ID,
        credentials={"bot_token": "1:old"},
        health=Channel.Health.NEEDS_RECONNECT,
    )
    english_client(cast.adam).post(connect_url(cast), {"bot_token": TOKEN, "channel": CHANNEL_ID})
    channel.refresh_from_db()
    assert Channel.objects.filter(network="telegram").count() == 1
    assert (channel.handle, channel.health, channel.credentials) == ("cafe_koenigsbau", "ok", {"bot_token": TOKEN})
    assert AuditEvent.objects.filter(action="channel.reconnect").count() == 1


def test_it_warns_when_comments_cannot_be_read(cast, good_bot) -> None:
    good_bot.on("getChatMember", answer("getChatMember_administrator.json"), answer("error_400_chat_not_found.json"))
    response = english_client(cast.alice).post(
        connect_url(cast), {"bot_token": TOKEN, "channel": "@cafe_koenigsbau"}, follow=True
    )
    assert "not a member of the channel&#x27;s discussion group" in response.content.decode()
    assert Channel.objects.get().network_data["can_read_discussion"] is False


def test_only_owners_and_admins_connect(cast, bot_api) -> None:
    assert (
        english_client(cast.bob).post(connect_url(cast), {"bot_token": TOKEN, "channel": "@x_y_z_w"}).status_code == 403
    )
    assert bot_api.requests == []
