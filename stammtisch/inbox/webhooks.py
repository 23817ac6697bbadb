"""Push ingestion (docs/inbox.md "Webhooks"): Meta's webhooks for Facebook, Instagram and Threads,
and Telegram's bot updates, into the same idempotent path as the sync job.

* Meta: `signature_ok` checks X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app
  secret). `meta_items` walks a notification (`object` page or instagram with `entry[].changes[]`
  and `entry[].messaging[]`; Threads with `target_id` and `values`), the account id of each item
  names the channel (`Channel.remote_account_id`: the Page id, the IG user id, the Threads user
  id) and `to_event` turns the item into the same `Event` the connector's `fetch_activity` gives
  for it: the same remote id, post and parent. `store_meta` then calls `ingest.store_events`, so
  an event that arrives by webhook and again by the sync is stored once.
* Telegram: the bot's update is stored as a `BotUpdate` (the table the connector's getUpdates
  fills), and the channels of the bot are synced at once: the connector's own `fetch_activity`
  parses the update (it does not call getUpdates for a bot with a webhook, which Telegram would
  refuse). `telegram_secret` is the `secret_token` given to setWebhook, derived from the server's
  SECRET_KEY, the channel and its bot token (nothing to store; a new bot token changes it).

A webhook delivery also sets `Channel.last_synced_at` (one UPDATE per channel and delivery).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from stammtisch.inbox import ingest, sync
from stammtisch.inbox.models import SyncState
from stammtisch.networks.base import Event
from stammtisch.networks.meta.api import parse_time
from stammtisch.networks.models import BotUpdate, Channel

log = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
META_OBJECTS = {"page": "facebook", "instagram": "instagram"}
TELEGRAM = "telegram"
WEBHOOK_FLAG = "webhook"  # Channel.network_data: Telegram updates arrive by webhook (no getUpdates)


# --- Meta -------------------------------------------------------------------------------------------


def signature_ok(body: bytes, header: str | None, secret: str) -> bool:
    """X-Hub-Signature-256: "sha256=" and the hex HMAC-SHA256 of the raw body with the app secret."""
    if not secret or not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len(SIGNATURE_PREFIX) :].strip().lower())


@dataclass(frozen=True)
class Item:
    network: str
    account_id: str  # the channel's remote_account_id
    kind: str  # fb_feed, messaging, ig_comment, ig_mention, th_reply, th_mention
    value: dict[str, Any]
    sent_at: dt.datetime | None  # when Meta sent the notification (entry.time)


def _epoch(value: Any) -> dt.datetime | None:
    """Meta gives times as Unix seconds, Messenger in milliseconds, Threads as ISO text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return parse_time(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def meta_items(payload: Any, threads: bool = False) -> Iterator[Item]:
    """Every comment, mention or message of a Meta notification (others are skipped)."""
    if isinstance(payload, list):
        for part in payload:
            yield from meta_items(part, threads)
        return
    payload = _dict(payload)
    if threads or "values" in payload:
        yield from _threads_items(payload)
        return
    network = META_OBJECTS.get(str(payload.get("object") or ""))
    if network is None:
        return
    for entry in payload.get("entry") or []:
        entry = _dict(entry)
        account = str(entry.get("id") or "")
        sent = _epoch(entry.get("time"))
        for change in entry.get("changes") or []:
            change = _dict(change)
            field, value = str(change.get("field") or ""), _dict(change.get("value"))
            kind = {
                ("facebook", "feed"): "fb_feed",
                ("instagram", "comments"): "ig_comment",
                ("instagram", "live_comments"): "ig_comment",
                ("instagram", "mentions"): "ig_mention",
            }.get((network, field))
            if kind and value:
                yield Item(network, account, kind, value, sent)
        for message in entry.get("messaging") or []:
            if isinstance(message, dict):
                yield Item(network, account, "messaging", message, sent)


def _threads_items(payload: dict[str, Any]) -> Iterator[Item]:
    values = payload.get("values")
    for entry in values if isinstance(values, list) else [values]:
        entry = _dict(entry)
        value = _dict(entry.get("value"))
        kind = {"replies": "th_reply", "mentions": "th_mention"}.get(str(entry.get("field") or ""))
        if not kind or not value:
            continue
        account = str(payload.get("target_id") or _dict(value.get("root_post")).get("owner_id") or "")
        yield Item("threads", account, kind, value, _epoch(payload.get("time")))


def to_event(item: Item, channel: Channel) -> Event | None:
    """The Event the connector's fetch_activity gives for the same comment (None: not ours to store)."""
    value = item.value
    if item.kind == "fb_feed":
        return _facebook_comment(value, channel, item.sent_at)
    if item.kind == "messaging":
        return _message(value, channel)
    if item.kind == "ig_comment":
        return _instagram_comment(value, channel, item.sent_at)
    if item.kind == "ig_mention":
        remote = str(value.get("comment_id") or value.get("media_id") or "")
        if not remote or item.sent_at is None:
            return None
        # The notification carries only ids: the connector reads the text (docs/networks/instagram.md).
        # If Instagram cannot answer now, the mention is stored without its text rather than lost.
        from stammtisch.networks.base import NetworkError
        from stammtisch.networks.instagram.connector import InstagramNetwork

        try:
            return InstagramNetwork().fetch_mention(
                channel,
                media_id=str(value.get("media_id") or ""),
                comment_id=str(value.get("comment_id") or ""),
                occurred_at=item.sent_at,
            )
        except NetworkError as exc:
            log.warning("Instagram mention %s of channel %s: text not read: %s", remote, channel.pk, exc.message)
        return Event(
            kind="mention",
            remote_id=remote,
            occurred_at=item.sent_at,
            text=str(value.get("text") or ""),
            data={"thread": str(value.get("media_id") or remote)},
        )
    if item.kind in ("th_reply", "th_mention"):
        return _threads_post(value, channel, item.kind == "th_mention")
    return None


def _facebook_comment(value: dict[str, Any], channel: Channel, sent: dt.datetime | None) -> Event | None:
    if value.get("item") != "comment" or not value.get("comment_id"):
        return None  # posts, reactions, shares: not conversations
    author = _dict(value.get("from"))
    if str(author.get("id") or "") == channel.remote_account_id:
        return None  # our own comments are not activity (as in fetch_activity)
    occurred = _epoch(value.get("created_time")) or sent
    if occurred is None:
        return None
    post_id = str(value.get("post_id") or "")
    parent = str(value.get("parent_id") or "")
    verb = value.get("verb")
    data: dict[str, Any] = {"url": f"https://www.facebook.com/{value['comment_id']}"}
    if verb == "edited":
        data["edited"] = True
    elif verb == "remove":
        data["deleted"] = True
    return Event(
        kind="reply" if parent and parent != post_id else "comment",
        remote_id=str(value["comment_id"]),
        occurred_at=occurred,
        author_id=str(author.get("id") or ""),
        author_name=str(author.get("name") or ""),
        text=str(value.get("message") or ""),
        in_reply_to=parent or post_id,
        post_remote_id=post_id,
        data=data,
    )


def _message(value: dict[str, Any], channel: Channel) -> Event | None:
    """Messenger and Instagram direct messages: one conversation per person."""
    message = _dict(value.get("message"))
    sender = str(_dict(value.get("sender")).get("id") or "")
    occurred = _epoch(value.get("timestamp"))
    if not message.get("mid") or message.get("is_echo") or not sender or occurred is None:
        return None  # read receipts, reactions, our own messages echoed back
    if sender == channel.remote_account_id:
        return None
    data: dict[str, Any] = {"conversation": sender}
    if message.get("is_deleted"):
        data["deleted"] = True
    return Event(
        kind="message",
        remote_id=str(message["mid"]),
        occurred_at=occurred,
        author_id=sender,
        text=str(message.get("text") or ""),
        data=data,
    )


def _instagram_comment(value: dict[str, Any], channel: Channel, sent: dt.datetime | None) -> Event | None:
    author = _dict(value.get("from"))
    username = str(author.get("username") or value.get("username") or "")
    if str(author.get("id") or "") == channel.remote_account_id or (username and username == channel.handle):
        return None
    occurred = _epoch(value.get("timestamp")) or sent
    media = str(_dict(value.get("media")).get("id") or "")
    if not value.get("id") or occurred is None:
        return None
    parent = str(value.get("parent_id") or "")
    return Event(
        kind="reply" if parent else "comment",
        remote_id=str(value["id"]),
        occurred_at=occurred,
        author_id=str(author.get("id") or ""),
        author_handle=username,
        author_name=username,
        text=str(value.get("text") or ""),
        in_reply_to=parent or media,
        post_remote_id=media,
    )


def _threads_post(value: dict[str, Any], channel: Channel, mention: bool) -> Event | None:
    occurred = _epoch(value.get("timestamp"))
    username = str(value.get("username") or "")
    if not value.get("id") or occurred is None or username == channel.handle:
        return None
    root = _dict(value.get("root_post"))
    parent = str(_dict(value.get("replied_to")).get("id") or "")
    permalink = str(value.get("permalink") or "")
    data = {"url": permalink} if permalink.startswith("https://") else {}
    if mention:
        if str(root.get("owner_id") or "") == channel.remote_account_id:
            return None  # a reply under our own post: the replies webhook has it
        return Event(
            kind="mention",
            remote_id=str(value["id"]),
            occurred_at=occurred,
            author_handle=username,
            author_name=username,
            text=str(value.get("text") or ""),
            in_reply_to=parent,
            data=data,
        )
    post_id = str(root.get("id") or parent)
    parent = parent or post_id
    return Event(
        kind="comment" if parent == post_id else "reply",
        remote_id=str(value["id"]),
        occurred_at=occurred,
        author_handle=username,
        author_name=username,
        text=str(value.get("text") or ""),
        in_reply_to=parent,
        post_remote_id=post_id,
        data=data,
    )


@dataclass
class Outcome:
    items: int = 0
    channels: int = 0
    stored: int = 0  # new messages
    unknown_accounts: int = 0


def store_meta(payload: Any, now: dt.datetime, *, threads: bool = False) -> Outcome:
    """Store what a (signature-checked) Meta notification reports, per channel in one transaction."""
    outcome = Outcome()
    by_account: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for item in meta_items(payload, threads):
        outcome.items += 1
        by_account[(item.network, item.account_id)].append(item)
    for (network, account), items in by_account.items():
        channels = list(
            Channel.objects.filter(network=network, remote_account_id=account).exclude(
                health=Channel.Health.DISCONNECTED
            )
            if account
            else []
        )
        if not channels:
            outcome.unknown_accounts += 1
            log.info("%s webhook for account %s: no connected channel, ignored", network, account or "?")
            continue
        for channel in channels:
            events = [event for event in (to_event(item, channel) for item in items) if event is not None]
            with transaction.atomic():
                result = ingest.store_events(channel, events, now=now)
                Channel.objects.filter(pk=channel.pk).update(last_synced_at=now)
            outcome.channels += 1
            outcome.stored += result.messages
    return outcome


# --- Telegram ---------------------------------------------------------------------------------------


def telegram_secret(channel: Channel) -> str:
    """The `secret_token` of the channel's webhook (64 hex characters, as Telegram allows)."""
    token = str((channel.credentials or {}).get("bot_token") or "")
    message = f"stammtisch-telegram-webhook:{channel.pk}:{token}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def telegram_secret_ok(channel: Channel, header: str | None) -> bool:
    if not header or not (channel.credentials or {}).get("bot_token"):
        return False
    return hmac.compare_digest(telegram_secret(channel), header)


def telegram_webhook_url(channel: Channel) -> str:
    return settings.BASE_URL + reverse("inbox:webhook_telegram", args=[channel.pk])


def _bot_channels(channel: Channel) -> list[Channel]:
    bot_id = str((channel.network_data or {}).get("bot_id") or "")
    if not bot_id:
        return [channel]
    return list(
        Channel.objects.filter(network=TELEGRAM, network_data__bot_id=bot_id).exclude(
            health=Channel.Health.DISCONNECTED
        )
    )


def _chats(channel: Channel) -> set[str]:
    return {channel.remote_account_id, str((channel.network_data or {}).get("linked_chat_id") or "")} - {""}


def mark_webhook(channels: list[Channel], on: bool) -> None:
    """Set (or clear) the flag that makes the connector read only what webhooks stored."""
    for channel in channels:
        with transaction.atomic():
            locked = Channel.objects.select_for_update().get(pk=channel.pk)
            data = dict(locked.network_data or {})
            if bool(data.get(WEBHOOK_FLAG)) == on:
                continue
            if on:
                data[WEBHOOK_FLAG] = True
            else:
                data.pop(WEBHOOK_FLAG, None)
            Channel.objects.filter(pk=channel.pk).update(network_data=data)
            channel.network_data = data


def store_telegram(channel: Channel, update: Any, now: dt.datetime) -> int:
    """Keep one bot update (as getUpdates would have) and sync the channels of the bot it concerns
    at once. Returns how many new messages were stored."""
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        return 0
    message = _dict(update.get("message") or update.get("channel_post"))
    chat_id = str(_dict(message.get("chat")).get("id") or "")
    channels = _bot_channels(channel)
    mark_webhook(channels, True)
    concerned = [c for c in channels if chat_id in _chats(c)]
    if not concerned:
        return 0  # a chat no channel of this bot reads (say, a private message to the bot)
    bot_id = str((channel.network_data or {}).get("bot_id") or "")
    BotUpdate.objects.bulk_create(
        [BotUpdate(network=TELEGRAM, bot_id=bot_id, update_id=update["update_id"], chat_id=chat_id, payload=update)],
        ignore_conflicts=True,
    )
    return sum(sync_now(c, now) for c in concerned)


def sync_now(channel: Channel, now: dt.datetime) -> int:
    """Read one channel at once through the sync job (claim, fetch_activity, store, cursor). When a
    worker is reading it right now, it is left due at once for the worker."""
    state, _created = SyncState.objects.get_or_create(
        channel=channel, defaults={"workspace_id": channel.workspace_id, "next_sync_at": now}
    )
    if state.state != SyncState.State.ACTIVE:
        return 0
    SyncState.objects.filter(pk=state.pk, lease_owner="").update(next_sync_at=now)
    worker = f"webhook-{uuid.uuid4().hex[:12]}"
    stored = 0
    for pk in sync.claim(worker, now=now, limit=1, where=Q(pk=state.pk)):
        stored += sync.sync_one(pk, worker, now=now)
    return stored
