"""What the Facebook and Instagram connectors share: the channel's Page token, the Graph client and
the record of what we sent (`OutboundPost`), since the Graph API has no idempotency key."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import httpx
from django.db import transaction

from stammtisch.networks.base import Credentials, MediaItem, Network, NetworkError
from stammtisch.networks.meta import api
from stammtisch.networks.models import Channel, OutboundPost

FIND_MARGIN = dt.timedelta(minutes=5)  # clock difference between us and Meta
FIND_PAGES = 5  # pages of the account's posts searched by find_published


def text_fingerprint(text: str) -> str:
    """SHA-256 of a text as Graph returns it (surrounding white space stripped, line ends \\n)."""
    return hashlib.sha256(text.replace("\r\n", "\n").strip().encode("utf-8")).hexdigest()


class MetaNetwork(Network):
    """Base of FacebookNetwork and InstagramNetwork (not registered itself)."""

    network_label: ClassVar[str]

    def _public_url(self, item: MediaItem) -> str:
        """Meta fetches media by URL: the file's public address on this instance."""
        if not item.url.startswith(("https://", "http://")):
            raise NetworkError(
                f"{self.network_label} fetches media from a public address, and this file has none "
                "(is STAMMTISCH_BASE_URL reachable from the internet?)",
                permanent=True,
            )
        return item.url

    def _token(self, channel: Channel) -> str:
        if channel.network != self.key:
            raise NetworkError(f"Not a {self.network_label} channel: {channel.network}", permanent=True)
        token = (channel.credentials or {}).get("access_token")
        if not isinstance(token, str) or not token or not channel.remote_account_id:
            raise NetworkError(f"{self.network_label}: the channel has no access token; please reconnect it", auth=True)
        return token

    @contextmanager
    def _client(self, channel: Channel) -> Iterator[httpx.Client]:
        with api.client(self._token(channel)) as http:
            yield http

    @staticmethod
    def _record(channel: Channel, key: str, text: str, in_reply_to: str, media_count: int) -> OutboundPost:
        """Remember what we are about to send (before sending), for `find_published`. A retry keeps
        the first send time, so the search window covers every attempt."""
        record, created = OutboundPost.objects.get_or_create(
            channel=channel,
            idempotency_key=key,
            defaults={"text_sha256": text_fingerprint(text), "in_reply_to": in_reply_to, "media_count": media_count},
        )
        if not created:
            record.text_sha256, record.in_reply_to, record.media_count = (
                text_fingerprint(text),
                in_reply_to,
                media_count,
            )
            record.save(update_fields=["text_sha256", "in_reply_to", "media_count"])
        return record

    @staticmethod
    def _window_start(record: OutboundPost, since: dt.datetime) -> dt.datetime:
        return min(record.sent_at, since) - FIND_MARGIN

    @staticmethod
    def _remember(channel: Channel, name: str, key: str, value: str, keep: int = 50) -> None:
        """Keep a small non-secret fact per idempotency key in `network_data[name]` (Instagram's
        container ids), updated under a row lock so concurrent workers do not lose each other's."""
        with transaction.atomic():
            row = Channel.objects.select_for_update().get(pk=channel.pk)
            data = dict(row.network_data or {})
            entries = dict(data.get(name) or {})
            entries.pop(key, None)
            entries[key] = value
            data[name] = dict(list(entries.items())[-keep:])
            row.network_data = data
            row.save(update_fields=["network_data"])
        channel.network_data = data

    def refresh_credentials(self, channel: Channel) -> Credentials:
        """Page tokens derived from a long-lived user token do not expire and have no refresh
        token: we check that the token still works (`auth` when it was revoked) and keep it."""
        with self._client(channel) as http:
            api.call(http, "GET", channel.remote_account_id, f"{self.network_label} account", params={"fields": "id"})
        return dict(channel.credentials)
