"""Metric snapshots and the checks that take them (docs/analytics.md).

A *check* is due work: "read the figures of this post (or this channel) at this time". The
worker claims due checks with a lease, as the publisher claims deliveries (analytics/sync.py),
asks the connector once per channel and stores *snapshots*: what the network reported at one
moment. Figures entered by hand or imported from a CSV file (XING has no API) are snapshots too,
with their own `source`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Delivery


class Source(models.TextChoices):
    API = "api", _("Read from the network")
    MANUAL = "manual", _("Entered by hand")
    IMPORT = "import", _("Imported from a CSV file")


# The per-post figures every network may report, as columns; anything else goes to `extra`.
POST_METRICS = ("impressions", "reach", "likes", "comments", "shares", "clicks", "video_views")


class PostMetricSnapshot(models.Model):
    """The figures of one delivery (one post on one channel) at `observed_at`. Counts are totals
    since publishing, as the network reports them; a figure the network does not report is None
    (unknown), never 0."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="metric_snapshots")
    observed_at = models.DateTimeField(_("as of"))
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    impressions = models.PositiveBigIntegerField(_("impressions"), null=True, blank=True)
    reach = models.PositiveBigIntegerField(_("reach"), null=True, blank=True)
    likes = models.PositiveBigIntegerField(_("likes"), null=True, blank=True)
    comments = models.PositiveBigIntegerField(_("comments"), null=True, blank=True)
    shares = models.PositiveBigIntegerField(_("shares"), null=True, blank=True)
    clicks = models.PositiveBigIntegerField(_("clicks"), null=True, blank=True)
    video_views = models.PositiveBigIntegerField(_("video views"), null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)  # network-specific counts: quotes, saves, ...
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-observed_at", "-pk"]
        constraints = [
            # A check that runs twice, or a file imported twice, stores its figures once. Its index
            # also serves "the latest snapshot of this delivery" (a backward scan).
            models.UniqueConstraint(fields=["delivery", "observed_at", "source"], name="one_post_snapshot_per_time")
        ]

    def __str__(self) -> str:
        return f"delivery {self.delivery_id} at {self.observed_at:%Y-%m-%d %H:%M} ({self.source})"

    @property
    def values(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in POST_METRICS}


class ChannelMetricSnapshot(models.Model):
    """A channel's figures (followers, ...) on one day in the workspace's time zone: the last
    observation of that day wins."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="metric_snapshots")
    day = models.DateField()
    observed_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    followers = models.PositiveBigIntegerField(_("followers"), null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)  # following, posts, page likes, ...
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "day", "source"], name="one_channel_snapshot_per_day")
        ]

    def __str__(self) -> str:
        return f"channel {self.channel_id} on {self.day}: {self.followers} followers"


class MetricCheck(models.Model):
    """One reading of figures that is due: a post's at a checkpoint after publishing, or a
    channel's daily one (`delivery` None). Claimed by workers with a lease (analytics/sync.py)."""

    class Checkpoint(models.TextChoices):
        HOUR = "1h", _("1 hour after publishing")
        DAY = "24h", _("24 hours after publishing")
        WEEK = "7d", _("7 days after publishing")
        MONTH = "28d", _("28 days after publishing")
        BACKFILL = "backfill", _("After the channel was connected")
        DAILY = "daily", _("Daily channel figures")

    class State(models.TextChoices):
        PENDING = "pending", _("Due")
        RUNNING = "running", _("Being read")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        PAUSED = "paused", _("Paused: the channel must be reconnected")
        SKIPPED = "skipped", _("Skipped")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # No index of its own: metric_check_channel_idx (channel, state) serves look-ups by channel,
    # and every published delivery adds a row (the publisher's burst benchmark counts each index).
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="metric_checks", db_index=False)
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.CASCADE, related_name="metric_checks"
    )
    checkpoint = models.CharField(max_length=8, choices=Checkpoint.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    due_at = models.DateTimeField()
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # failed calls (not rate-limit waits)
    last_error = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    OPEN = (State.PENDING, State.RUNNING)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "checkpoint"],
                condition=Q(delivery__isnull=False) & ~Q(checkpoint="backfill"),
                name="one_metric_check_per_checkpoint",
            ),
            # A reconnect may ask for a backfill again, but never while one is still open.
            models.UniqueConstraint(
                fields=["delivery"],
                condition=Q(checkpoint="backfill", state__in=["pending", "running"]),
                name="one_open_backfill_per_delivery",
            ),
            models.UniqueConstraint(
                fields=["channel"],
                condition=Q(checkpoint="daily", state__in=["pending", "running"]),
                name="one_open_daily_check_per_channel",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "due_at", "id"], name="metric_check_claim_idx"),
            models.Index(fields=["channel", "state"], name="metric_check_channel_idx"),
        ]

    def __str__(self) -> str:
        target = f"delivery {self.delivery_id}" if self.delivery_id else f"channel {self.channel_id}"
        return f"{self.checkpoint} check of {target}: {self.state}"


class DailyRollup(models.Model):
    """One figure of one day (in the workspace's time zone), computed by the worker from the raw
    rows (analytics/rollups.py) so that dashboards never read raw events on page load.

    `key` names the figure (`analytics/rollups.py` `ROLLUP_KEYS`); `dimension` is "" for the
    workspace's total, a channel id for a channel's share, or a label (a pillar, a purpose, a
    weekday and hour) where the key says so (docs/strategy.md)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    key = models.CharField(max_length=40)
    dimension = models.CharField(max_length=80, blank=True, default="")
    value = models.FloatField()

    class Meta:
        ordering = ["day", "key", "dimension"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key", "dimension", "day"], name="one_rollup_per_day")
        ]
        # Every dimension of some days at once (a range's sum per channel, analytics/periods.py `sums`).
        indexes = [models.Index(fields=["workspace", "key", "day"], name="rollup_key_day_idx")]

    def __str__(self) -> str:
        return f"{self.key}[{self.dimension}] on {self.day}: {self.value}"


class RollupState(models.Model):
    """When a workspace's rollups were last computed and are next due; claimed by workers with a
    conditional UPDATE of `next_run_at` (analytics/rollups.py `run_due`)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="rollup_state")
    next_run_at = models.DateTimeField(default=timezone.now)
    backfilled = models.BooleanField(default=False)  # the long backfill has run once
    refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_run_at"], name="rollup_state_due_idx")]

    def __str__(self) -> str:
        return f"rollups of workspace {self.workspace_id}: next {self.next_run_at:%Y-%m-%d %H:%M}"


class PeriodRollup(models.Model):
    """One figure of one ISO week (Monday to Sunday) or calendar month, in the workspace's time
    zone, computed by the rollup job from the `DailyRollup` rows of that period
    (analytics/periods.py), so that long ranges are charted and summed from a few rows.

    `value` adds the days up (a count), takes the last day's value (a level such as followers) or
    the median of the daily medians, as the key says (analytics/kpis.py `LAST_KEYS`,
    `MEDIAN_KEYS`); `days` is how many daily rows it was computed from (fewer than the period has:
    the period is not over yet, or began before the first computed day)."""

    class Period(models.TextChoices):
        WEEK = "week", _("Week")
        MONTH = "month", _("Month")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=5, choices=Period.choices)
    start = models.DateField()  # the Monday of the week, or the 1st of the month
    key = models.CharField(max_length=40)
    dimension = models.CharField(max_length=80, blank=True, default="")
    value = models.FloatField()
    days = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["period", "start", "key", "dimension"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "period", "key", "dimension", "start"], name="one_rollup_per_period"
            )
        ]
        # Every dimension of some periods at once (analytics/periods.py `sums`).
        indexes = [models.Index(fields=["workspace", "period", "key", "start"], name="period_rollup_start_idx")]

    def __str__(self) -> str:
        return f"{self.key}[{self.dimension}] in the {self.period} of {self.start}: {self.value}"


# The figures of a `PostRollup` that the pages filter, rank and sum by (and its id, which the
# ranking selects first and then reads the rows of).
FIGURE_COLUMNS = ["impressions", "engagements", "rate", "link_clicks", "conversions", "weekday", "hour", "id"]


class PostRollup(models.Model):
    """The figures of one published delivery (a post on one channel), as the dashboards rank
    them: its latest metric snapshot, the clicks on its short links and the conversions
    attributed to it. Computed by the rollup job (analytics/post_rollups.py); pages read these
    rows, never the snapshots, clicks or conversions themselves."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, related_name="rollup")
    post = models.ForeignKey("publishing.Post", on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    published_at = models.DateTimeField()
    weekday = models.PositiveSmallIntegerField()  # of publishing, in the workspace's zone (0 = Monday)
    hour = models.PositiveSmallIntegerField()
    observed_at = models.DateTimeField(null=True, blank=True)  # the snapshot's time; None: never measured
    impressions = models.PositiveBigIntegerField(null=True, blank=True)  # impressions, else reach
    engagements = models.PositiveBigIntegerField(null=True, blank=True)  # likes + comments + shares
    network_clicks = models.PositiveBigIntegerField(null=True, blank=True)  # clicks the network reports
    link_clicks = models.PositiveBigIntegerField(default=0)  # clicks on our short links, bots left out
    conversions = models.PositiveBigIntegerField(default=0)  # attributed, visits left out
    visits = models.PositiveBigIntegerField(default=0)  # attributed website visits
    rate = models.FloatField(null=True, blank=True)  # engagements / impressions in %; None: not measured
    # What "posts that helped" ranks a goal's posts by (strategy/helped.py): the post's goal (kept in
    # step by `publishing.actions.do_set_post_goal`), the snapshot's likes + comments + shares also
    # where no impressions are reported, the conversions' value, and from the inbox and audience:
    # incoming comments and replies (spam and deleted ones left out) with their sentiment, question
    # and complaint conversations and how many got an answer, the people who wrote there who had
    # been seen on an earlier day, and those whose first contact it was.
    goal = models.ForeignKey("strategy.Goal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    interactions = models.PositiveBigIntegerField(null=True, blank=True)  # None: never measured
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)  # None: none reported
    messages = models.PositiveIntegerField(default=0)
    positive = models.PositiveIntegerField(default=0)
    negative = models.PositiveIntegerField(default=0)
    feedback = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    returning = models.PositiveIntegerField(default=0)
    new_people = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-published_at", "-pk"]
        # Covering: ranking and the best time read a range's figures from the index alone, without
        # visiting rows scattered over the table (analytics/ranking.py). The figures are key
        # columns, not INCLUDE ones, so that SQLite covers them too.
        indexes = [
            models.Index(
                fields=["workspace", "published_at", "channel", *FIGURE_COLUMNS], name="post_rollup_range_idx"
            ),
            models.Index(
                fields=["workspace", "channel", "published_at", *FIGURE_COLUMNS], name="post_rollup_channel_idx"
            ),
            # A goal's posts of its period (strategy/helped.py).
            models.Index(fields=["goal", "published_at"], name="post_rollup_goal_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.delivery_id}: rate {self.rate}"
