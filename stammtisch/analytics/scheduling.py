"""When figures are read (docs/analytics.md "When checks run").

* A delivery that becomes published gets its checks 1 hour, 24 hours, 7 days and 28 days after
  publishing, one after the other: the 1-hour check when it is published (`schedule_published`,
  from the publisher's `deliveries_published` signal), each next one when the one before is
  read or has failed (`schedule_next`, from analytics/sync.py). Publishing writes one row per
  delivery instead of four: the publisher's burst benchmark counts every row.
* Every channel gets a daily check of its own figures (followers); each finished daily check
  makes the next one (analytics/sync.py), `sweep` starts the chain for channels that have none.
* A channel that is connected or reconnected gets a backfill check for each of its deliveries
  published in the last 28 days, and its paused checks resume (`schedule_backfill`).
* `sweep` (hourly) also schedules the first check of deliveries published recently without any:
  published before this existed, or while the signal was lost (the worker died in between).

Networks without an API (XING: `connector.assisted`) get no checks: their figures are entered
by hand or imported from a CSV file (analytics/actions.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.analytics.models import MetricCheck
from stammtisch.core.db import db_time, plain_cursor
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import UnknownNetwork, enabled_keys, get_network
from stammtisch.publishing.models import Delivery

Checkpoint = MetricCheck.Checkpoint
CheckState = MetricCheck.State

CHECKPOINTS: tuple[tuple[str, dt.timedelta], ...] = (
    (Checkpoint.HOUR, dt.timedelta(hours=1)),
    (Checkpoint.DAY, dt.timedelta(hours=24)),
    (Checkpoint.WEEK, dt.timedelta(days=7)),
    (Checkpoint.MONTH, dt.timedelta(days=28)),
)
FIRST_CHECKPOINT = CHECKPOINTS[0]
AFTER_PUBLISHING = dict(CHECKPOINTS)
NEXT_CHECKPOINT: dict[str, tuple[str, dt.timedelta]] = {
    CHECKPOINTS[n][0]: CHECKPOINTS[n + 1] for n in range(len(CHECKPOINTS) - 1)
}
BACKFILL_WINDOW = dt.timedelta(days=28)
DAILY = dt.timedelta(days=1)
SWEEP_LIMIT = 1000  # deliveries per sweep; the next sweep takes the rest
READABLE_HEALTH = (Channel.Health.OK, Channel.Health.ERROR)


def measured_networks() -> list[str]:
    """Keys of the enabled networks whose figures are read through their API."""
    return [key for key in enabled_keys() if not get_network(key).assisted]


def _is_measured(network: str) -> bool:
    try:
        return not get_network(network).assisted
    except UnknownNetwork:
        return False


def checks_for(delivery: Delivery) -> list[MetricCheck]:
    """The first checkpoint check of a published delivery (not saved); the next ones follow
    (`schedule_next`)."""
    published_at = delivery.published_at or timezone.now()
    checkpoint, after = FIRST_CHECKPOINT
    return [
        MetricCheck(
            workspace_id=delivery.channel.workspace_id,
            channel_id=delivery.channel_id,
            delivery=delivery,
            checkpoint=checkpoint,
            due_at=published_at + after,
        )
    ]


def schedule_next(
    checks: Iterable[MetricCheck], now: dt.datetime, *, state: str = CheckState.DONE, error: str = ""
) -> int:
    """These checkpoint checks were closed (`state`: read, failed or skipped): make each one's
    next checkpoint. A next checkpoint whose time has passed already (the worker or the channel
    was away) is closed at once in the same state: the reading (or failure) that closed this one
    stands for it, as it did when all four rows were due together. The first checkpoint still
    ahead is pending. Returns how many checks were made (one that exists is left as it is)."""
    made: list[MetricCheck] = []
    for check in checks:
        if check.delivery_id is None or check.checkpoint not in NEXT_CHECKPOINT:
            continue
        # From the post's publishing time: a retry or a rate limit may have moved `due_at`.
        published_at = check.delivery.published_at if check.delivery else None
        if published_at is None:
            published_at = check.due_at - AFTER_PUBLISHING[check.checkpoint]
        checkpoint = check.checkpoint
        while checkpoint in NEXT_CHECKPOINT:
            checkpoint, after = NEXT_CHECKPOINT[checkpoint]
            next_check = MetricCheck(
                workspace_id=check.workspace_id,
                channel_id=check.channel_id,
                delivery_id=check.delivery_id,
                checkpoint=checkpoint,
                due_at=published_at + after,
            )
            made.append(next_check)
            if next_check.due_at > now:
                break
            next_check.state, next_check.finished_at, next_check.last_error = state, now, error[:500]
    MetricCheck.objects.bulk_create(made, ignore_conflicts=True)
    return len(made)


def schedule_published(deliveries: Iterable[Delivery]) -> int:
    """Schedule the first checkpoint check of these just-published deliveries: one statement for
    all of them (a delivery that has it already keeps its own). Returns how many got one.

    Called for every group the publisher stores, so it writes the rows with `executemany` of
    plain tuples: model instances and `bulk_create` cost more than the rest of publishing them
    (docs/benchmarks.md)."""
    measured: dict[str, bool] = {}
    rows: list[tuple[Any, ...]] = []
    count = 0
    now = timezone.now()
    adapt = db_time
    created_at = adapt(now)
    checkpoint, after = FIRST_CHECKPOINT
    for delivery in deliveries:
        network = delivery.channel.network
        if network not in measured:
            measured[network] = _is_measured(network)
        if not measured[network]:
            continue
        due_at = adapt((delivery.published_at or now) + after)
        rows.append(
            (delivery.channel.workspace_id, delivery.channel_id, delivery.pk, str(checkpoint), due_at, created_at)
        )
        count += 1
    if rows:
        table = connection.ops.quote_name(MetricCheck._meta.db_table)
        statement = (
            f"INSERT INTO {table} (workspace_id, channel_id, delivery_id, checkpoint, due_at, created_at, "  # noqa: S608
            "state, lease_owner, attempts, last_error) "
            f"VALUES (%s, %s, %s, %s, %s, %s, '{CheckState.PENDING}', '', 0, '') ON CONFLICT DO NOTHING"
        )
        # One transaction: outside one, SQLite would commit each row on its own.
        with transaction.atomic(), plain_cursor() as cursor:
            cursor.executemany(statement, rows)
    return count


def daily_check(channel: Channel, due_at: dt.datetime) -> MetricCheck:
    return MetricCheck(workspace_id=channel.workspace_id, channel=channel, checkpoint=Checkpoint.DAILY, due_at=due_at)


@transaction.atomic
def schedule_backfill(channel: Channel, *, now: dt.datetime | None = None) -> int:
    """A channel was connected or reconnected: read the figures of its deliveries published in
    the last 28 days now, resume its paused checks and make sure its daily check exists. Returns
    how many backfill checks were scheduled."""
    if not _is_measured(channel.network):
        return 0
    now = now or timezone.now()
    paused = MetricCheck.objects.filter(channel=channel, state=CheckState.PAUSED)
    # Checkpoints that passed while the channel was disconnected are not read late under their
    # name: the backfill reads the current figures instead. The next checkpoints follow.
    missed = list(paused.filter(due_at__lte=now).select_related("delivery"))
    message = _("Missed while the channel was not connected; read again after reconnecting.")
    paused.filter(pk__in=[check.pk for check in missed]).update(
        state=CheckState.SKIPPED, finished_at=now, last_error=message
    )
    schedule_next(missed, now, state=CheckState.SKIPPED, error=message)
    paused.update(state=CheckState.PENDING, last_error="")
    recent = Delivery.objects.filter(
        channel=channel,
        post__workspace_id=channel.workspace_id,
        state=Delivery.State.PUBLISHED,
        published_at__gte=now - BACKFILL_WINDOW,
    ).exclude(remote_id="")
    backfill = [
        MetricCheck(
            workspace_id=channel.workspace_id,
            channel=channel,
            delivery_id=delivery_id,
            checkpoint=Checkpoint.BACKFILL,
            due_at=now,
        )
        for delivery_id in recent.values_list("pk", flat=True)
    ]
    MetricCheck.objects.bulk_create([*backfill, daily_check(channel, now)], ignore_conflicts=True)
    return len(backfill)


def sweep(now: dt.datetime | None = None) -> int:
    """Schedule what the signals may have missed (see the module's docstring). Returns how many
    checks it asked for (one that exists already is left as it is)."""
    now = now or timezone.now()
    networks = measured_networks()
    has_checks = MetricCheck.objects.filter(delivery=OuterRef("pk"))
    missing = (
        Delivery.objects.filter(
            state=Delivery.State.PUBLISHED,
            # Through the publisher's claim index: a delivery is due before it is published.
            due_at__gte=now - BACKFILL_WINDOW - dt.timedelta(days=1),
            published_at__gte=now - BACKFILL_WINDOW,
            channel__network__in=networks,
        )
        .exclude(remote_id="")
        .exclude(Exists(has_checks))
        .select_related("channel")
        .order_by("published_at")[:SWEEP_LIMIT]
    )
    checks = [check for delivery in missing for check in checks_for(delivery)]
    open_daily = MetricCheck.objects.filter(
        channel=OuterRef("pk"), checkpoint=Checkpoint.DAILY, state__in=MetricCheck.OPEN
    )
    paused = MetricCheck.objects.filter(channel=OuterRef("pk"), state=CheckState.PAUSED)
    channels = (
        Channel.objects.filter(network__in=networks, health__in=READABLE_HEALTH)
        .exclude(Exists(open_daily))
        .exclude(Exists(paused))
    )
    checks += [daily_check(channel, now) for channel in channels]
    MetricCheck.objects.bulk_create(checks, ignore_conflicts=True)
    return len(checks)
