"""Connection health of channels (docs/networks/health.md).

* `status(channel, now)`: one word per channel for the health page: ok, needs reconnection,
  token expiring soon, sync failing (or disconnected).
* `reconnect_url(channel)`: where to reconnect a channel in place. By default each network's
  connect page (`<key>:connect`, which reconnects the same account in place); a network whose
  channels are reconnected differently registers its own with `register_reconnect_url`.
* `warn_expiring_tokens(now)`: the worker's daily look at tokens that expire within 7 days (and
  again within 1 day): it first tries `refresh_credentials` where the connector supports it, and
  tells the owners and admins (in the app and by e-mail) only when the token still expires.

A short network hiccup never disconnects a channel: only an auth error from the network marks a
channel as needing reconnection (publishing/publisher.py `_needs_reconnect`); a failed refresh
here only warns.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from stammtisch.networks.actions import merge_credentials
from stammtisch.networks.base import NetworkError
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import UnknownNetwork

log = logging.getLogger(__name__)

EXPIRY_SOON = dt.timedelta(days=7)
# Warnings before a token expires: each is sent once per token (per `token_expires_at`).
THRESHOLDS: tuple[tuple[str, dt.timedelta], ...] = (("1d", dt.timedelta(days=1)), ("7d", EXPIRY_SOON))
REFRESH_EVERY = dt.timedelta(days=1)  # at most one refresh attempt per channel and day
# Keys in Channel.network_data (not secret): the warnings sent for the current token, and when a
# refresh was last tried.
WARNED_KEY = "token_warnings"
TRIED_KEY = "token_refresh_tried_at"


class Status:
    OK = "ok"
    RECONNECT = "reconnect"
    EXPIRING = "expiring"
    SYNC_FAILING = "sync_failing"
    DISCONNECTED = "disconnected"


STATUS_LABELS: dict[str, str | Promise] = {
    Status.OK: _("OK"),
    Status.RECONNECT: _("Needs reconnection"),
    Status.EXPIRING: _("Token expiring soon"),
    Status.SYNC_FAILING: _("Sync failing"),
    Status.DISCONNECTED: _("Disconnected"),
}
STATUS_BADGES: dict[str, str] = {
    Status.OK: "badge-ok",
    Status.RECONNECT: "badge-danger",
    Status.EXPIRING: "badge-warn",
    Status.SYNC_FAILING: "badge-warn",
    Status.DISCONNECTED: "",
}


def status(channel: Channel, now: dt.datetime) -> str:
    """The channel's status: a dead or expired token first, then failing syncs, then a token that
    expires within EXPIRY_SOON."""
    if channel.health == Channel.Health.DISCONNECTED:
        return Status.DISCONNECTED
    expires = channel.token_expires_at
    if channel.health == Channel.Health.NEEDS_RECONNECT or (expires is not None and expires <= now):
        return Status.RECONNECT
    if channel.health == Channel.Health.ERROR:
        return Status.SYNC_FAILING
    if expires is not None and expires - now <= EXPIRY_SOON:
        return Status.EXPIRING
    return Status.OK


# --- reconnecting ------------------------------------------------------------------------------

ReconnectUrl = Callable[[Channel], "str | None"]
_RECONNECT_URLS: dict[str, ReconnectUrl] = {}


def register_reconnect_url(network: str, build: ReconnectUrl) -> None:
    """Let a network say where its channels are reconnected (called from its AppConfig.ready)."""
    _RECONNECT_URLS[network] = build


def reconnect_url(channel: Channel) -> str | None:
    """Where a member reconnects this channel in place (the same account keeps its channel row and
    history: networks/actions.py `do_connect_channel`); None when its network has no such page on
    this server."""
    build = _RECONNECT_URLS.get(channel.network)
    if build is not None:
        return build(channel)
    try:
        return reverse(f"{channel.network}:connect", kwargs={"slug": channel.workspace.slug})
    except NoReverseMatch:
        return None


@dataclass(frozen=True)
class HealthRow:
    channel: Channel
    status: str
    label: str
    badge: str
    reconnect_url: str | None
    token_expired: bool


def health_rows(channels: list[Channel], now: dt.datetime) -> list[HealthRow]:
    rows = []
    for channel in channels:
        state = status(channel, now)
        rows.append(
            HealthRow(
                channel=channel,
                status=state,
                label=str(STATUS_LABELS[state]),
                badge=STATUS_BADGES[state],
                reconnect_url=reconnect_url(channel),
                token_expired=channel.token_expires_at is not None and channel.token_expires_at <= now,
            )
        )
    return rows


# --- token expiry warnings (a worker job) ------------------------------------------------------


def _threshold(expires: dt.datetime, now: dt.datetime) -> str:
    """The tightest threshold the token is within ("1d" or "7d")."""
    return next(name for name, within in THRESHOLDS if expires - now <= within)


def _try_refresh(channel: Channel, now: dt.datetime) -> str:
    """Try `refresh_credentials` once a day per channel. Returns the error to show ("" when
    refreshed, not supported or not tried). Credentials are merged, so a stored refresh token is
    never replaced by an empty one."""
    tried = (channel.network_data or {}).get(TRIED_KEY)
    if tried and now - dt.datetime.fromisoformat(tried) < REFRESH_EVERY:
        return ""
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        locked.network_data = {**(locked.network_data or {}), TRIED_KEY: now.isoformat()}
        locked.save(update_fields=["network_data"])
    channel.network_data = locked.network_data
    try:
        connector = channel.connector
        fresh = connector.refresh_credentials(channel)
    except (NotImplementedError, UnknownNetwork):
        return ""
    except NetworkError as error:
        log.warning("channel %s: token refresh failed (%s)", channel.pk, "auth" if error.auth else "transient")
        return error.message
    except Exception as error:  # a connector bug must not stop the warnings of other channels
        log.exception("channel %s: token refresh raised %s", channel.pk, type(error).__name__)
        return str(type(error).__name__)
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        locked.credentials = merge_credentials(locked.credentials, fresh)
        locked.save(update_fields=["credentials"])
    return ""


def _notify_expiring(channel: Channel, expires: dt.datetime, threshold: str, error: str, now: dt.datetime) -> None:
    from stammtisch.core.roles import Perm
    from stammtisch.notifications import kinds
    from stammtisch.notifications.notify import members_with, notify

    workspace = channel.workspace
    local = timezone.localtime(expires, workspace.tz)
    notify(
        kinds.CHANNEL_TOKEN_EXPIRING,
        workspace,
        [pk for pk, _role in members_with(workspace, Perm.MANAGE)],
        data={
            "channel": channel.display_name or channel.handle,
            "network": channel.get_network_display(),
            "expires": local.strftime("%Y-%m-%d %H:%M"),
            "threshold": threshold,
            "error": error[:300],
            "channel_id": channel.pk,
        },
        link=reverse("networks:health", kwargs={"slug": workspace.slug}),
        dedup_key=f"{kinds.CHANNEL_TOKEN_EXPIRING}:channel:{channel.pk}:{expires.isoformat()}:{threshold}",
        obj=channel,
        now=now,
    )


def warn_expiring_tokens(now: dt.datetime | None = None) -> int:
    """Channels whose token expires within 7 days: refresh where possible, otherwise tell the
    owners and admins once per threshold and token. Returns how many warnings were sent."""
    now = now or timezone.now()
    due = Channel.objects.filter(
        token_expires_at__isnull=False, token_expires_at__lte=now + EXPIRY_SOON, token_expires_at__gt=now
    ).exclude(health=Channel.Health.DISCONNECTED)
    sent = 0
    for channel in due.select_related("workspace"):
        error = _try_refresh(channel, now)
        channel.refresh_from_db(fields=["token_expires_at", "network_data", "health"])
        expires = channel.token_expires_at
        if expires is None or expires - now > EXPIRY_SOON or expires <= now:
            continue  # refreshed (or expired meanwhile: then the channel shows "needs reconnection")
        threshold = _threshold(expires, now)
        token = expires.isoformat()
        with transaction.atomic():
            locked = Channel.objects.select_for_update().get(pk=channel.pk)
            warned = (locked.network_data or {}).get(WARNED_KEY) or {}
            done = warned.get("thresholds", []) if warned.get("token") == token else []
            if threshold in done:
                continue
            locked.network_data = {
                **(locked.network_data or {}),
                WARNED_KEY: {"token": token, "thresholds": [*done, threshold]},
            }
            locked.save(update_fields=["network_data"])
            _notify_expiring(locked, expires, threshold, error, now)
        sent += 1
    return sent
