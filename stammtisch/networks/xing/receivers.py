"""Who hears that a XING post is due: the post's author and the workspace's owners and admins,
in the app and by e-mail (notification kind `assisted_post_due`)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from stammtisch.core.roles import Perm
from stammtisch.notifications import kinds
from stammtisch.notifications.notify import members_with, notify
from stammtisch.notifications.receivers import excerpt, never_raise
from stammtisch.publishing import signals
from stammtisch.publishing.models import Delivery


@receiver(signals.assisted_post_due, dispatch_uid="xing.assisted_post_due")
@never_raise
def on_assisted_post_due(sender: Any, delivery: Delivery, **kwargs: Any) -> None:
    post = delivery.post
    channel = delivery.channel
    workspace = post.workspace
    recipients = [post.author_id, *(pk for pk, _role in members_with(workspace, Perm.MANAGE))]
    notify(
        kinds.ASSISTED_POST_DUE,
        workspace,
        recipients,
        data={
            "channel": channel.display_name or channel.handle,
            "network": channel.get_network_display(),
            "post": excerpt(delivery.text),
            "post_id": post.pk,
            "delivery_id": delivery.pk,
        },
        link=reverse("xing:assisted", kwargs={"slug": workspace.slug, "delivery_id": delivery.pk}),
        # One per delivery and reminder (attempt): a reminder 30 days later is a new notification.
        dedup_key=f"{kinds.ASSISTED_POST_DUE}:delivery:{delivery.pk}:{delivery.attempts}",
        obj=delivery,
        now=timezone.now(),
    )
