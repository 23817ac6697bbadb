"""Encryption at rest for credentials (Fernet; the first key encrypts, every key decrypts)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache, lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _fernet_key(secret: str) -> bytes:
    """Accept a Fernet key as is; derive one from any other secret string."""
    try:
        if len(base64.urlsafe_b64decode(secret.encode())) == 32:
            return secret.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("STAMMTISCH_ENCRYPTION_KEYS must name at least one key.")
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def encrypt(plain: str) -> str:
    return _fernet(tuple(settings.ENCRYPTION_KEYS)).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    return _decrypt(tuple(settings.ENCRYPTION_KEYS), token)


@lru_cache(maxsize=4096)
def _decrypt(keys: tuple[str, ...], token: str) -> str:
    """Remembered per token and keys: the publisher loads each channel of a batch again (a
    decryption per channel and batch was a tenth of its time); a changed credential is a new
    token. Only the worker's and server's own memory, which holds the plain credentials while it
    uses them anyway."""
    try:
        return _fernet(keys).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted: STAMMTISCH_ENCRYPTION_KEYS does not hold the key "
            "they were encrypted with."
        ) from None


class EncryptedJSONField(models.TextField):
    """A JSON value stored encrypted. Never shown in admin, logs or audit data."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return {}
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(decrypt(value)) if value else {}
        return value if value is not None else {}

    def get_prep_value(self, value: Any) -> str:
        return encrypt(json.dumps(value if value is not None else {}, sort_keys=True))
