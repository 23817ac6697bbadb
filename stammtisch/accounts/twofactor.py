"""TOTP (RFC 6238) and recovery codes: pure helpers, no database writes (those are in actions)."""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from stammtisch.accounts.models import sha256

ISSUER = "Stammtisch"
# Codes of the previous and the next 30-second step are accepted too (clocks drift).
STEP_TOLERANCE = 1
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: codes are read off paper. 12 characters of 31 give about 59 bits.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, user: User) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email or user.get_username(), issuer_name=ISSUER)


def qr_code_svg(uri: str, title: str) -> SafeString:
    """The QR code as inline SVG: made here, no external service sees the secret."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=2, title=title, dark="#1d1d1f", light="#ffffff")
    return mark_safe(svg.replace("<svg ", '<svg role="img" ', 1))  # segno's own output


def grouped(secret: str) -> str:
    """The secret in groups of four, as authenticator apps show it for typing in."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def clean_code(code: str) -> str:
    return re.sub(r"[^0-9a-z]", "", code.lower())


def is_totp_code(code: str) -> bool:
    return bool(re.fullmatch(r"\d{6}", clean_code(code)))


def matching_step(secret: str, code: str, *, after_step: int = 0, now: datetime | None = None) -> int | None:
    """The time step whose code this is (within the tolerance), if it is later than `after_step`."""
    code = clean_code(code)
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or timezone.now())
    for step in range(current - STEP_TOLERANCE, current + STEP_TOLERANCE + 1):
        if step > after_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        codes.add(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return sorted(codes)


def hash_recovery_code(code: str) -> str:
    return sha256(clean_code(code))
