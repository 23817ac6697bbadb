"""Writes in the publishing domain: posts and their deliveries. Every write is audited.

Roles are checked here as well as in the views (`require_perm`); a refusal the user should read
is an `ActionError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.publishing import publisher
from stammtisch.publishing.models import Delivery, Post

State = Delivery.State


def _lock_post(post: Post) -> Post:
    """Lock the post row: status derivation and delivery changes of one post happen one at a time
    (the publisher locks it the same way before it stores an outcome)."""
    return Post.objects.select_for_update().get(pk=post.pk)


@transaction.atomic
def do_create_post(
    actor: Actor,
    workspace: Workspace,
    *,
    text: str,
    channels: Iterable[Channel],
    scheduled_at: dt.datetime | None = None,
    link: str = "",
    pillar: str = "",
    purpose: str = Post.Purpose.VALUE,
) -> Post:
    """A post with one delivery per channel. Without `scheduled_at` it is a draft: its deliveries
    exist (they remember the channels) but have no due time, so no worker picks them up."""
    require_perm(actor, workspace, Perm.EDIT)
    channels = list(channels)
    if any(channel.workspace_id != workspace.pk for channel in channels):
        raise ActionError(_("A channel does not belong to this workspace."))
    if not text.strip():
        raise ActionError(_("A post needs a text."))
    if scheduled_at is not None and not channels:
        raise ActionError(_("Choose at least one channel to schedule the post on."))
    if scheduled_at is not None and timezone.is_naive(scheduled_at):
        raise ValueError("scheduled_at must be timezone-aware")
    post = Post.objects.create(
        workspace=workspace,
        author=cast(Any, actor.user) if actor.user is not None and actor.user.pk else None,
        text=text,
        link=link,
        pillar=pillar,
        purpose=purpose,
        scheduled_at=scheduled_at,
        status=Post.Status.SCHEDULED if scheduled_at is not None else Post.Status.DRAFT,
    )
    Delivery.objects.bulk_create(
        [Delivery(post=post, channel=channel, text=text, due_at=scheduled_at) for channel in channels]
    )
    audit(
        actor,
        "post.schedule" if scheduled_at is not None else "post.create_draft",
        workspace=workspace,
        obj=post,
        summary=text[:120],
        data={
            "channels": [channel.pk for channel in channels],
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
        },
    )
    if scheduled_at is not None:
        publisher.notify_due()
    return post


@transaction.atomic
def do_publish_now(actor: Actor, post: Post, *, now: dt.datetime | None = None) -> int:
    """Make every waiting delivery of the post due now. Returns how many became due."""
    require_perm(actor, post.workspace, Perm.EDIT)
    now = now or timezone.now()
    post = _lock_post(post)
    due = post.deliveries.filter(state__in=publisher.PENDING_STATES).update(state=State.SCHEDULED, due_at=now)
    if not due:
        raise ActionError(_("Nothing left to publish: every channel is published, under way or cancelled."))
    Post.objects.filter(pk=post.pk).update(scheduled_at=now)
    publisher.refresh_post_status(post.pk)
    audit(actor, "post.publish_now", workspace=post.workspace, obj=post, summary=post.text[:120])
    publisher.notify_due()
    return due


@transaction.atomic
def do_cancel_post(actor: Actor, post: Post) -> tuple[int, int]:
    """Cancel every delivery that has not been sent. Returns (cancelled, left alone).

    Only `scheduled` and `retry_wait` deliveries are cancelled, with a conditional UPDATE: a
    delivery a worker has claimed (`publishing`), or whose outcome is being checked (`unknown`),
    cannot be cancelled under it, because the network may already have the post; it is reported
    as left alone and ends published or failed as usual. The claim is a conditional UPDATE too,
    so for each delivery exactly one of the two wins: there is no ghost publishing after a
    cancel that reported success.
    """
    require_perm(actor, post.workspace, Perm.EDIT)
    post = _lock_post(post)
    cancelled = post.deliveries.filter(state__in=publisher.PENDING_STATES).update(
        state=State.CANCELLED, lease_owner="", lease_until=None
    )
    left = post.deliveries.filter(state__in=[State.PUBLISHING, State.UNKNOWN]).count()
    publisher.refresh_post_status(post.pk)
    audit(
        actor,
        "post.cancel",
        workspace=post.workspace,
        obj=post,
        summary=post.text[:120],
        data={"cancelled": cancelled, "in_flight": left},
    )
    return cancelled, left


@transaction.atomic
def do_retry_delivery(actor: Actor, delivery: Delivery, *, now: dt.datetime | None = None) -> Delivery:
    """Try a failed delivery again, now. If any call was made before, the network is asked
    first whether the post exists (state `unknown`), so a retry can never publish twice."""
    post = delivery.post
    require_perm(actor, post.workspace, Perm.EDIT)
    now = now or timezone.now()
    _lock_post(post)
    state = State.UNKNOWN if delivery.attempts else State.SCHEDULED
    updated = Delivery.objects.filter(pk=delivery.pk, state=State.FAILED).update(
        state=state, due_at=now, attempts=0, last_error=""
    )
    if not updated:
        raise ActionError(_("Only a failed delivery can be retried."))
    publisher.refresh_post_status(post.pk)
    audit(
        actor,
        "delivery.retry",
        workspace=post.workspace,
        obj=delivery,
        summary=str(delivery.channel)[:300],
        data={"post": post.pk, "channel": delivery.channel_id},
    )
    publisher.notify_due()
    delivery.refresh_from_db()
    return delivery
