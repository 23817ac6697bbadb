"""Keyed hashes (docs/people.md "Privacy"). Suppression: an erased identity leaves only
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


EMAIL_SALT = "stammtisch.audience.email"


def normalise_email(email: str) -> str:
    """The form in which two spellings of one address are equal: trimmed, lower case."""
    return (email or "").strip().lower()


def email_hash(workspace_id: int | None, email: str) -> str:
    """HMAC-SHA256 of workspace and normalised e-mail, keyed from SECRET_KEY: a person's e-mail and
    a conversion's are compared by this hash only, and hashes of different workspaces differ.
    Empty for an empty address. Rotating SECRET_KEY makes old and new hashes differ."""
    value = normalise_email(email)
    if not value or workspace_id is None:
        return ""
    return salted_hmac(
        EMAIL_SALT, f"{workspace_id}\0{value}", secret=settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()
