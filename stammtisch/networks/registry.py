"""The one place that maps a network key to its connector. Connectors are imported lazily."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from stammtisch.networks.base import Network

# Names of the networks Stammtisch knows, connectable or not yet (also what a Sandbox channel may
# stand in for).
NETWORK_NAMES: dict[str, str] = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "linkedin": "LinkedIn",
    "x": "X",
    "threads": "Threads",
    "telegram": "Telegram",
    "xing": "XING",
}

# key: (label, dotted path of the connector class). Adding a network starts here (CONTRIBUTING.md).
CONNECTORS: dict[str, tuple[str | Promise, str]] = {
    "sandbox": (_("Sandbox"), "stammtisch.networks.sandbox.connector.SandboxNetwork"),
    "mastodon": ("Mastodon", "stammtisch.networks.mastodon.connector.MastodonNetwork"),
    "telegram": ("Telegram", "stammtisch.networks.telegram.connector.TelegramNetwork"),
    "bluesky": ("Bluesky", "stammtisch.networks.bluesky.connector.BlueskyNetwork"),
    "x": ("X", "stammtisch.networks.x.connector.XNetwork"),
    "linkedin": ("LinkedIn", "stammtisch.networks.linkedin.connector.LinkedInNetwork"),
    "facebook": ("Facebook", "stammtisch.networks.facebook.connector.FacebookNetwork"),
    "instagram": ("Instagram", "stammtisch.networks.instagram.connector.InstagramNetwork"),
    "threads": ("Threads", "stammtisch.networks.threads.connector.ThreadsNetwork"),
    "xing": ("XING", "stammtisch.networks.xing.connector.XingNetwork"),
}


class UnknownNetwork(KeyError):
    pass


@cache
def _load(path: str) -> type[Network]:
    cls: type[Network] = import_string(path)
    return cls


def get_network(key: str) -> Network:
    """The connector for `key`; raises UnknownNetwork for unknown or switched-off networks."""
    if key not in CONNECTORS or not settings.NETWORKS_ENABLED.get(key, False):
        raise UnknownNetwork(key)
    return _load(CONNECTORS[key][1])()


def enabled_keys() -> list[str]:
    return [key for key in CONNECTORS if settings.NETWORKS_ENABLED.get(key, False)]


def network_choices() -> list[tuple[str, str]]:
    return [(key, str(label)) for key, (label, _path) in CONNECTORS.items()]
