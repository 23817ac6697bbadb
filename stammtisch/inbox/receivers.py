"""The inbox listens: a (re)connected channel is read again at once; a published delivery is
linked to a conversation that started under its post before we knew the post was ours."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.dispatch import receiver

from stammtisch.core.db import plain_cursor
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
    """One query per published group (usually finding nothing), an UPDATE per match. Plain SQL
    with a (channel, root) pair per delivery: each pair is one lookup in the (channel, kind, root)
    unique index; the ORM's `channel IN (...) AND root IN (...)` looked up every combination."""
    by_key = {(d.channel_id, d.remote_id): d.pk for d in deliveries if d.remote_id}
    if not by_key:
        return
    table = connection.ops.quote_name(Conversation._meta.db_table)
    channels = [channel_id for channel_id, _remote_id in by_key]
    roots = [remote_id for _channel_id, remote_id in by_key]
    with plain_cursor() as cursor:
        if cursor.postgresql:  # the pairs as two arrays: one statement whatever their number
            cursor.execute(
                f"SELECT c.id, c.channel_id, c.root_remote_id FROM {table} c "  # noqa: S608 (the model's table)
                "JOIN unnest(%s::bigint[], %s::text[]) AS k (channel_id, root) "
                "ON c.channel_id = k.channel_id AND c.root_remote_id = k.root "
                "WHERE c.kind = %s AND c.delivery_id IS NULL",
                [channels, roots, Conversation.Kind.COMMENTS],
            )
        else:
            pairs = " OR ".join(["(channel_id = %s AND root_remote_id = %s)"] * len(by_key))
            cursor.execute(
                f"SELECT id, channel_id, root_remote_id FROM {table} "  # noqa: S608 (the model's table)
                f"WHERE kind = %s AND delivery_id IS NULL AND ({pairs})",
                [Conversation.Kind.COMMENTS, *(value for pair in by_key for value in pair)],
            )
        waiting = cursor.fetchall()
    for pk, channel_id, root in waiting:
        if (channel_id, root) in by_key:
            Conversation.objects.filter(pk=pk).update(delivery_id=by_key[(channel_id, root)])
