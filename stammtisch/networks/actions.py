"""Writes on channels. Every write records an audit event (core.actions.audit)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel


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
