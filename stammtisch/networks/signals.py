"""Signals the networks domain sends; other apps (analytics) connect to them.

Each is sent after the transaction that stored the change has committed.
"""

from __future__ import annotations

from django.dispatch import Signal

# sender=Channel, channel=<Channel>, created=bool: a channel was connected, or reconnected in
# place (analytics backfills the figures of its recent posts).
channel_connected = Signal()
