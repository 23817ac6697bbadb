"""`stammtisch telegram_webhook CHANNEL_ID`: have Telegram push the bot's updates to the inbox.

Calls setWebhook with the channel's webhook URL (STAMMTISCH_BASE_URL + /webhooks/telegram/<id>/,
which must be reachable over HTTPS from Telegram) and its secret token, and marks the channels of
the bot so the sync no longer calls getUpdates (Telegram refuses it while a webhook is set).
`--delete` removes the webhook (deleteWebhook) and goes back to getUpdates. docs/inbox.md
"Webhooks".
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stammtisch.inbox import webhooks
from stammtisch.networks.base import NetworkError
from stammtisch.networks.models import Channel
from stammtisch.networks.telegram import api
from stammtisch.networks.telegram.connector import ALLOWED_UPDATES


class Command(BaseCommand):
    help = "Register (or with --delete remove) the inbox webhook of a Telegram channel's bot."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel_id", type=int)
        parser.add_argument("--delete", action="store_true", help="remove the webhook; the sync uses getUpdates again")

    def handle(self, *args: Any, **options: Any) -> None:
        channel = Channel.objects.filter(pk=options["channel_id"], network=webhooks.TELEGRAM).first()
        if channel is None:
            raise CommandError(f"No Telegram channel with id {options['channel_id']}.")
        token = str((channel.credentials or {}).get("bot_token") or "")
        if not token:
            raise CommandError("The channel has no bot token; reconnect it first.")
        channels = webhooks._bot_channels(channel)
        try:
            if options["delete"]:
                api.call(token, "deleteWebhook", "deleteWebhook", params={"drop_pending_updates": False})
                webhooks.mark_webhook(channels, False)
                self.stdout.write("Webhook removed; the inbox sync reads the bot's updates with getUpdates again.")
                return
            url = webhooks.telegram_webhook_url(channel)
            if not url.startswith("https://"):
                raise CommandError(f"Telegram sends webhooks only to https:// addresses, not {url}.")
            api.call(
                token,
                "setWebhook",
                "setWebhook",
                params={
                    "url": url,
                    "secret_token": webhooks.telegram_secret(channel),
                    "allowed_updates": ALLOWED_UPDATES,
                },
            )
        except NetworkError as error:
            raise CommandError(f"Telegram: {error.message}") from None
        webhooks.mark_webhook(channels, True)
        self.stdout.write(f"Webhook set: {url}")
