"""Recording clicks without spying (docs/links.md "Privacy").

The redirector's hot path is `resolve(code)` (one indexed lookup, then a per-process cache) and
`record_click(...)` (one line appended to the process's click spool before the 302 is sent, so
a click is never lost; spool.py imports the spool into the Click table). The
visitor hash is SHA-256 of the day's secret salt, the workspace, the IP address and the
User-Agent; neither address nor User-Agent is stored, and the salt of a day is deleted the next
day, so hashes of different days cannot be linked and no hash can be recomputed later.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.encoding import iri_to_uri

from stammtisch.links import spool
from stammtisch.links.models import Click, DailySalt, Device, LinkSettings, ShortLink, new_click_uid

LINK_CACHE_SECONDS = 60  # an edited target reaches every web process within a minute
MISSING_CACHE_SECONDS = 10
MAX_CACHED_LINKS = 10_000
CLICK_PARAM = "stm_click"
BOT_LIST = Path(__file__).parent / "data" / "bots.txt"


@dataclass(frozen=True)
class Resolved:
    """What the redirector needs of a link, as cached."""

    link_id: int
    workspace_id: int
    post_id: int | None
    channel_id: int | None
    destination: str
    expires_at: float | None  # a POSIX time stamp
    append_click_id: bool

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


_links: dict[str, tuple[float, Resolved | None]] = {}  # code -> (valid until, link), this process


def resolve(code: str) -> Resolved | None:
    """The link of `code`, from this process's memory or one indexed query; None if unknown.
    Kept for LINK_CACHE_SECONDS (MISSING_CACHE_SECONDS for unknown codes)."""
    now = time.monotonic()
    cached = _links.get(code)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = (
        ShortLink.objects.filter(code=code)
        .only(
            "pk",
            "workspace_id",
            "post_id",
            "channel_id",
            "target",
            "expires_at",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_content",
            "utm_term",
        )
        .first()
    )
    if row is None:
        _remember(code, None, now + MISSING_CACHE_SECONDS)
        return None
    append = (
        LinkSettings.objects.filter(workspace_id=row.workspace_id).values_list("append_click_id", flat=True).first()
    )
    resolved = Resolved(
        link_id=row.pk,
        workspace_id=row.workspace_id,
        post_id=row.post_id,
        channel_id=row.channel_id,
        destination=iri_to_uri(row.destination),
        expires_at=row.expires_at.timestamp() if row.expires_at else None,
        append_click_id=True if append is None else append,
    )
    _remember(code, resolved, now + LINK_CACHE_SECONDS)
    return resolved


def _remember(code: str, resolved: Resolved | None, until: float) -> None:
    if len(_links) >= MAX_CACHED_LINKS:
        _links.clear()  # simple and bounded: the hot links come back with one query each
    _links[code] = (until, resolved)


def forget(code: str) -> None:
    """Drop a link from this process's memory (after an edit; other processes within a minute)."""
    _links.pop(code, None)


def forget_all() -> None:
    _links.clear()


# --- the visitor hash ---------------------------------------------------------------------------

_salt_lock = threading.Lock()
_salt: tuple[dt.date, str] | None = None


def salt_of_today(today: dt.date | None = None) -> str:
    """The secret salt of the UTC day, made by whichever process needs it first; the salts of
    earlier days are deleted at the same time."""
    global _salt
    today = today or dt.datetime.now(dt.UTC).date()
    current = _salt
    if current is not None and current[0] == today:
        return current[1]
    with _salt_lock:
        row = DailySalt.objects.filter(day=today).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = DailySalt.objects.create(day=today, salt=secrets.token_hex(32))
                    DailySalt.objects.filter(day__lt=today).delete()
            except IntegrityError:  # another process made it first
                row = DailySalt.objects.get(day=today)
        _salt = (today, row.salt)
        return row.salt


def forget_salt() -> None:
    """Tests: the next hash reads the salt from the database again."""
    global _salt
    _salt = None


def visitor_hash(workspace_id: int, ip: str, user_agent: str, *, today: dt.date | None = None) -> str:
    material = f"{salt_of_today(today)}\n{workspace_id}\n{ip}\n{user_agent}"
    return hashlib.sha256(material.encode()).hexdigest()


# --- what a request tells -----------------------------------------------------------------------


@functools.cache
def bot_fragments() -> tuple[str, ...]:
    lines = BOT_LIST.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


@functools.cache
def _bot_pattern() -> re.Pattern[str]:
    return re.compile("|".join(re.escape(fragment) for fragment in bot_fragments()))


def is_bot(user_agent: str) -> bool:
    ua = user_agent.lower()
    return not ua.strip() or _bot_pattern().search(ua) is not None


@functools.lru_cache(maxsize=4096)  # few User-Agents are common; each is classified once
def device_class(user_agent: str) -> str:
    ua = user_agent.lower()
    if is_bot(ua):
        return Device.BOT
    if "ipad" in ua or "tablet" in ua or ("android" in ua and "mobile" not in ua):
        return Device.TABLET
    if "mobi" in ua or "iphone" in ua or "android" in ua:
        return Device.MOBILE
    if any(word in ua for word in ("windows", "macintosh", "x11", "linux", "cros")):
        return Device.DESKTOP
    return Device.OTHER


@functools.lru_cache(maxsize=4096)  # apps often send only their origin: few distinct referrers
def referrer_domain(referrer: str) -> str:
    """Only the host of the referring page: never its path or query."""
    try:
        host = urlsplit(referrer).hostname or ""
    except ValueError:
        return ""
    host = host.lower()
    return host[4:] if host.startswith("www.") else host[:253]


# --- recording ----------------------------------------------------------------------------------


def record_click(
    resolved: Resolved,
    *,
    ip: str,
    user_agent: str,
    referrer: str = "",
    via_qr: bool = False,
    head: bool = False,
    now: float | None = None,
) -> str:
    """Spool the click (spool.py) and return its uid once the record is in this process's spool
    file: the visitor is sent on only after that, so no click is lost, not even when the process
    is killed right after answering. The worker's "click import" job stores it in the Click table
    within about a second; `spool.import_spool()` does it at once (tests, reports that wait)."""
    device = device_class(user_agent)
    bot = head or device == Device.BOT
    uid = new_click_uid()
    record = (
        uid,
        resolved.link_id,
        resolved.workspace_id,
        resolved.post_id,
        resolved.channel_id,
        time.time() if now is None else now,
        referrer_domain(referrer),
        Device.BOT.value if bot else device,
        visitor_hash(resolved.workspace_id, ip, user_agent),
        bot,
        via_qr,
    )
    spool.WRITER.append(spool.encode(record), settings.CLICK_SPOOL_DIR, fsync=settings.CLICK_SPOOL_FSYNC)
    return uid


# --- the click id carried to the website --------------------------------------------------------


_UID = re.compile(r"^[0-9a-f]{1,32}$")


def _signature(click_uid: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"stm_click:{click_uid}".encode(), hashlib.sha256).hexdigest()[:12]


def click_token(click_uid: str) -> str:
    """`<uid>.<signature>`: the website can pass it back, but nobody can make up another one."""
    return f"{click_uid}.{_signature(click_uid)}"


def click_uid_of(token: str) -> str | None:
    uid, _dot, signature = (token or "").strip().partition(".")
    if not _UID.match(uid):
        return None
    return uid if hmac.compare_digest(signature, _signature(uid)) else None


def click_of(token: str, workspace_id: int) -> Click | None:
    """The stored click of a valid token of this workspace. A click a moment old may still be in
    a spool file: then the spool is imported first (it is at most a pass of the importer behind)."""
    uid = click_uid_of(token)
    if uid is None:
        return None
    click = Click.objects.filter(uid=uid, workspace_id=workspace_id).first()
    if click is None:
        spool.import_spool()
        click = Click.objects.filter(uid=uid, workspace_id=workspace_id).first()
    return click


def target_for(resolved: Resolved, click_uid: str | None) -> str:
    """The destination, with the click id added to its query (before any #fragment)."""
    if click_uid is None or not resolved.append_click_id:
        return resolved.destination
    address, hash_mark, fragment = resolved.destination.partition("#")
    joiner = "&" if "?" in address else "?"
    return f"{address}{joiner}{CLICK_PARAM}={click_token(click_uid)}{hash_mark}{fragment}"
