from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel


class Post(models.Model):
    """A piece of content for one or more channels. Each channel gets a Delivery."""

    class Purpose(models.TextChoices):
        VALUE = "value", _("Value content")
        PROMOTION = "promotion", _("Promotion")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        PENDING_APPROVAL = "pending_approval", _("Waiting for approval")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        PUBLISHING = "publishing", _("Being published")
        PUBLISHED = "published", _("Published")
        PARTIAL = "partial", _("Partly published")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(_("text"))
    link = models.URLField(_("link"), blank=True, max_length=2000)
    pillar = models.CharField(_("content pillar"), max_length=60, blank=True)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices, default=Purpose.VALUE)
    # The strategy goal the post works towards: its clicks and conversions count for that goal
    # (docs/links.md "Per goal"), and the goal's page lists it under "Posts that helped".
    goal = models.ForeignKey(
        "strategy.Goal", verbose_name=_("goal"), null=True, blank=True, on_delete=models.SET_NULL, related_name="posts"
    )

    class Source(models.TextChoices):
        COMPOSER = "composer", _("Composer")
        QUEUE = "queue", _("Queue")
        EVERGREEN = "evergreen", _("Evergreen")
        CSV = "csv", _("CSV import")
        FEED = "feed", _("RSS/Atom feed")

    first_comment = models.TextField(_("first comment"), blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.COMPOSER)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_at", "-created_at"]
        indexes = [
            models.Index(fields=["workspace", "scheduled_at"]),  # the calendar's range scans
            models.Index(fields=["workspace", "pillar"]),  # the calendar's pillar filter and its choices
        ]

    def __str__(self) -> str:
        return self.text[:60]


class Delivery(models.Model):
    """One post on one channel, with the publisher's state machine (docs/publishing.md).

    `due_at` is null while the post is a draft; the publisher claims rows whose `due_at` has come
    (see `stammtisch.publishing.publisher`).
    """

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        PUBLISHING = "publishing", _("Being published")
        PUBLISHED = "published", _("Published")
        RETRY_WAIT = "retry_wait", _("Waiting to retry")
        UNKNOWN = "unknown", _("Outcome unknown, checking")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    text = models.TextField(_("text for this channel"))
    state = models.CharField(max_length=16, choices=State.choices, default=State.SCHEDULED)
    due_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    remote_id = models.CharField(max_length=200, blank=True)
    remote_url = models.URLField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # The first comment (where the network supports it), posted right after the post itself.
    first_comment_id = models.CharField(max_length=200, blank=True)
    first_comment_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "channel"], name="one_delivery_per_channel")]
        indexes = [
            models.Index(fields=["state", "due_at", "id"], name="delivery_claim_idx"),
            # Published in a range of time (the rollup job, "posts that helped"). Of published rows
            # only: a claim (scheduled -> publishing) leaves it alone. `state` stays its first
            # column: without table statistics SQLite's planner prefers the claim index otherwise.
            models.Index(
                fields=["state", "published_at"],
                condition=models.Q(state="published"),
                name="delivery_published_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.post_id} on {self.channel_id}: {self.state}"


class DeliveryAttempt(models.Model):
    """Recorded before every network call, completed after it.

    `kind` is `publish` (the call that may create the post) or `check` (asking the network
    whether an earlier attempt of unknown outcome went through, `find_published`).
    """

    class Kind(models.TextChoices):
        PUBLISH = "publish", _("Publish")
        CHECK = "check", _("Check")
        COMMENT = "comment", _("First comment")  # its reply call, or the check of one of unknown outcome

    class Outcome(models.TextChoices):
        PUBLISHED = "published", _("Published")
        FOUND = "found", _("Found: it was published")
        NOT_FOUND = "not_found", _("Not found: not published")
        RETRY = "retry", _("Failed, will retry")
        UNKNOWN = "unknown", _("Outcome unknown")
        FAILED = "failed", _("Failed")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PUBLISH)
    worker = models.CharField(max_length=64)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.kind} of delivery {self.delivery_id} at {self.started_at:%Y-%m-%d %H:%M}"


class CalendarFeed(models.Model):
    """A secret iCal feed of one workspace's content plan for one member's calendar app.

    Only the SHA-256 hash of the token is stored: the URL is shown once, when it is made, and
    regenerating it replaces the hash, so the old URL stops working at once. The feed also stops
    when the user leaves the workspace (the view checks the membership on every request).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "workspace"], name="one_calendar_feed_per_member")]

    def __str__(self) -> str:
        return f"calendar feed of user {self.user_id} in workspace {self.workspace_id}"


def media_path(instance: MediaAsset, filename: str) -> str:
    """Stored under a random name: the original name is kept in the row, never trusted as a path."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"media/{instance.workspace_id}/{uuid.uuid4().hex}.{suffix[:8]}"


class MediaAsset(models.Model):
    """An uploaded image or video of a workspace. Type, size and dimensions are read from the file
    itself on upload (never from the browser's claims), so the per-network media rules can be
    checked without opening the file again."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="media_assets")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(upload_to=media_path, max_length=300)
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=64)
    bytes = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    alt_text = models.CharField(_("alt text"), max_length=1500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "sha256"])]

    def __str__(self) -> str:
        return self.original_name or self.file.name


class PostMedia(models.Model):
    """The media of a post, in order (every channel of the post gets the same media)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="media_links")
    asset = models.ForeignKey(MediaAsset, on_delete=models.RESTRICT, related_name="post_links")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["post", "asset"], name="one_link_per_post_and_asset")]

    def __str__(self) -> str:
        return f"{self.asset_id} on post {self.post_id}"


class QueueSlot(models.Model):
    """A weekly posting time of a channel, a wall-clock time in the workspace's zone. "Add to
    queue" gives a post the next slot no other post of that channel takes yet."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="queue_slots")
    weekday = models.PositiveSmallIntegerField()  # 0 = Monday, as `date.weekday()`
    time = models.TimeField()

    class Meta:
        ordering = ["weekday", "time"]
        constraints = [models.UniqueConstraint(fields=["channel", "weekday", "time"], name="one_slot_per_time")]

    def __str__(self) -> str:
        return f"channel {self.channel_id}: day {self.weekday} {self.time:%H:%M}"


class EvergreenPost(models.Model):
    """Content that may go out again and again: it fills free queue slots of its channels, never
    sooner than `min_gap_days` after its last time, and never right after the same text."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="evergreen_posts")
    source_post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(_("text"))
    link = models.URLField(_("link"), blank=True, max_length=2000)
    pillar = models.CharField(_("content pillar"), max_length=60, blank=True)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Post.Purpose.choices, default=Post.Purpose.VALUE)
    channels = models.ManyToManyField(Channel, related_name="evergreen_posts")
    min_gap_days = models.PositiveIntegerField(_("minimum gap in days"), default=30)
    active = models.BooleanField(_("active"), default=True)
    last_scheduled_at = models.DateTimeField(null=True, blank=True)
    times_scheduled = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["last_scheduled_at", "pk"]

    def __str__(self) -> str:
        return self.text[:60]


class FeedSource(models.Model):
    """An RSS or Atom feed (the company's blog) whose new articles become posts. The worker checks
    due feeds (`next_check_at`) with a lease, like deliveries; the URL passed the SSRF guard."""

    class Mode(models.TextChoices):
        DRAFT = "draft", _("Create a draft")
        QUEUE = "queue", _("Add to the queue")
        NOW = "now", _("Publish at once")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="feed_sources")
    url = models.URLField(_("feed URL"), max_length=2000)
    title = models.CharField(_("name"), max_length=200, blank=True)
    channels = models.ManyToManyField(Channel, related_name="feed_sources")
    mode = models.CharField(_("new articles"), max_length=8, choices=Mode.choices, default=Mode.DRAFT)
    template = models.TextField(_("post text"), default="{title}\n\n{link}")
    utm_campaign = models.CharField(_("UTM campaign"), max_length=100, default="blog")
    pillar = models.CharField(_("content pillar"), max_length=60, blank=True)
    active = models.BooleanField(_("active"), default=True)
    interval_minutes = models.PositiveIntegerField(default=30)
    next_check_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["active", "next_check_at"])]

    def __str__(self) -> str:
        return self.title or self.url


class FeedItem(models.Model):
    """An article seen in a feed: stored once per guid, so a feed read twice makes one post."""

    feed = models.ForeignKey(FeedSource, on_delete=models.CASCADE, related_name="items")
    guid = models.CharField(max_length=500)
    link = models.URLField(max_length=2000, blank=True)
    title = models.CharField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "guid"], name="one_item_per_guid")]

    def __str__(self) -> str:
        return self.title or self.guid


class ApprovalSettings(models.Model):
    """Whether posts of a workspace need a reviewer's approval before they may go out."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="approval_settings")
    required = models.BooleanField(_("posts need approval"), default=False)
    link_days = models.PositiveSmallIntegerField(_("review links expire after (days)"), default=7)

    def __str__(self) -> str:
        return f"approvals of workspace {self.workspace_id}: {'on' if self.required else 'off'}"


class ApprovalEvent(models.Model):
    """The approval history of a post: submitted, approved, changes requested, comments."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted for approval")
        APPROVED = "approved", _("Approved")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        COMMENT = "comment", _("Comment")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        RESET = "reset", _("Approval reset by an edit")

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="approval_events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)  # the name given on a review link
    via_link = models.ForeignKey("ApprovalLink", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} on post {self.post_id}"


class ApprovalLink(models.Model):
    """An expiring review link for a reviewer without an account. Only the token's hash is stored."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="approval_links")
    token_hash = models.CharField(max_length=64, unique=True)
    reviewer_name = models.CharField(max_length=200, blank=True)
    reviewer_email = models.EmailField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"review link for post {self.post_id}"


class RateBucket(models.Model):
    """A token bucket shared by every worker: `key` is `network:<key>` or `channel:<id>`. A worker
    takes a token in one conditional UPDATE before a network call (publishing/ratelimit.py)."""

    key = models.CharField(max_length=100, unique=True)
    tokens = models.FloatField(default=0)
    refilled_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.key}: {self.tokens:.1f}"
