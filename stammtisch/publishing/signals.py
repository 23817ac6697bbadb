"""Signals the publishing domain sends; other apps (notifications) connect to them.

Each is sent after the transaction that stored the change has committed.
"""

from __future__ import annotations

from django.dispatch import Signal

# sender=Delivery, delivery=<Delivery>, error=str: a delivery failed for good.
delivery_failed = Signal()
# sender=Delivery, deliveries=[<Delivery>, ...]: deliveries the publisher stored as published
# (with their channel loaded), once per stored group (analytics schedules their metric checks).
deliveries_published = Signal()
# sender=Channel, channel=<Channel>, error=str: the channel must be reconnected.
channel_needs_reconnect = Signal()
# sender=Delivery, delivery=<Delivery>: a post is due on an assisted network (Xing): a person
# must post it and confirm it.
assisted_post_due = Signal()
# sender=Post, post=<Post>, actor=<Actor>: a post was submitted for approval.
approval_requested = Signal()
# sender=Post, post=<Post>, actor=<Actor>, kind="approved"|"changes_requested", comment=str
approval_decided = Signal()
