"""Writes in the publishing domain: posts and their deliveries. Every write is audited.

Roles are checked here as well as in the views (`require_perm`); a refusal the user should read
is an `ActionError`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from stammtisch.core.actions import AUDIT_ACTIONS, ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace, hash_token
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.publishing import approvals, composer, publisher
from stammtisch.publishing import media as media_files
from stammtisch.publishing.forms import local_time_problem, local_to_utc
from stammtisch.publishing.models import CalendarFeed, Delivery, MediaAsset, Post, PostMedia

if TYPE_CHECKING:
    from stammtisch.strategy.models import Goal

AUDIT_ACTIONS.update({"post.goal": gettext_lazy("Goal of a post changed")})

State = Delivery.State
# Deliveries that may be on the network already, or are about to be: a worker holds them
# (`publishing`), the outcome of a call is being checked (`unknown`), or they are out.
OUT_STATES = (State.PUBLISHING, State.UNKNOWN, State.PUBLISHED)
# Deliveries whose text may still change: nothing of them is on the network.
EDITABLE_STATES = (State.SCHEDULED, State.RETRY_WAIT, State.FAILED, State.CANCELLED)


def _lock_post(post: Post) -> Post:
    """Lock the post row: status derivation and delivery changes of one post happen one at a time
    (the publisher locks it the same way before it stores an outcome)."""
    return Post.objects.select_for_update().get(pk=post.pk)


def _check_goal(workspace: Workspace, goal: Goal | None) -> None:
    """A post's goal must be one of its own workspace's (the forms offer only those)."""
    if goal is not None and goal.workspace_id != workspace.pk:
        raise ActionError(_("This goal does not belong to this workspace."))


def _refuse_what_networks_refuse(
    channels: Sequence[Channel],
    text: str,
    variants: Mapping[int, str],
    first_comment: str,
    media: Sequence[MediaAsset] = (),
    link: str = "",
) -> None:
    """Refuse to schedule or publish a text (or first comment) a channel's network would refuse,
    naming every such channel: the composer checks as you type, but every caller (API, CSV
    import, feeds, approvals) schedules through here. Drafts are not checked. `media`: the
    post's files (Instagram refuses a post without one)."""
    checks = composer.check_channels(channels, text, variants, first_comment=first_comment, media=media, link=link)
    invalid = composer.failing(checks)
    if invalid:
        raise ActionError(
            _("Not every channel accepts this post: %(problems)s")
            % {"problems": " · ".join(composer.problem_summary(check) for check in invalid)}
        )


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
    variants: Mapping[int, str] | None = None,
    first_comment: str = "",
    media: Sequence[MediaAsset] = (),
    source: str = Post.Source.COMPOSER,
    goal: Goal | None = None,
) -> Post:
    """A post with one delivery per channel. Without `scheduled_at` it is a draft: its deliveries
    exist (they remember the channels) but have no due time, so no worker picks them up.

    `variants` maps a channel id to that channel's own text; a channel without one, or with an
    empty one, gets the post's text. `media` are attached in order (every channel gets them);
    `first_comment` is posted under the post where the network supports it; `source` says where
    the post came from (composer, queue, evergreen, CSV import, feed); `goal` is the strategy goal
    its clicks and conversions count for (one of the workspace's)."""
    require_perm(actor, workspace, Perm.EDIT)
    channels = list(channels)
    if any(channel.workspace_id != workspace.pk for channel in channels):
        raise ActionError(_("A channel does not belong to this workspace."))
    _check_goal(workspace, goal)
    if not text.strip():
        raise ActionError(_("A post needs a text."))
    if scheduled_at is not None and not channels:
        raise ActionError(_("Choose at least one channel to schedule the post on."))
    if scheduled_at is not None and timezone.is_naive(scheduled_at):
        raise ValueError("scheduled_at must be timezone-aware")
    if any(asset.workspace_id != workspace.pk for asset in media):
        raise ActionError(_("A media file does not belong to this workspace."))
    if scheduled_at is not None:
        _refuse_what_networks_refuse(channels, text, variants or {}, first_comment, media, link)
    # Approvals (docs/approvals.md): with a time, in a workspace that requires approval, the post
    # waits for approval and its deliveries get no due time until a reviewer approves it.
    held = scheduled_at is not None and approvals.approval_required(workspace)
    status = Post.Status.SCHEDULED if scheduled_at is not None else Post.Status.DRAFT
    post = Post.objects.create(
        workspace=workspace,
        author=cast(Any, actor.user) if actor.user is not None and actor.user.pk else None,
        text=text,
        link=link,
        pillar=pillar,
        purpose=purpose,
        goal=goal,
        first_comment=first_comment,
        source=source,
        scheduled_at=scheduled_at,
        status=Post.Status.PENDING_APPROVAL if held else status,
    )
    PostMedia.objects.bulk_create(
        [PostMedia(post=post, asset=asset, position=position) for position, asset in enumerate(media)]
    )
    variants = variants or {}

    def text_for(channel: Channel) -> str:
        own = variants.get(channel.pk, "")
        return own if own.strip() else text

    Delivery.objects.bulk_create(
        [
            Delivery(post=post, channel=channel, text=text_for(channel), due_at=None if held else scheduled_at)
            for channel in channels
        ]
    )
    audit(
        actor,
        "post.schedule" if scheduled_at is not None else "post.create_draft",
        workspace=workspace,
        obj=post,
        summary=text[:120],
        data={
            "channels": [channel.pk for channel in channels],
            "variants": sorted(pk for pk in variants if variants[pk].strip() and pk in {c.pk for c in channels}),
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
            "media": [asset.pk for asset in media],
            "source": source,
            "goal": goal.pk if goal is not None else None,
        },
    )
    if held:
        approvals.on_create(actor, post)
    elif scheduled_at is not None:
        publisher.notify_due()
    return post


@transaction.atomic
def do_duplicate_post(actor: Actor, post: Post) -> Post:
    """A new draft with the post's text, link, pillar, purpose, goal, channels and each channel's
    own text; no time, so nothing is published until it is scheduled."""
    workspace = post.workspace
    require_perm(actor, workspace, Perm.EDIT)
    deliveries = list(Delivery.objects.filter(post_id=post.pk).select_related("channel").order_by("pk"))
    copy = Post.objects.create(
        workspace=workspace,
        author=cast(Any, actor.user) if actor.user is not None and actor.user.pk else None,
        text=post.text,
        link=post.link,
        pillar=post.pillar,
        purpose=post.purpose,
        goal_id=post.goal_id,
        first_comment=post.first_comment,
        status=Post.Status.DRAFT,
    )
    Delivery.objects.bulk_create(
        [Delivery(post=copy, channel=delivery.channel, text=delivery.text, due_at=None) for delivery in deliveries]
    )
    PostMedia.objects.bulk_create(
        [
            PostMedia(post=copy, asset_id=link.asset_id, position=link.position)
            for link in PostMedia.objects.filter(post_id=post.pk)
        ]
    )
    audit(
        actor,
        "post.duplicate",
        workspace=workspace,
        obj=copy,
        summary=copy.text[:120],
        data={"from": post.pk, "channels": [delivery.channel_id for delivery in deliveries]},
    )
    return copy


@transaction.atomic
def do_publish_now(actor: Actor, post: Post, *, now: dt.datetime | None = None) -> int:
    """Make every waiting delivery of the post due now. Returns how many became due."""
    require_perm(actor, post.workspace, Perm.EDIT)
    now = now or timezone.now()
    post = _lock_post(post)
    approvals.refuse_unapproved(post)  # a post that needs approval cannot go out unapproved
    pending = list(post.deliveries.filter(state__in=publisher.PENDING_STATES).select_related("channel"))
    _refuse_what_networks_refuse(
        [d.channel for d in pending],
        post.text,
        {d.channel_id: d.text for d in pending},
        post.first_comment,
        media_files.assets_of(post.pk),
        post.link,
    )
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
    approvals.refuse_unapproved(_lock_post(post))
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


# --- Rescheduling, editing and deleting (the calendar and the post page) -------------------
#
# The rule against ghost publishing: a change to a post's deliveries is one conditional UPDATE
# whose WHERE names the states it may touch, inside a transaction that holds the post's row lock.
# A worker claims a delivery with a conditional UPDATE as well (SQLite) or under a row lock with
# SKIP LOCKED (PostgreSQL), so for each delivery exactly one of the two wins. After the UPDATE the
# action counts again: if a worker won even one delivery, the whole change is rolled back and the
# user is told, so a post is never half moved, half edited or half deleted.


def _to_aware(when: dt.datetime, workspace: Workspace) -> dt.datetime:
    """A naive `when` is a wall-clock time in the workspace's zone; a time that does not exist
    or exists twice on a DST change day is refused (as in the composer), never shifted."""
    if timezone.is_aware(when):
        return when.astimezone(dt.UTC)
    try:
        return local_to_utc(when, workspace.tz).astimezone(dt.UTC)
    except ValueError as exc:
        raise ActionError(local_time_problem(exc, workspace.time_zone)) from None


def _refuse_unless_scheduled(post: Post) -> None:
    if post.status == Post.Status.SCHEDULED:
        return
    if post.status in (Post.Status.PUBLISHED, Post.Status.PARTIAL):
        raise ActionError(_("This post is already published, at least on one channel: it can no longer be moved."))
    if post.status == Post.Status.PUBLISHING:
        raise ActionError(_("This post is being published right now: it can no longer be moved."))
    if post.status == Post.Status.DRAFT:
        raise ActionError(_("A draft has no time yet. Schedule it from the post page."))
    raise ActionError(
        _("Only a scheduled post can be moved; this one is %(status)s.") % {"status": post.get_status_display()}
    )


@transaction.atomic
def do_reschedule_post(
    actor: Actor, post: Post, new_local_datetime: dt.datetime, *, now: dt.datetime | None = None
) -> Post:
    """Move a scheduled post, and every one of its deliveries, to a new time.

    `new_local_datetime` is a wall-clock time in the workspace's zone (or an aware datetime).
    Refused for a time in the past, a DST gap or overlap, and a post that is not simply
    scheduled (a draft, published, partly published, being published, failed or cancelled).
    Only deliveries in `scheduled` move (the conditional UPDATE); if a worker claimed one in the
    meantime the move is rolled back as a whole and refused, so no delivery is published at the
    old time after a move that reported success, and none twice.
    """
    workspace = post.workspace
    require_perm(actor, workspace, Perm.EDIT)
    at = _to_aware(new_local_datetime, workspace)
    now = now or timezone.now()
    if at <= now:
        raise ActionError(_("This time has passed. Choose a later time."))
    post = _lock_post(post)
    # Waiting for approval: only the wanted time changes. Approved, in a workspace that requires
    # approval: the new time needs approval again (docs/approvals.md).
    if approvals.reset_after_edit(actor, post, ["scheduled_at"], at=at):
        post.refresh_from_db()
        return post
    _refuse_unless_scheduled(post)
    deliveries = Delivery.objects.filter(post_id=post.pk)
    expected = deliveries.exclude(state=State.CANCELLED).count()
    moved = deliveries.filter(state=State.SCHEDULED, due_at__isnull=False).update(due_at=at)
    if moved != expected or not moved:  # a worker claimed one meanwhile: undo the move
        raise ActionError(_("This post is being published right now: it can no longer be moved."))
    before = post.scheduled_at
    Post.objects.filter(pk=post.pk).update(scheduled_at=at, updated_at=timezone.now())
    publisher.refresh_post_status(post.pk)
    audit(
        actor,
        "post.reschedule",
        workspace=workspace,
        obj=post,
        summary=post.text[:120],
        data={"from": before.isoformat() if before else None, "to": at.isoformat(), "deliveries": moved},
    )
    publisher.notify_due()
    post.refresh_from_db()
    return post


def _refuse_if_out(post: Post, message: str) -> None:
    out = Delivery.objects.filter(post_id=post.pk, state__in=OUT_STATES).count()
    if out:  # raising inside the action's transaction undoes what it wrote so far
        raise ActionError(message % {"count": out})


def must_fit(post: Post) -> bool:
    """Whether the post's texts must pass every channel's rules when it changes: anything but a
    draft (or a cancelled post) may go out."""
    return post.status not in (Post.Status.DRAFT, Post.Status.CANCELLED)


@transaction.atomic
def do_update_post(
    actor: Actor,
    post: Post,
    *,
    text: str,
    link: str = "",
    pillar: str = "",
    purpose: str = Post.Purpose.VALUE,
    variants: Mapping[int, str] | None = None,
    first_comment: str | None = None,
    goal: Goal | Literal["unchanged"] | None = "unchanged",
) -> int:
    """Change the text, link, pillar, purpose, first comment (None: unchanged), goal ("unchanged"
    by default; None: no goal) and channel texts of a post none of whose deliveries is out or
    under way (the goal alone can change any time: `do_set_post_goal`).

    Without `variants`, deliveries that still carry the post's text get the new text and a
    channel whose text was changed on its own (a variant) keeps it. `variants` maps a channel id
    to that channel's own text, an empty one meaning the post's text; channels missing from it
    behave as without. Every delivery changes in the same transaction. A post that is not a draft
    must fit every channel's rules afterwards (`must_fit`). Returns how many deliveries got a new
    text. Refused when a delivery is published, claimed by a worker, or of unknown outcome: the
    network may have the old text already."""
    require_perm(actor, post.workspace, Perm.EDIT)
    if not text.strip():
        raise ActionError(_("A post needs a text."))
    post = _lock_post(post)
    refusal = _(
        "%(count)d channel(s) have published this post or are publishing it right now: it can no longer be edited."
    )
    _refuse_if_out(post, refusal)
    comment = post.first_comment if first_comment is None else first_comment
    if goal != "unchanged":
        _check_goal(post.workspace, goal)
    goal_id = post.goal_id if goal == "unchanged" else (goal.pk if goal is not None else None)
    old = {
        "text": post.text,
        "link": post.link,
        "pillar": post.pillar,
        "purpose": post.purpose,
        "first_comment": post.first_comment,
        "goal_id": post.goal_id,
    }
    new = {
        "text": text,
        "link": link,
        "pillar": pillar,
        "purpose": purpose,
        "first_comment": comment,
        "goal_id": goal_id,
    }
    changed = [field for field in old if old[field] != new[field]]
    deliveries = list(Delivery.objects.filter(post_id=post.pk, state__in=EDITABLE_STATES).select_related("channel"))

    def text_for(delivery: Delivery) -> str:
        if variants is not None and delivery.channel_id in variants:
            own = variants[delivery.channel_id]
            return own if own.strip() else text
        return text if delivery.text == post.text else delivery.text

    texts = {delivery.pk: text_for(delivery) for delivery in deliveries}
    if must_fit(post):
        _refuse_what_networks_refuse(
            [d.channel for d in deliveries],
            text,
            {d.channel_id: texts[d.pk] for d in deliveries},
            comment,
            media_files.assets_of(post.pk),
            link,
        )
    by_text: dict[str, list[int]] = {}  # new text -> deliveries that get it
    for delivery in deliveries:
        if texts[delivery.pk] != delivery.text:
            by_text.setdefault(texts[delivery.pk], []).append(delivery.pk)
    if not changed and not by_text:
        return 0
    updated = 0
    for new_text, pks in by_text.items():
        updated += Delivery.objects.filter(pk__in=pks, state__in=EDITABLE_STATES).update(text=new_text)
    if by_text:
        _refuse_if_out(post, refusal)  # a worker claimed a delivery meanwhile: roll back
    Post.objects.filter(pk=post.pk).update(**new, updated_at=timezone.now())
    # What goes out changed: an approved post needs approval again (docs/approvals.md).
    out_changed = [field for field in changed if field in ("text", "link", "first_comment")]
    if out_changed or by_text:
        approvals.reset_after_edit(actor, post, out_changed or ["variants"])
    audit(
        actor,
        "post.update",
        workspace=post.workspace,
        obj=post,
        summary=text[:120],
        data={"changed": changed, "deliveries": updated},
    )
    return updated


@transaction.atomic
def do_set_post_goal(actor: Actor, post: Post, goal: Goal | None) -> bool:
    """Set (or, with None, remove) the strategy goal of a post, in any state: nothing on the
    networks changes. A published post's short links keep the `utm_campaign` they were made
    with; its clicks and conversions count for the goal it has now (docs/links.md "Per goal").
    Returns whether the goal changed."""
    require_perm(actor, post.workspace, Perm.EDIT)
    _check_goal(post.workspace, goal)
    post = _lock_post(post)
    before = post.goal_id
    after = goal.pk if goal is not None else None
    if before == after:
        return False
    Post.objects.filter(pk=post.pk).update(goal_id=after, updated_at=timezone.now())
    from stammtisch.analytics import post_rollups  # the goal page's per-post figures follow at once

    post_rollups.set_goal(post.pk, after)
    audit(
        actor,
        "post.goal",
        workspace=post.workspace,
        obj=post,
        summary=(goal.name if goal is not None else "")[:300],
        data={"from": before, "to": after},
    )
    return True


@transaction.atomic
def do_delete_post(actor: Actor, post: Post) -> int:
    """Delete a post that is on no network: its waiting deliveries are cancelled with a
    conditional UPDATE first, then the post and its deliveries are removed. Refused (and
    nothing changed) when a delivery is published, claimed by a worker or of unknown outcome;
    cancelling stops what has not gone out yet. Returns how many deliveries were cancelled."""
    workspace = post.workspace
    require_perm(actor, workspace, Perm.EDIT)
    post = _lock_post(post)
    refusal = _(
        "%(count)d channel(s) have published this post or are publishing it right now, so it "
        "cannot be deleted. Cancel publishing instead to stop the other channels."
    )
    _refuse_if_out(post, refusal)
    cancelled = Delivery.objects.filter(post_id=post.pk, state__in=publisher.PENDING_STATES).update(
        state=State.CANCELLED, lease_owner="", lease_until=None
    )
    _refuse_if_out(post, refusal)  # a worker claimed a delivery meanwhile: roll back
    audit(
        actor,
        "post.delete",
        workspace=workspace,
        obj=post,
        summary=post.text[:120],
        data={
            "cancelled": cancelled,
            "channels": list(Delivery.objects.filter(post_id=post.pk).values_list("channel_id", flat=True)),
            "scheduled_at": post.scheduled_at.isoformat() if post.scheduled_at else None,
        },
    )
    post.delete()
    return cancelled


# --- The secret iCal feed --------------------------------------------------------------------


@transaction.atomic
def do_create_calendar_feed(actor: Actor, workspace: Workspace) -> str:
    """A new secret feed URL token for the actor in `workspace`; returns the token, which is
    stored only as a hash. An earlier token of the same member stops working at once."""
    require_perm(actor, workspace, Perm.VIEW)
    assert actor.user is not None and actor.user.pk is not None
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.filter(user_id=actor.user.pk, workspace=workspace).first()
    if feed is None:
        feed = CalendarFeed.objects.create(
            user=cast(Any, actor.user), workspace=workspace, token_hash=hash_token(token)
        )
        action = "calendar_feed.create"
    else:
        feed.token_hash = hash_token(token)
        feed.created_at = timezone.now()
        feed.last_used_at = None
        feed.save(update_fields=["token_hash", "created_at", "last_used_at"])
        action = "calendar_feed.regenerate"
    audit(actor, action, workspace=workspace, obj=feed)
    return token


@transaction.atomic
def do_revoke_calendar_feed(actor: Actor, workspace: Workspace) -> bool:
    """Switch the actor's feed off; True when there was one."""
    require_perm(actor, workspace, Perm.VIEW)
    assert actor.user is not None and actor.user.pk is not None
    feed = CalendarFeed.objects.filter(user_id=actor.user.pk, workspace=workspace).first()
    if feed is None:
        return False
    audit(actor, "calendar_feed.revoke", workspace=workspace, obj=feed)
    feed.delete()
    return True
