"""The inbox listens: a (re)connected channel is read again at once; a published delivery is
linked to a conversation that started under its post before we knew the post was ours."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from stammtisch.inbox import sync
from stammtisch.inbox.models import Conversation
from stammtisch.networks import signals as network_signals
from stammtisch.networks.models import Channel
from stammtisch.publishing import signals as publishing_signals
from stammtisch.publishing.models import Delivery


@receiver(network_signals.channel_connected, dispatch_uid="inbox.channel_connected")
def on_channel_connected(sender: Any, channel: Channel, **kwargs: Any) -> None:
    sync.resume(channel)


@receiver(publishing_signals.deliveries_published, dispatch_uid="inbox.deliveries_published")
def on_deliveries_published(sender: Any, deliveries: list[Delivery], **kwargs: Any) -> None:
    """One query per published group (usually finding nothing), an UPDATE per match."""
    by_key = {(d.channel_id, d.remote_id): d.pk for d in deliveries if d.remote_id}
    if not by_key:
        return
    waiting = Conversation.objects.filter(
        # Channel first: the lookup goes through the (channel, kind, root) unique index instead of
        # reading every conversation once per published group.
        channel_id__in={channel_id for channel_id, _remote_id in by_key},
        kind=Conversation.Kind.COMMENTS,
        delivery__isnull=True,
        root_remote_id__in={remote_id for _channel, remote_id in by_key},
    ).values_list("pk", "channel_id", "root_remote_id")
    for pk, channel_id, root in waiting:
        if (channel_id, root) in by_key:
            Conversation.objects.filter(pk=pk).update(delivery_id=by_key[(channel_id, root)])
