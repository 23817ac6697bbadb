"""The Telegram connector: a channel posted to by the workspace's own bot (docs/networks/telegram.md).

A channel: `remote_account_id` = the channel's numeric chat id, `handle` = its @name (or the id for
a private channel), `credentials = {"bot_token": ...}`, `network_data` = the bot's id and name and
the linked discussion group's id. Remote ids are `<chat id>:<message id>`; an album is
`<chat id>:<id>,<id>,...` (all its messages, so delete removes all of them).

* publish: sendMessage (4,096 characters), sendPhoto / sendVideo / sendAnimation with the text as
  caption (1,024 characters), sendMediaGroup for 2 to 10 photos and videos.
* find_published: the Bot API can neither look a message up nor list a channel's history, and a
  bot receives no update for its own posts. So an earlier attempt that was never sent (nothing
  recorded in `OutboundPost`) is "not found", and one that may have been sent is a permanent
  failure asking the user to check the channel: never a possible duplicate.
* reply: in the linked discussion group, to a comment, or to one of our posts by its automatic
  forward in the group (remembered from getUpdates).
* fetch_activity: getUpdates, shared by every channel of the same bot through `BotUpdate`;
  comments are messages in the discussion group.
* fetch_metrics: followers (getChatMemberCount). Bots cannot read a post's views or reactions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, ClassVar

from django.core.files.storage import default_storage
from django.db.models import Max
from django.utils import timezone

from stammtisch.networks.base import (
    Credentials,
    Cursor,
    Event,
    MediaItem,
    Metric,
    Network,
    NetworkError,
    Outgoing,
    RateLimit,
    Remote,
    TextRules,
)
from stammtisch.networks.models import BotUpdate, Channel, OutboundPost
from stammtisch.networks.rules import RULES
from stammtisch.networks.telegram import api

NETWORK = "telegram"
UPDATES_PAGE = 100  # getUpdates' maximum
UPDATE_PAGES = 10  # per fetch_activity call
EVENTS_PER_CALL = 1000
KEEP_UPDATES = dt.timedelta(days=7)
KEEP_FORWARDS = 500  # post -> automatic forward in the discussion group, newest kept
ALLOWED_UPDATES = ["message"]  # comments in the discussion group; channel posts by people are not activity
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
LIKE_EMOJI = "\N{THUMBS UP SIGN}"  # the reaction that stands for "like"


def _split(remote_id: str) -> tuple[str, list[int]]:
    chat, _sep, ids = remote_id.partition(":")
    try:
        numbers = [int(part) for part in ids.split(",") if part]
    except ValueError:
        numbers = []
    if not chat or not numbers:
        raise NetworkError(f"Telegram: not a message id: {remote_id}", permanent=True)
    return chat, numbers


def _when(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC) if isinstance(value, int) else None


class TelegramNetwork(Network):
    key: ClassVar[str] = "telegram"
    label: ClassVar[str] = "Telegram"
    rules: ClassVar[TextRules] = RULES["telegram"]
    # Telegram's bot FAQ: about 20 messages a minute in one channel, 30 a second per bot. Each
    # workspace brings its own bot, so "network" (all our Telegram channels) is the safe reading.
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit("channel", 20, 60.0), RateLimit("network", 30, 1.0))

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _token(channel: Channel) -> str:
        if channel.network != NETWORK:
            raise NetworkError(f"Not a Telegram channel: {channel.network}", permanent=True)
        token = (channel.credentials or {}).get("bot_token")
        if not isinstance(token, str) or not token:
            raise NetworkError("Telegram: the channel has no bot token; please reconnect it", auth=True)
        return token

    @staticmethod
    def _record(channel: Channel, key: str, text: str, in_reply_to: str, media_count: int) -> None:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        OutboundPost.objects.get_or_create(
            channel=channel,
            idempotency_key=key,
            defaults={"text_sha256": digest, "in_reply_to": in_reply_to, "media_count": media_count},
        )

    @staticmethod
    def _remote(channel: Channel, messages: list[dict[str, Any]], chat_id: str) -> Remote:
        if not messages or not all(isinstance(m, dict) and m.get("message_id") for m in messages):
            raise NetworkError("Telegram: unexpected answer", outcome_unknown=True)
        ids = ",".join(str(m["message_id"]) for m in messages)
        first = messages[0]
        return Remote(
            id=f"{chat_id}:{ids}",
            url=api.message_url(first.get("chat"), chat_id, int(first["message_id"])),
            published_at=_when(first.get("date")),
        )

    @staticmethod
    def _read(item: MediaItem) -> tuple[str, bytes, str]:
        try:
            with default_storage.open(item.path, "rb") as handle:
                return item.path.rsplit("/", 1)[-1] or "media", handle.read(), item.content_type
        except OSError as exc:
            raise NetworkError(f"Telegram media: cannot read {item.path}: {exc}", permanent=True) from None

    @staticmethod
    def _text(outgoing: Outgoing) -> str:
        text = outgoing.text
        if outgoing.link and outgoing.link not in text:
            text = f"{text.rstrip()}\n\n{outgoing.link}" if text.strip() else outgoing.link
        return text

    # --- the contract ---------------------------------------------------------------------------

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        token = self._token(channel)
        chat_id = channel.remote_account_id
        text = self._text(outgoing)
        media = list(outgoing.media)
        if not media:
            if not text.strip():
                raise NetworkError("Telegram: a post needs text or media", permanent=True)
            if len(text) > TEXT_LIMIT:
                raise NetworkError(f"Telegram: text longer than {TEXT_LIMIT} characters", permanent=True)
            self._record(channel, idempotency_key, text, "", 0)
            message = api.call(token, "sendMessage", "publish", params={"chat_id": chat_id, "text": text})
            return self._remote(channel, [message], chat_id)
        if len(text) > CAPTION_LIMIT:
            raise NetworkError(
                f"Telegram: with media the text is a caption of at most {CAPTION_LIMIT} characters", permanent=True
            )
        if len(media) > 10:
            raise NetworkError("Telegram: at most 10 photos or videos in one post", permanent=True)
        files = {f"file{index}": self._read(item) for index, item in enumerate(media)}
        self._record(channel, idempotency_key, text, "", len(media))
        if len(media) == 1:
            item = media[0]
            method, field = (
                ("sendVideo", "video")
                if item.content_type.startswith("video/")
                else ("sendAnimation", "animation")
                if item.content_type == "image/gif"
                else ("sendPhoto", "photo")
            )
            params: dict[str, Any] = {"chat_id": chat_id, field: "attach://file0"}
            if text.strip():
                params["caption"] = text
            message = api.call(token, method, "publish", params=params, files=files)
            return self._remote(channel, [message], chat_id)
        album = []
        for index, item in enumerate(media):
            entry: dict[str, Any] = {
                "type": "video" if item.content_type.startswith("video/") else "photo",
                "media": f"attach://file{index}",
            }
            if index == 0 and text.strip():
                entry["caption"] = text  # the album's caption is the first item's
            album.append(entry)
        sent = api.call(token, "sendMediaGroup", "publish", params={"chat_id": chat_id, "media": album}, files=files)
        return self._remote(channel, sent if isinstance(sent, list) else [], chat_id)

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        if not OutboundPost.objects.filter(channel=channel, idempotency_key=idempotency_key).exists():
            return None  # recorded before every send: nothing recorded, nothing sent
        raise NetworkError(
            "Telegram: the earlier attempt may have been posted, and Telegram gives bots no way to check. "
            "Please look at the channel and publish again by hand if the post is missing.",
            permanent=True,
        )

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        token = self._token(channel)
        if not text.strip() or len(text) > TEXT_LIMIT:
            raise NetworkError(f"Telegram: a reply needs 1 to {TEXT_LIMIT} characters", permanent=True)
        group = str((channel.network_data or {}).get("linked_chat_id") or "")
        if not group:
            raise NetworkError(
                "Telegram: this channel has no discussion group, so its posts cannot be answered", permanent=True
            )
        chat, ids = _split(to.id)
        target = ids[0]
        if chat == channel.remote_account_id:  # one of our posts: answer under its forward in the group
            forwards = (channel.sync_cursor or {}).get("forwards") or {}
            if str(target) not in forwards:
                raise NetworkError(
                    "Telegram: this post has no comment thread Stammtisch knows of yet; answer a comment instead",
                    permanent=True,
                )
            target = int(forwards[str(target)])
        elif chat != group:
            raise NetworkError("Telegram: replies are possible only in the channel's discussion group", permanent=True)
        self._record(channel, idempotency_key, text, to.id, 0)
        message = api.call(
            token,
            "sendMessage",
            "reply",
            params={"chat_id": group, "text": text, "reply_parameters": {"message_id": target}},
        )
        return self._remote(channel, [message], group)

    def delete(self, channel: Channel, remote: Remote) -> None:
        token = self._token(channel)
        chat, ids = _split(remote.id)
        try:
            api.call(token, "deleteMessages", "delete", params={"chat_id": chat, "message_ids": ids})
        except NetworkError as error:
            lowered = error.message.lower()
            if "to delete not found" in lowered:
                return  # already gone ("chat not found" is not: that stays an error)
            if error.permanent and not error.auth and ("can't be deleted" in lowered or "can't delete" in lowered):
                raise NetworkError(
                    "Telegram: bots can delete their messages only within 48 hours; please delete it in Telegram",
                    permanent=True,
                ) from None
            raise

    # --- moderation of comments in the discussion group (the inbox's like and delete buttons) ------
    # like: setMessageReaction with one 👍 emoji reaction as the bot (a group may allow other
    # reactions only; Telegram then refuses with REACTION_INVALID). delete: deleteMessage in the
    # discussion group, which needs the bot to be an administrator there with "Delete messages";
    # bots delete only messages younger than 48 hours. Telegram has no hiding.
    # https://core.telegram.org/bots/api#setmessagereaction, https://core.telegram.org/bots/api#deletemessage

    supports_moderation: ClassVar[frozenset[str]] = frozenset({"like", "delete"})

    def like(self, channel: Channel, remote: Remote) -> None:
        token = self._token(channel)
        chat, ids = _split(remote.id)
        reaction = [{"type": "emoji", "emoji": LIKE_EMOJI}]
        api.call(
            token, "setMessageReaction", "like", params={"chat_id": chat, "message_id": ids[0], "reaction": reaction}
        )

    def delete_comment(self, channel: Channel, remote: Remote) -> None:
        token = self._token(channel)
        chat, ids = _split(remote.id)
        group = str((channel.network_data or {}).get("linked_chat_id") or "")
        if not group or chat != group:
            raise NetworkError(
                "Telegram: only comments in the channel's discussion group can be deleted", permanent=True
            )
        try:
            api.call(token, "deleteMessage", "delete comment", params={"chat_id": chat, "message_id": ids[0]})
        except NetworkError as error:
            lowered = error.message.lower()
            if "to delete not found" in lowered:
                return  # already gone
            if error.permanent and not error.auth and ("can't be deleted" in lowered or "can't delete" in lowered):
                raise NetworkError(
                    "Telegram: the bot may not delete this message (it must be an administrator of the discussion "
                    "group with the right to delete messages, and the message younger than 48 hours)",
                    permanent=True,
                ) from None
            raise

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        token = self._token(channel)
        data = channel.network_data or {}
        bot_id = str(data.get("bot_id") or "")
        group = str(data.get("linked_chat_id") or "")
        if not bot_id:
            raise NetworkError("Telegram: the channel lacks its bot's id; please reconnect it", auth=True)
        if not data.get("webhook"):  # with a webhook the inbox stores the updates (inbox/webhooks.py)
            self._pull_updates(token, bot_id)
        chats = [c for c in (channel.remote_account_id, group) if c]
        seen = int(cursor.get("update_id") or 0)
        rows = list(
            BotUpdate.objects.filter(network=NETWORK, bot_id=bot_id, chat_id__in=chats, update_id__gt=seen).order_by(
                "update_id"
            )[:EVENTS_PER_CALL]
        )
        forwards: dict[str, str] = dict(cursor.get("forwards") or {})
        events: list[Event] = []
        for row in rows:
            message = (row.payload or {}).get("message") or {}
            if str((message.get("chat") or {}).get("id")) != group or not group:
                continue
            if message.get("is_automatic_forward"):
                origin = message.get("forward_origin") or {}
                if origin.get("message_id"):
                    forwards[str(origin["message_id"])] = str(message["message_id"])
                continue
            event = self._event(message, channel, group, bot_id, forwards)
            if event is not None:
                events.append(event)
        new_cursor = dict(cursor)
        if rows:
            new_cursor["update_id"] = rows[-1].update_id
        if forwards:
            newest = sorted(forwards.items(), key=lambda item: int(item[0]))[-KEEP_FORWARDS:]
            new_cursor["forwards"] = dict(newest)
        BotUpdate.objects.filter(network=NETWORK, received_at__lt=timezone.now() - KEEP_UPDATES).delete()
        return events, new_cursor

    @staticmethod
    def _pull_updates(token: str, bot_id: str) -> None:
        """Fetch the bot's pending updates into BotUpdate. Each getUpdates with `offset` confirms
        the updates before it, so they are stored before the next call confirms them. Only
        updates of chats some channel of this bot uses are kept (not, say, private messages to
        the bot)."""
        wanted: set[str] = set()
        for data in Channel.objects.filter(network=NETWORK, network_data__bot_id=bot_id).values_list(
            "remote_account_id", "network_data"
        ):
            wanted |= {data[0], str((data[1] or {}).get("linked_chat_id") or "")} - {""}
        newest = BotUpdate.objects.filter(network=NETWORK, bot_id=bot_id).aggregate(m=Max("update_id"))["m"]
        offset = newest + 1 if newest is not None else None
        for _page in range(UPDATE_PAGES):
            params: dict[str, Any] = {"limit": UPDATES_PAGE, "timeout": 0, "allowed_updates": ALLOWED_UPDATES}
            if offset is not None:
                params["offset"] = offset
            updates = api.call(token, "getUpdates", "getUpdates", params=params)
            if not isinstance(updates, list) or not updates:
                break
            rows = []
            for update in updates:
                message = update.get("message") or update.get("channel_post") or {}
                rows.append(
                    BotUpdate(
                        network=NETWORK,
                        bot_id=bot_id,
                        update_id=int(update["update_id"]),
                        chat_id=str((message.get("chat") or {}).get("id") or ""),
                        payload=update,
                    )
                )
            BotUpdate.objects.bulk_create([row for row in rows if row.chat_id in wanted], ignore_conflicts=True)
            offset = max(int(u["update_id"]) for u in updates) + 1
            if len(updates) < UPDATES_PAGE:
                break

    @staticmethod
    def _event(
        message: dict[str, Any], channel: Channel, group: str, bot_id: str, forwards: dict[str, str]
    ) -> Event | None:
        occurred = _when(message.get("date"))
        if occurred is None or not message.get("message_id"):
            return None
        sender_chat = message.get("sender_chat") or {}
        if str(sender_chat.get("id") or "") == channel.remote_account_id:
            return None  # written as the channel itself: our side of the conversation
        author = message.get("from") or {}
        if sender_chat:
            author_fields = {
                "author_id": str(sender_chat.get("id") or ""),
                "author_handle": str(sender_chat.get("username") or ""),
                "author_name": str(sender_chat.get("title") or ""),
            }
        else:
            name = " ".join(str(author.get(k) or "") for k in ("first_name", "last_name")).strip()
            author_fields = {
                "author_id": str(author.get("id") or ""),
                "author_handle": str(author.get("username") or ""),
                "author_name": name,
                "author_language": str(author.get("language_code") or ""),
            }
        parent = message.get("reply_to_message") or {}
        by_forward = {group_id: post_id for post_id, group_id in forwards.items()}
        post_id = ""
        kind = "comment"
        if parent:
            origin = parent.get("forward_origin") or {}
            if parent.get("is_automatic_forward") and origin.get("message_id"):
                post_id = str(origin["message_id"])
            elif str((parent.get("from") or {}).get("id") or "") == bot_id:
                kind = "reply"  # an answer to one of our replies
        thread = message.get("message_thread_id")
        if not post_id and thread is not None:
            post_id = by_forward.get(str(thread), "")
        text = str(message.get("text") or message.get("caption") or "")
        return Event(
            kind=kind,
            remote_id=f"{group}:{message['message_id']}",
            occurred_at=occurred,
            text=text,
            in_reply_to=f"{group}:{parent['message_id']}" if parent.get("message_id") else "",
            post_remote_id=f"{channel.remote_account_id}:{post_id}" if post_id else "",
            data={"media": any(message.get(k) for k in ("photo", "video", "animation", "document", "sticker"))},
            **author_fields,
        )

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        """Followers only: bots can read neither views nor reactions of a channel's posts."""
        token = self._token(channel)
        count = api.call(token, "getChatMemberCount", "metrics", params={"chat_id": channel.remote_account_id})
        return [
            Metric(remote_id=channel.remote_account_id, observed_at=timezone.now(), values={"followers": int(count)})
        ]

    def refresh_credentials(self, channel: Channel) -> Credentials:
        """Bot tokens do not expire; they stop working only when revoked in @BotFather. We check
        the token (getMe) and keep it."""
        api.call(self._token(channel), "getMe", "getMe")
        return dict(channel.credentials)
