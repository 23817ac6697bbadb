"""Writes for XING's assisted publishing: adding a channel by hand, confirming a post a person
made on XING, or skipping it. Every write is audited."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.actions import do_connect_channel
from stammtisch.networks.models import Channel
from stammtisch.publishing import publisher
from stammtisch.publishing.models import Delivery, Post

NETWORK = "xing"
State = Delivery.State
# A person may confirm (or skip) a XING post before it is due, while it waits, or after the
# publisher gave up reminding. Never while a worker holds it (`publishing`): the conditional
# UPDATE then changes nothing and the person is asked to try again.
CONFIRMABLE = (State.SCHEDULED, State.RETRY_WAIT, State.FAILED)
SKIPPABLE = (State.SCHEDULED, State.RETRY_WAIT)


def do_add_xing_channel(actor: Actor, workspace: Workspace, *, url: str, handle: str, display_name: str) -> Channel:
    """Add a XING profile or company page by hand (there is no sign-in to connect), or update the
    name of one added before: the same page keeps its channel row and history."""
    require_perm(actor, workspace, Perm.MANAGE)
    return do_connect_channel(
        actor,
        workspace,
        network=NETWORK,
        handle=handle,
        display_name=display_name,
        remote_account_id=handle,
        credentials={},
        network_data={"url": url, "assisted": True},
    )


def _lock(delivery: Delivery) -> Delivery:
    Post.objects.select_for_update().filter(pk=delivery.post_id).first()
    return Delivery.objects.select_related("post__workspace", "channel").get(pk=delivery.pk)


@transaction.atomic
def do_confirm_assisted(actor: Actor, delivery: Delivery, url: str, *, now: dt.datetime | None = None) -> Delivery:
    """A person posted the delivery's text on XING: store its address and mark it published.

    One conditional UPDATE on the states a worker does not hold, so it cannot race the publisher:
    if a worker claimed the row meanwhile (its reminder), nothing changes and the person is told.
    `url` must already be a checked xing.com address (forms.xing_url)."""
    delivery = _lock(delivery)
    workspace = delivery.post.workspace
    require_perm(actor, workspace, Perm.EDIT)
    if delivery.channel.network != NETWORK:
        raise ActionError(_("This post is published automatically; there is nothing to confirm."))
    now = now or timezone.now()
    updated = Delivery.objects.filter(pk=delivery.pk, state__in=CONFIRMABLE).update(
        state=State.PUBLISHED,
        remote_id=url[:200],
        remote_url=url[:500],
        published_at=now,
        last_error="",
        lease_owner="",
        lease_until=None,
    )
    if not updated:
        if delivery.state == State.PUBLISHED:
            raise ActionError(_("This post was already confirmed."))
        if delivery.state == State.CANCELLED:
            raise ActionError(_("This post was skipped or cancelled; it can no longer be confirmed."))
        raise ActionError(_("Stammtisch is working on this post right now. Please try again in a moment."))
    publisher.refresh_post_status(delivery.post_id)
    audit(
        actor,
        "delivery.confirm_assisted",
        workspace=workspace,
        obj=delivery,
        summary=str(delivery.channel)[:300],
        data={"post": delivery.post_id, "channel": delivery.channel_id, "url": url[:500]},
    )
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def do_skip_assisted(actor: Actor, delivery: Delivery) -> Delivery:
    """Do not post this on XING after all: the delivery is cancelled, the post's other channels
    are untouched."""
    delivery = _lock(delivery)
    workspace = delivery.post.workspace
    require_perm(actor, workspace, Perm.EDIT)
    if delivery.channel.network != NETWORK:
        raise ActionError(_("Only posts you publish yourself can be skipped here."))
    updated = Delivery.objects.filter(pk=delivery.pk, state__in=SKIPPABLE).update(
        state=State.CANCELLED, lease_owner="", lease_until=None
    )
    if not updated:
        raise ActionError(_("This post can no longer be skipped (it was confirmed, or is being processed)."))
    publisher.refresh_post_status(delivery.post_id)
    audit(
        actor,
        "delivery.skip_assisted",
        workspace=workspace,
        obj=delivery,
        summary=str(delivery.channel)[:300],
        data={"post": delivery.post_id, "channel": delivery.channel_id},
    )
    delivery.refresh_from_db()
    return delivery
