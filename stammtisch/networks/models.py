from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.crypto import EncryptedJSONField
from stammtisch.core.models import Workspace
from stammtisch.networks.base import Network
from stammtisch.networks.registry import NETWORK_NAMES, get_network, network_choices


class Channel(models.Model):
    """A connected account on one network (a Facebook page, a Mastodon account, ...)."""

    class Health(models.TextChoices):
        OK = "ok", _("Connected")
        NEEDS_RECONNECT = "reconnect", _("Needs reconnection")
        ERROR = "error", _("Errors")
        DISCONNECTED = "disconnected", _("Disconnected")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="channels")
    network = models.CharField(_("network"), max_length=32, choices=network_choices)
    handle = models.CharField(_("handle"), max_length=200)
    display_name = models.CharField(_("display name"), max_length=200)
    avatar_url = models.URLField(_("avatar"), blank=True)
    # What the network calls this account internally (a page id, a DID, ...).
    remote_account_id = models.CharField(max_length=200, blank=True)
    # Shown to the user as what the channel stands in for (the demo's Sandbox "Instagram").
    stands_in_for = models.CharField(_("stands in for"), max_length=32, blank=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    health = models.CharField(_("health"), max_length=16, choices=Health.choices, default=Health.OK)
    health_message = models.CharField(max_length=300, blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    sync_cursor = models.JSONField(default=dict, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Non-secret facts the connector needs besides the handle (Mastodon: the instance URL;
    # Telegram: the bot's id and the linked discussion group). Secrets go in `credentials`.
    network_data = models.JSONField(default=dict, blank=True)
    # When the stored access token stops working (None: it does not expire, e.g. Mastodon).
    token_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["network", "display_name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "network", "handle"], name="one_channel_per_account")
        ]

    def __str__(self) -> str:
        network = self.get_network_display()
        if self.stands_in_for_label:
            network = _("%(network)s as %(real)s") % {"network": network, "real": self.stands_in_for_label}
        return f"{self.display_name} @{self.handle} ({network})"

    @property
    def stands_in_for_label(self) -> str:
        value = self.stands_in_for
        return NETWORK_NAMES.get(value, value.title()) if value else ""

    @property
    def connector(self) -> Network:
        return get_network(self.network)

    @property
    def is_sandbox(self) -> bool:
        return self.network == "sandbox"


class OAuthApp(models.Model):
    """Our OAuth client registration on one server of a federated network (a Mastodon instance),
    made once per server, redirect URI and scopes, then reused for every workspace."""

    network = models.CharField(max_length=32)
    server = models.URLField(max_length=300)  # https://host, no trailing slash
    redirect_uri = models.URLField(max_length=500)
    scopes = models.CharField(max_length=300)
    client_id = models.CharField(max_length=300)
    secrets = EncryptedJSONField(default=dict, blank=True)  # {"client_secret": ...}
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["network", "server", "redirect_uri", "scopes"], name="one_oauth_app_per_server"
            )
        ]

    def __str__(self) -> str:
        return f"{self.network} app on {self.server}"


class OutboundPost(models.Model):
    """What a connector sent, recorded just before the request, so `find_published` can recognise
    the post after an unknown outcome without a marker in the text: a hash of the exact text, the
    post it answers and the media count. Never the text itself."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="outbound_posts")
    idempotency_key = models.CharField(max_length=100)
    text_sha256 = models.CharField(max_length=64)
    in_reply_to = models.CharField(max_length=200, blank=True)
    media_count = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "idempotency_key"], name="one_outbound_post_per_key")]

    def __str__(self) -> str:
        return f"{self.channel_id}: {self.idempotency_key}"


class BotUpdate(models.Model):
    """An update a network hands out once per bot although several channels may share the bot
    (Telegram's getUpdates confirms what it returned). The first channel to fetch stores every
    update of the bot here; each channel then reads the updates of its own chats from its cursor.
    Rows older than a week are deleted by the fetching connector."""

    network = models.CharField(max_length=32)
    bot_id = models.CharField(max_length=64)
    update_id = models.BigIntegerField()
    chat_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "bot_id", "update_id"], name="one_bot_update_per_id")]
        indexes = [models.Index(fields=["network", "bot_id", "chat_id", "update_id"], name="bot_update_chat")]

    def __str__(self) -> str:
        return f"{self.network} bot {self.bot_id}: update {self.update_id}"
