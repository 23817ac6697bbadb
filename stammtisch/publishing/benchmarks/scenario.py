"""The Django side of `stammtisch bench publish`: the throwaway workspace and the final count.

Runs inside the benchmark's own database (a subprocess with DATABASE_URL set, see publish.py),
or inside the test database in tests. Nothing here measures time.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from stammtisch.core.actions import Actor
from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.networks.sandbox.models import SandboxPost
from stammtisch.publishing.models import Delivery, DeliveryAttempt, Post

CHANNELS = 100
CHANNELS_PER_POST = 5  # each post goes to 5 of the 100 channels, as a brand posts to several networks
HOLD = dt.timedelta(days=1)  # deliveries wait this far in the future until the run starts
FINAL_STATES = (Delivery.State.PUBLISHED, Delivery.State.FAILED, Delivery.State.CANCELLED)
TEXTS = (
    "Heute gibt es bei uns Maultaschen mit Kartoffelsalat. Wer kommt vorbei? ({n})",
    "Tipp vom Barista: So gelingt der Flat White auch zu Hause. ({n})",
    "Did you know? Our sourdough rests for 36 hours before it is baked. ({n})",
    "Am Samstag feiern wir Sommerfest im Hof, mit Musik und Kuchen! ({n})",
)


def create(deliveries: int, *, channels: int = CHANNELS) -> Workspace:
    """A workspace with `channels` Sandbox channels and `deliveries` deliveries (posts to
    CHANNELS_PER_POST channels each), all scheduled HOLD ahead so no worker takes them yet."""
    workspace = Workspace.objects.create(name="Benchmark", slug=f"bench-{timezone.now():%Y%m%d%H%M%S%f}")
    actor = Actor.system("bench")
    connected = [
        do_connect_sandbox_channel(actor, workspace, f"{workspace.slug}-{n}"[:40], f"Benchmark {n}")
        for n in range(channels)
    ]
    held = timezone.now() + HOLD
    per_post = min(CHANNELS_PER_POST, channels)
    with transaction.atomic():
        posts = Post.objects.bulk_create(
            [
                Post(
                    workspace=workspace,
                    text=TEXTS[n % len(TEXTS)].format(n=n),
                    status=Post.Status.SCHEDULED,
                    scheduled_at=held,
                )
                for n in range(math.ceil(deliveries / per_post))
            ],
            batch_size=500,
        )
        rows = []
        for n in range(deliveries):
            post = posts[n // per_post]
            channel = connected[(n // per_post * per_post + n % per_post) % channels]
            rows.append(Delivery(post=post, channel=channel, text=post.text, due_at=held))
        Delivery.objects.bulk_create(rows, batch_size=500)
    return workspace


def make_due(workspace: Workspace, start: dt.datetime, rate: float | None = None) -> None:
    """All deliveries due at `start` (a burst), or one after another at `rate` a second from
    `start` (steady). The intended due time is also kept on the post (`scheduled_at`): retries
    move `due_at`, lateness is measured from the first due time."""
    deliveries = list(Delivery.objects.filter(post__workspace=workspace).order_by("pk"))
    for index, delivery in enumerate(deliveries):
        delivery.due_at = start if rate is None else start + dt.timedelta(seconds=index / rate)
    with transaction.atomic():
        Delivery.objects.bulk_update(deliveries, ["due_at"], batch_size=500)
        first_due: dict[int, dt.datetime] = {}
        for delivery in deliveries:
            assert delivery.due_at is not None
            first_due[delivery.post_id] = min(delivery.due_at, first_due.get(delivery.post_id, delivery.due_at))
        posts = [Post(pk=pk, scheduled_at=at) for pk, at in first_due.items()]
        Post.objects.bulk_update(posts, ["scheduled_at"], batch_size=500)


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (`share` 0.5 for the median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def count(workspace: Workspace) -> dict[str, Any]:
    """What the run left behind, counted on both sides.

    * `published`, `failed`: deliveries in those states.
    * `duplicates`: Sandbox posts (our own, top level) sharing an idempotency key beyond the
      first, counted on the Sandbox side.
    * `lost`: deliveries not in a final state, plus deliveries marked published without a
      Sandbox post carrying their key.
    * lateness: when a delivery was published (the Sandbox's time stamp) or failed (its last
      attempt ended), minus when it was first due (`Post.scheduled_at`; see make_due).
    """
    deliveries = Delivery.objects.filter(post__workspace=workspace)
    states = dict(deliveries.values_list("state").annotate(n=Count("pk")))
    accounts = Channel.objects.filter(workspace=workspace, network="sandbox").values_list("handle", flat=True)
    ours = SandboxPost.objects.filter(
        account__handle__in=list(accounts), author_persona__isnull=True, parent__isnull=True
    ).exclude(idempotency_key="")
    per_key = ours.values("idempotency_key").annotate(n=Count("pk")).filter(n__gt=1)
    duplicates = sum(row["n"] - 1 for row in per_key)
    on_sandbox = set(ours.values_list("idempotency_key", flat=True))
    published = deliveries.filter(state=Delivery.State.PUBLISHED)
    without_post = sum(1 for key in published.values_list("idempotency_key", flat=True) if str(key) not in on_sandbox)
    not_final = deliveries.exclude(state__in=FINAL_STATES).count()

    lateness = [
        (published_at - first_due).total_seconds()
        for published_at, first_due in published.values_list("published_at", "post__scheduled_at")
        if published_at is not None and first_due is not None
    ]
    failed_at = (
        DeliveryAttempt.objects.filter(delivery__post__workspace=workspace, delivery__state=Delivery.State.FAILED)
        .values("delivery_id")
        .annotate(at=Max("finished_at"), first_due=Max("delivery__post__scheduled_at"))
        .values_list("at", "first_due")
    )
    lateness += [(at - first_due).total_seconds() for at, first_due in failed_at if at and first_due]
    p50, p99 = percentile(lateness, 0.5), percentile(lateness, 0.99)
    return {
        "deliveries": deliveries.count(),
        "published": states.get(Delivery.State.PUBLISHED, 0),
        "failed": states.get(Delivery.State.FAILED, 0),
        "duplicates": duplicates,
        "lost": not_final + without_post,
        "lateness_p50_s": round(p50, 3) if p50 is not None else None,
        "lateness_p99_s": round(p99, 3) if p99 is not None else None,
    }
