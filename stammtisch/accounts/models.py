"""Accounts: preferences, log-in attempts (for throttling), two-factor devices and sessions.

Django's own `User` stays the user model. Its `first_name` holds the whole name people give at
sign-up (`get_full_name()` returns it), `email` is unique regardless of case (see migration 0002).
"""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.crypto import decrypt


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Profile(models.Model):
    """Per-user preferences. Created when first needed (`profile_for`)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # Empty: no choice made yet; the language cookie or the browser decides.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"profile of {self.user}"


class LoginAttempt(models.Model):
    """One password or code check. Failures in a window lock an account key or an IP.

    `key` is `user:<id>` for a known account, else a hash of the typed name (never the name
    itself: people type passwords into the wrong field). Kept in the database so every web
    process sees the same counts.
    """

    key = models.CharField(max_length=80)
    ip = models.GenericIPAddressField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["key", "created_at"], name="accounts_attempt_key"),
            models.Index(fields=["ip", "created_at"], name="accounts_attempt_ip"),
            models.Index(fields=["created_at"], name="accounts_attempt_created"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {'ok' if self.succeeded else 'failed'} {self.created_at:%Y-%m-%d %H:%M}"


class TOTPDevice(models.Model):
    """A confirmed authenticator app. The secret is stored encrypted (core.crypto)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device")
    secret_encrypted = models.TextField()
    # The last time step whose code was accepted; a code of that step or earlier is refused.
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"authenticator of {self.user}"

    @property
    def secret(self) -> str:
        return decrypt(self.secret_encrypted)


class RecoveryCode(models.Model):
    """A one-time code for when the authenticator is lost. Only a hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="accounts_recovery_code_unique")]

    def __str__(self) -> str:
        return f"recovery code of {self.user}{' (used)' if self.used_at else ''}"


class UserSession(models.Model):
    """A signed-in browser. The session key is kept as a hash (to find the row) and encrypted
    (to end the session when the user signs it out from another device)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_sessions")
    key_hash = models.CharField(max_length=64, unique=True)
    key_encrypted = models.TextField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at", "-id"]

    def __str__(self) -> str:
        return f"session of {self.user} ({self.device})"

    @property
    def session_key(self) -> str:
        return decrypt(self.key_encrypted)

    @property
    def device(self) -> str:
        return describe_user_agent(self.user_agent)


_BROWSERS = [
    # Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"OPR/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* .*Safari/"),
]
_SYSTEMS = [
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("Android", r"Android"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("ChromeOS", r"CrOS"),
    ("Linux", r"Linux"),
]


def describe_user_agent(user_agent: str) -> str:
    """ "Firefox 128 on Linux" from a full user-agent string; the raw start when unknown."""
    if not user_agent:
        return str(_("Unknown device"))
    browser = next(
        ((name, m.group(1)) for name, pattern in _BROWSERS if (m := re.search(pattern, user_agent))),
        None,
    )
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, user_agent)), None)
    if browser is None and system is None:
        return user_agent[:60]
    label = f"{browser[0]} {browser[1]}" if browser else str(_("Browser"))
    if system is None:
        return label
    return str(_("%(browser)s on %(system)s") % {"browser": label, "system": system})
