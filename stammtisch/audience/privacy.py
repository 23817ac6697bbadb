"""Suppression hashes (docs/people.md "Privacy"): an erased identity leaves only
HMAC-SHA256(key, network + "\\0" + remote id), the key derived from SECRET_KEY, so the list
cannot be reversed by hashing known handles without the server's secret. Rotating SECRET_KEY
forgets the suppression list (erased people may then be re-created by a later sync)."""

from __future__ import annotations

from django.conf import settings
from django.utils.crypto import salted_hmac

SALT = "stammtisch.audience.suppression"


def suppression_hash(network: str, remote_id: str) -> str:
    value = f"{network}\0{remote_id.strip().lower() if remote_id.startswith('@') else remote_id.strip()}"
    return salted_hmac(SALT, value, secret=settings.SECRET_KEY, algorithm="sha256").hexdigest()


def handle_key(handle: str) -> str:
    """The stand-in remote id of an author the network gave no id for."""
    return "@" + handle.strip().lstrip("@").lower()
