"""Moderating comments in the discussion group from the inbox: like = a 👍 reaction
(setMessageReaction), delete = deleteMessage (the bot must be an administrator). No hiding."""

from __future__ import annotations

import httpx
import pytest

from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.telegram.connector import TelegramNetwork

from .conftest import CHANNEL_ID, GROUP_ID, answer

COMMENT = f"{GROUP_ID}:412"


def test_it_offers_like_and_delete() -> None:
    assert TelegramNetwork.supports_moderation == frozenset({"like", "delete"})


def test_it_likes_with_a_thumbs_up_reaction(telegram_channel, bot_api) -> None:
    bot_api.on("setMessageReaction", answer("setMessageReaction.json"))

    TelegramNetwork().like(telegram_channel, Remote(id=COMMENT))

    assert bot_api.json_of("setMessageReaction") == {
        "chat_id": GROUP_ID,
        "message_id": 412,
        "reaction": [{"type": "emoji", "emoji": "👍"}],
    }


def test_it_deletes_a_comment_in_the_discussion_group(telegram_channel, bot_api) -> None:
    bot_api.on("deleteMessage", answer("deleteMessage.json"))

    TelegramNetwork().delete_comment(telegram_channel, Remote(id=COMMENT))

    assert bot_api.json_of("deleteMessage") == {"chat_id": GROUP_ID, "message_id": 412}


def test_a_comment_already_gone_counts_as_deleted(telegram_channel, bot_api) -> None:
    bot_api.on("deleteMessage", answer("error_400_delete_not_found.json"))

    TelegramNetwork().delete_comment(telegram_channel, Remote(id=COMMENT))


def test_it_does_not_delete_outside_the_discussion_group(telegram_channel, bot_api) -> None:
    with pytest.raises(NetworkError) as caught:
        TelegramNetwork().delete_comment(telegram_channel, Remote(id=f"{CHANNEL_ID}:7"))

    assert caught.value.permanent
    assert bot_api.requests == []


def test_a_bot_without_the_right_gets_a_clear_message(telegram_channel, bot_api) -> None:
    bot_api.on("deleteMessage", answer("error_400_cant_delete.json"))

    with pytest.raises(NetworkError) as caught:
        TelegramNetwork().delete_comment(telegram_channel, Remote(id=COMMENT))

    assert caught.value.permanent and "administrator" in caught.value.message


def test_a_reaction_the_group_does_not_allow_is_refused(telegram_channel, bot_api) -> None:
    bot_api.on("setMessageReaction", answer("error_400_reaction_invalid.json"))

    with pytest.raises(NetworkError) as caught:
        TelegramNetwork().like(telegram_channel, Remote(id=COMMENT))

    assert caught.value.permanent and "REACTION_INVALID" in caught.value.message


def test_a_bot_removed_from_the_group_asks_for_a_reconnect(telegram_channel, bot_api) -> None:
    bot_api.on("setMessageReaction", answer("error_403.json"))

    with pytest.raises(NetworkError) as caught:
        TelegramNetwork().like(telegram_channel, Remote(id=COMMENT))

    assert caught.value.auth


def test_a_revoked_token_asks_for_a_reconnect(telegram_channel, bot_api) -> None:
    telegram_channel.credentials = {"bot_token": "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"}

    with pytest.raises(NetworkError) as caught:
        TelegramNetwork().like(telegram_channel, Remote(id=COMMENT))

    assert caught.value.auth


def test_flood_control_waits_as_asked(telegram_channel, bot_api) -> None:
    bot_api.on("deleteMessage", answer("error_429.json"))

    with pytest.raises(NetworkError) as caught:
        TelegramNetwork().delete_comment(telegram_channel, Remote(id=COMMENT))

    assert caught.value.retry_after == 35


def test_a_server_error_may_be_retried(telegram_channel, bot_api) -> None:
    bot_api.on("setMessageReaction", answer("error_500.json"))

    with pytest.raises(NetworkError) as caught:
        TelegramNetwork().like(telegram_channel, Remote(id=COMMENT))

    assert not caught.value.permanent


def test_an_answer_that_is_not_json_from_a_proxy_may_be_retried(telegram_channel, bot_api) -> None:
    bot_api.on("setMessageReaction", httpx.Response(502, text="Bad Gateway"))

    with pytest.raises(NetworkError) as caught:
        TelegramNetwork().like(telegram_channel, Remote(id=COMMENT))

    assert not caught.value.permanent
