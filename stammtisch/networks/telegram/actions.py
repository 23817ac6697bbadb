"""Connecting a Telegram channel: check the bot and its rights, then store the channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.actions import do_connect_channel
from stammtisch.networks.base import NetworkError
from stammtisch.networks.models import Channel
from stammtisch.networks.telegram import api

NETWORK = "telegram"


@dataclass(frozen=True)
class CheckedChannel:
    bot: dict[str, Any]
    chat: dict[str, Any]
    can_read_discussion: bool


def check_bot_and_channel(token: str, channel: str | int) -> CheckedChannel:
    """getMe, getChat and getChatMember: the token works, the chat is a channel and the bot is an
    administrator allowed to post there. Raises ActionError with a message for the user."""
    try:
        bot = api.call(token, "getMe", "getMe")
    except NetworkError as error:
        if error.auth or error.permanent:
            raise ActionError(_("Telegram does not accept this bot token. Copy it again from @BotFather.")) from None
        raise ActionError(_("Telegram cannot be reached right now. Please try again in a moment.")) from None
    try:
        chat = api.call(token, "getChat", "getChat", params={"chat_id": channel})
    except NetworkError as error:
        if error.retry_after is not None and not error.permanent:
            raise ActionError(_("Telegram cannot be reached right now. Please try again in a moment.")) from None
        raise ActionError(
            _("The bot cannot see this channel. Check its name and add the bot to the channel as an administrator.")
        ) from None
    if not isinstance(chat, dict) or chat.get("type") != "channel":
        raise ActionError(_("This is not a Telegram channel. Stammtisch posts to channels only."))
    try:
        member = api.call(token, "getChatMember", "getChatMember", params={"chat_id": chat["id"], "user_id": bot["id"]})
    except NetworkError:
        member = {}
    status = (member or {}).get("status")
    if not (status == "creator" or (status == "administrator" and member.get("can_post_messages"))):
        raise ActionError(
            _(
                "The bot is not allowed to post in this channel. "
                "Make it an administrator with the right to post messages."
            )
        )
    can_read = False
    if chat.get("linked_chat_id"):
        try:
            group_member = api.call(
                token,
                "getChatMember",
                "getChatMember",
                params={"chat_id": chat["linked_chat_id"], "user_id": bot["id"]},
            )
        except NetworkError:
            group_member = {}
        can_read = (group_member or {}).get("status") in ("administrator", "creator", "member")
    return CheckedChannel(bot=bot, chat=chat, can_read_discussion=can_read)


def do_connect_telegram_channel(actor: Actor, workspace: Workspace, *, token: str, channel: str | int) -> Channel:
    """Check the bot's rights (above) and connect the channel, or reconnect it in place: the same
    channel (by its numeric id, which survives a change of @name) keeps its row and history."""
    require_perm(actor, workspace, Perm.MANAGE)
    checked = check_bot_and_channel(token, channel)
    chat, bot = checked.chat, checked.bot
    chat_id = str(chat["id"])
    return do_connect_channel(
        actor,
        workspace,
        network=NETWORK,
        handle=str(chat.get("username") or chat_id),
        display_name=str(chat.get("title") or chat.get("username") or chat_id),
        remote_account_id=chat_id,
        credentials={"bot_token": token},
        network_data={
            "bot_id": str(bot["id"]),
            "bot_username": str(bot.get("username") or ""),
            "username": str(chat.get("username") or ""),
            "linked_chat_id": str(chat.get("linked_chat_id") or ""),
            "can_read_discussion": checked.can_read_discussion,
        },
        match_remote_id=True,
    )
