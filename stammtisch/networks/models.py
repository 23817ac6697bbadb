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
