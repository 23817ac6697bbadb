"""Writes of the analytics domain: figures entered by hand or imported from a CSV file, for posts
on networks without an API (XING). Every write is audited."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.analytics import imports
from stammtisch.analytics.models import PostMetricSnapshot, Source
from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.csvimport import lock_for_import, problems_message
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.publishing.models import Delivery, Post

FUTURE_SLACK = dt.timedelta(minutes=5)  # clocks of browsers differ a little


def takes_manual_figures(delivery: Delivery) -> bool:
    """Whether figures of this delivery are entered by hand: its network has no API."""
    try:
        return delivery.channel.connector.assisted
    except UnknownNetwork:
        return False


def _user(actor: Actor) -> Any:
    return actor.user if actor.user is not None and actor.user.pk else None


@transaction.atomic
def do_enter_metrics(
    actor: Actor,
    delivery: Delivery,
    *,
    observed_at: dt.datetime,
    values: dict[str, int | None],
    now: dt.datetime | None = None,
) -> PostMetricSnapshot:
    """Store figures a person read on the network for a published delivery (XING). Entering
    figures for the same time again corrects them."""
    delivery = Delivery.objects.select_related("post__workspace", "channel").get(pk=delivery.pk)
    workspace = delivery.post.workspace
    require_perm(actor, workspace, Perm.EDIT)
    if not takes_manual_figures(delivery):
        raise ActionError(_("The figures of this channel are read from the network; they cannot be entered by hand."))
    if delivery.state != Delivery.State.PUBLISHED:
        raise ActionError(_("Figures can be entered once the post is published."))
    unknown = set(values) - set(imports.FIGURES)
    if unknown or all(value is None for value in values.values()):
        raise ActionError(_("Enter at least one figure."))
    if any(value is not None and value < 0 for value in values.values()):
        raise ActionError(_("Figures cannot be negative."))
    now = now or timezone.now()
    if observed_at > now + FUTURE_SLACK:
        raise ActionError(_("This time is in the future."))
    if delivery.published_at is not None and observed_at < delivery.published_at - dt.timedelta(days=1):
        raise ActionError(_("This time is before the post was published."))
    figures = {name: values.get(name) for name in imports.FIGURES}
    snapshot, created = PostMetricSnapshot.objects.update_or_create(
        delivery=delivery,
        observed_at=observed_at,
        source=Source.MANUAL,
        defaults={"workspace": workspace, "entered_by": _user(actor), **figures},
    )
    audit(
        actor,
        "metrics.enter",
        workspace=workspace,
        obj=delivery,
        summary=str(delivery.channel)[:300],
        data={
            "post": delivery.post_id,
            "delivery": delivery.pk,
            "observed_at": observed_at.isoformat(),
            "figures": figures,
            "corrected": not created,
        },
    )
    return snapshot


@transaction.atomic
def do_import_metrics_csv(
    actor: Actor,
    workspace: Workspace,
    data: bytes,
    *,
    filename: str = "",
    token: str = "",
    now: dt.datetime | None = None,
) -> int:
    """Import every row of a file of figures, all or nothing, in one transaction. The file is
    checked again first (posts may have changed since the preview). `token` is the preview's: a
    second click on "Import" does not import twice. Returns how many rows were imported; a row
    for a post and time that has figures from an earlier import replaces them."""
    require_perm(actor, workspace, Perm.EDIT)
    lock_for_import(workspace, "metrics.import_csv", token)
    preview = imports.read_metrics_csv(workspace, data, now=now)
    if not preview.ok:
        raise ActionError(problems_message(preview.problems) if preview.problems else _("The file has no figures."))
    # Lock the posts whose figures change, in id order, like every other write on deliveries.
    post_ids = sorted({row.delivery.post_id for row in preview.rows if row.delivery is not None})
    list(Post.objects.select_for_update().filter(pk__in=post_ids, workspace=workspace).order_by("pk").values("pk"))
    user = _user(actor)
    snapshots = []
    for row in preview.rows:
        assert row.delivery is not None and row.observed_at is not None  # preview.ok
        snapshots.append(
            PostMetricSnapshot(
                workspace=workspace,
                delivery=row.delivery,
                observed_at=row.observed_at,
                source=Source.IMPORT,
                entered_by=user,
                **row.values,
            )
        )
    PostMetricSnapshot.objects.bulk_create(
        snapshots,
        update_conflicts=True,
        unique_fields=["delivery", "observed_at", "source"],
        update_fields=[*imports.FIGURES, "entered_by"],
    )
    audit(
        actor,
        "metrics.import_csv",
        workspace=workspace,
        summary=filename or _("CSV file"),
        data={
            "token": token,
            "filename": filename[:200],
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": len(snapshots),
            "deliveries": sorted({row.delivery.pk for row in preview.rows if row.delivery is not None}),
        },
    )
    return len(snapshots)
