"""Analytics listens: a published delivery gets its metric checks, a (re)connected channel its
backfill (analytics/scheduling.py). A failing receiver is logged by the sender and never stops
publishing or connecting; the hourly sweep schedules what was missed."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from stammtisch.analytics import scheduling
from stammtisch.networks import signals as network_signals
from stammtisch.networks.models import Channel
from stammtisch.publishing import signals as publishing_signals
from stammtisch.publishing.models import Delivery


@receiver(publishing_signals.deliveries_published, dispatch_uid="analytics.deliveries_published")
def on_deliveries_published(sender: Any, deliveries: list[Delivery], **kwargs: Any) -> None:
    scheduling.schedule_published(deliveries)


@receiver(network_signals.channel_connected, dispatch_uid="analytics.channel_connected")
def on_channel_connected(sender: Any, channel: Channel, **kwargs: Any) -> None:
    scheduling.schedule_backfill(channel)
