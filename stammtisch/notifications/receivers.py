"""Receivers of the publishing signals: who hears about what (docs/notifications.md).

- publishing failed for good: the post's author and the owners and admins (Perm.MANAGE);
- channel needs reconnection: owners and admins (Perm.MANAGE);
- approval requested: members who may approve (Perm.COMMENT), reviewers first, except the
  post's author and whoever submitted it;
- approval decided: the post's author, unless they decided themselves.

Each receiver is cheap (a handful of queries) and never raises: a notification that cannot be
written is logged and must not disturb publishing (the publisher sends with `send_robust` too).
Events are grouped per recipient by (kind, channel or post, UTC hour): 200 failures on one
channel within an hour are one notification "200 posts failed on ..." and at most one e-mail.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from stammtisch.core.actions import member_name
from stammtisch.core.roles import Perm, Role
from stammtisch.networks.models import Channel
from stammtisch.notifications import kinds
from stammtisch.notifications.notify import hour_bucket, members_with, notify
from stammtisch.publishing import signals
from stammtisch.publishing.models import Delivery, Post

log = logging.getLogger(__name__)


def excerpt(text: str, length: int = 80) -> str:
    return Truncator(" ".join((text or "").split())).chars(length)


def never_raise(handler: Callable[..., None]) -> Callable[..., None]:
    """Log a failing receiver instead of raising; its writes are undone (a savepoint), the
    caller's are not."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> None:
        try:
            with transaction.atomic():
                handler(*args, **kwargs)
        except Exception:
            log.exception("notification receiver %s failed", handler.__name__)

    return wrapped


def _post_link(post: Post) -> str:
    return reverse("publishing:post", kwargs={"slug": post.workspace.slug, "post_id": post.pk})


def _channel_name(channel: Channel) -> str:
    return channel.display_name or channel.handle


def _actor_name(actor: Any) -> str:
    user = getattr(actor, "user", None)
    return member_name(user) or getattr(actor, "label", "") or ""


def _actor_user_id(actor: Any) -> int | None:
    user = getattr(actor, "user", None)
    return getattr(user, "pk", None)


@receiver(signals.delivery_failed, dispatch_uid="notifications.delivery_failed")
@never_raise
def on_delivery_failed(sender: Any, delivery: Delivery, error: str = "", **kwargs: Any) -> None:
    post = delivery.post
    channel = delivery.channel
    workspace = post.workspace
    now = timezone.now()
    recipients = [post.author_id, *(pk for pk, _role in members_with(workspace, Perm.MANAGE))]
    slug = workspace.slug
    calendar = reverse("publishing:calendar", kwargs={"slug": slug})
    notify(
        kinds.PUBLISHING_FAILED,
        workspace,
        recipients,
        data={
            "channel": _channel_name(channel),
            "post": excerpt(post.text),
            "error": excerpt(error, 300),
            "post_id": post.pk,
            "channel_id": channel.pk,
        },
        link=_post_link(post),
        group_link=f"{calendar}?view=list&channel={channel.pk}",
        dedup_key=f"{kinds.PUBLISHING_FAILED}:channel:{channel.pk}:{hour_bucket(now)}",
        obj=delivery,
        now=now,
    )


@receiver(signals.channel_needs_reconnect, dispatch_uid="notifications.channel_needs_reconnect")
@never_raise
def on_channel_needs_reconnect(sender: Any, channel: Channel, error: str = "", **kwargs: Any) -> None:
    workspace = channel.workspace
    now = timezone.now()
    notify(
        kinds.CHANNEL_RECONNECT,
        workspace,
        [pk for pk, _role in members_with(workspace, Perm.MANAGE)],
        data={"channel": _channel_name(channel), "error": excerpt(error, 300), "channel_id": channel.pk},
        link=reverse("networks:channels", kwargs={"slug": workspace.slug}),
        dedup_key=f"{kinds.CHANNEL_RECONNECT}:channel:{channel.pk}:{hour_bucket(now)}",
        obj=channel,
        now=now,
    )


@receiver(signals.approval_requested, dispatch_uid="notifications.approval_requested")
@never_raise
def on_approval_requested(sender: Any, post: Post, actor: Any = None, **kwargs: Any) -> None:
    workspace = post.workspace
    now = timezone.now()
    excluded = {post.author_id, _actor_user_id(actor)}
    approvers = [(pk, role) for pk, role in members_with(workspace, Perm.COMMENT) if pk not in excluded]
    # Reviewers (clients) are the ones the approval is usually for: they come first.
    recipients = sorted(approvers, key=lambda member: member[1] != Role.REVIEWER)
    notify(
        kinds.APPROVAL_REQUESTED,
        workspace,
        [pk for pk, _role in recipients],
        data={"actor": _actor_name(actor), "post": excerpt(post.text), "post_id": post.pk},
        link=_post_link(post),
        dedup_key=f"{kinds.APPROVAL_REQUESTED}:post:{post.pk}:{hour_bucket(now)}",
        obj=post,
        now=now,
    )


@receiver(signals.approval_decided, dispatch_uid="notifications.approval_decided")
@never_raise
def on_approval_decided(
    sender: Any, post: Post, actor: Any = None, kind: str = "", comment: str = "", **kwargs: Any
) -> None:
    if post.author_id is None or post.author_id == _actor_user_id(actor):
        return
    workspace = post.workspace
    now = timezone.now()
    decision = "approved" if kind == "approved" else "changes_requested"
    notify(
        kinds.APPROVAL_DECIDED,
        workspace,
        [post.author_id],
        data={
            "actor": _actor_name(actor),
            "decision": decision,
            "comment": excerpt(comment, 300),
            "post": excerpt(post.text),
            "post_id": post.pk,
        },
        link=_post_link(post),
        dedup_key=f"{kinds.APPROVAL_DECIDED}:post:{post.pk}:{decision}:{hour_bucket(now)}",
        obj=post,
        now=now,
    )
