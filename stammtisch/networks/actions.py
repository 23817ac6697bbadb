"""Writes on channels. Every write records an audit event (core.actions.audit)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks import signals
from stammtisch.networks.models import Channel

log = logging.getLogger(__name__)


@transaction.atomic
def do_disconnect_channel(actor: Actor, channel: Channel) -> Channel:
    """Stop using a channel: its credentials are deleted, its posts and history stay.

    The row is kept (health "disconnected") so past deliveries, replies and metrics keep their
    channel; connecting the same account again brings the row back to life.
    """
    require_perm(actor, channel.workspace, Perm.MANAGE)
    channel = Channel.objects.select_for_update().select_related("workspace").get(pk=channel.pk)
    if channel.health == Channel.Health.DISCONNECTED:
        raise ActionError(_("This channel is already disconnected."))
    previous = channel.health
    channel.health = Channel.Health.DISCONNECTED
    channel.health_message = _("Disconnected by %(name)s.") % {"name": actor.label or _("the system")}
    channel.health_checked_at = timezone.now()
    channel.credentials = {}
    channel.save(update_fields=["health", "health_message", "health_checked_at", "credentials"])
    audit(
        actor,
        "channel.disconnect",
        workspace=channel.workspace,
        obj=channel,
        summary=f"{channel.display_name} ({channel.network}: {channel.handle})",
        data={"network": channel.network, "handle": channel.handle, "previous_health": previous},
    )
    return channel


def merge_credentials(stored: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """The credentials to keep after a (re)connect or a refresh: every non-empty fresh value wins,
    and a stored token is never overwritten by an empty one (a network that sends no new refresh
    token on refresh means "keep the old one")."""
    merged = dict(stored or {})
    merged.update({key: value for key, value in (fresh or {}).items() if value not in ("", None)})
    return merged


@transaction.atomic
def https_avatar(url: Any) -> str:
    """A network's picture address for `Channel.avatar_url`: https only, and it must fit the column."""
    text = str(url or "")
    return text if text.startswith("https://") and len(text) <= 200 else ""


def do_connect_channel(
    actor: Actor,
    workspace: Workspace,
    *,
    network: str,
    handle: str,
    display_name: str,
    remote_account_id: str,
    credentials: dict[str, Any],
    network_data: dict[str, Any] | None = None,
    avatar_url: str = "",
    token_expires_at: dt.datetime | None = None,
    match_remote_id: bool = False,
) -> Channel:
    """Connect a real network's account to the workspace, or reconnect it in place.

    The same account (same `handle`, or with `match_remote_id` the same `remote_account_id`, for
    networks whose ids are global) keeps its channel row, so its posts, deliveries and history stay;
    its health becomes OK again. Credentials are merged (`merge_credentials`): a stored token is
    never replaced by an empty one. Several accounts of one network are several channels.
    """
    require_perm(actor, workspace, Perm.MANAGE)
    channels = Channel.objects.select_for_update().filter(workspace=workspace, network=network)
    channel = channels.filter(handle=handle).first()
    if channel is None and match_remote_id and remote_account_id:
        channel = channels.filter(remote_account_id=remote_account_id).first()
    created = channel is None
    if channel is None:
        channel = Channel(workspace=workspace, network=network)
    previous_health = "" if created else channel.health
    channel.handle = handle
    channel.display_name = display_name[:200]
    channel.remote_account_id = remote_account_id
    channel.avatar_url = avatar_url[:200]
    channel.credentials = merge_credentials({} if created else channel.credentials, credentials)
    channel.network_data = {**(channel.network_data or {}), **(network_data or {})}
    if token_expires_at is not None or created:
        channel.token_expires_at = token_expires_at
    channel.health = Channel.Health.OK
    channel.health_message = ""
    channel.health_checked_at = timezone.now()
    channel.save()
    audit(
        actor,
        "channel.connect" if created else "channel.reconnect",
        workspace=workspace,
        obj=channel,
        summary=f"{channel.display_name} ({network}: {handle})",
        data={"network": network, "handle": handle, **({"previous_health": previous_health} if not created else {})},
    )
    announce_connected(channel, created=created)
    return channel


def announce_connected(channel: Channel, *, created: bool) -> None:
    """Send `signals.channel_connected` once the current transaction has committed. A failing
    receiver is logged; it never undoes or stops the connect."""

    def send() -> None:
        for receiver, result in signals.channel_connected.send_robust(Channel, channel=channel, created=created):
            if isinstance(result, Exception):
                log.error("receiver %r of channel_connected failed: %s", receiver, result)

    transaction.on_commit(send)
