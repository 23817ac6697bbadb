"""The inbox's data: conversations and messages from every channel, what the worker needs to read
them (`SyncState`) and to answer them exactly once (`Reply`, `ReplyAttempt`), and what members add
(notes, saved replies, triage corrections). docs/inbox.md explains each part.

Text from networks is untrusted: it is stored as received (NUL characters replaced, which
PostgreSQL cannot store) and always rendered escaped.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Delivery


class Sentiment(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")


class Intent(models.TextChoices):
    QUESTION = "question", _("Question")
    COMPLAINT = "complaint", _("Complaint")
    PRAISE = "praise", _("Praise")
    PURCHASE = "purchase_interest", _("Purchase interest")
    SPAM = "spam", _("Spam")
    OTHER = "other", _("Other")


class Language(models.TextChoices):
    DE = "de", _("German")
    EN = "en", _("English")
    OTHER = "other", _("Other language")


class Conversation(models.Model):
    """A thread to work on: the comments under one of our posts, a mention, or the direct
    messages with one person. The newest incoming message's author, excerpt and triage labels
    are copied here, so the list and its filters read one table."""

    class Kind(models.TextChoices):
        COMMENTS = "comments", _("Comments on a post")
        MENTION = "mention", _("Mention")
        MESSAGE = "message", _("Direct message")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WAITING = "waiting", _("Waiting")
        DONE = "done", _("Done")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="conversations")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Comments: our post's remote id; mention: the mentioning post's; message: the other person's id.
    root_remote_id = models.CharField(max_length=200)
    # The delivery of ours this thread belongs to (comments under a post we published).
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_incoming_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    incoming_count = models.PositiveIntegerField(default=0)
    # Of the newest incoming message:
    author_name = models.CharField(max_length=200, blank=True)
    author_handle = models.CharField(max_length=200, blank=True)
    excerpt = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=8, blank=True, choices=Language.choices)
    sentiment = models.CharField(max_length=10, blank=True, choices=Sentiment.choices)
    intent = models.CharField(max_length=20, blank=True, choices=Intent.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "kind", "root_remote_id"], name="one_conversation_per_root")
        ]
        indexes = [
            models.Index(fields=["workspace", "last_message_at"], name="inbox_conv_recent"),
            models.Index(fields=["workspace", "status", "last_message_at"], name="inbox_conv_status"),
            models.Index(fields=["workspace", "assignee", "status"], name="inbox_conv_assignee"),
            models.Index(fields=["workspace", "channel", "last_message_at"], name="inbox_conv_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.root_remote_id} on {self.channel_id}"


class Message(models.Model):
    """One comment, reply, mention or direct message, incoming or ours. `remote_id` is unique per
    channel, so an event seen twice is stored once."""

    class Direction(models.TextChoices):
        IN = "in", _("Incoming")
        OUT = "out", _("Ours")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    remote_id = models.CharField(max_length=200)
    parent_remote_id = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, blank=True)  # the event's kind: comment, reply, mention, message
    author_id = models.CharField(max_length=200, blank=True)
    author_handle = models.CharField(max_length=200, blank=True)
    author_name = models.CharField(max_length=200, blank=True)
    author_avatar_url = models.URLField(max_length=500, blank=True)
    text = models.TextField(blank=True)
    occurred_at = models.DateTimeField()
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.IN)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Triage (stammtisch/inbox/triage), for incoming texts; blank when it could not run.
    language = models.CharField(max_length=8, blank=True, choices=Language.choices)
    sentiment = models.CharField(max_length=10, blank=True, choices=Sentiment.choices)
    intent = models.CharField(max_length=20, blank=True, choices=Intent.choices)
    confidence = models.FloatField(null=True, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    corrected_at = models.DateTimeField(null=True, blank=True)
    hidden = models.BooleanField(default=False)  # hidden on the network (models_rules.NetworkAction)
    liked = models.BooleanField(default=False)  # liked by us on the network
    # Hidden in Stammtisch only (a rule's "hide spam", or a member); undone by "Show again".
    muted_at = models.DateTimeField(null=True, blank=True)
    muted_by_rule = models.ForeignKey("inbox.Rule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "remote_id"], name="one_message_per_remote_id")]
        indexes = [
            models.Index(fields=["conversation", "occurred_at"], name="inbox_msg_thread"),
            # A range of days of the workspace's messages (analytics/rollups.py).
            models.Index(fields=["workspace", "occurred_at"], name="inbox_msg_recent"),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def first_name(self) -> str:
        return first_name(self.author_name, self.author_handle)


def first_name(name: str, handle: str = "") -> str:
    """What `{first_name}` in a saved reply becomes: the first word of the name, else the handle."""
    words = name.split()
    return words[0] if words else handle.lstrip("@")


class TriageCorrection(models.Model):
    """A member corrected a triage label: kept as training data of the workspace."""

    class Field(models.TextChoices):
        LANGUAGE = "language", _("Language")
        SENTIMENT = "sentiment", _("Sentiment")
        INTENT = "intent", _("Intent")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="corrections")
    field = models.CharField(max_length=10, choices=Field.choices)
    old_value = models.CharField(max_length=20, blank=True)
    new_value = models.CharField(max_length=20)
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "field"], name="inbox_correction_field")]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value} -> {self.new_value}"


class Interaction(models.Model):
    """An event without text (like, share, follow, unfollow, click): no conversation, but a fact
    about a person for the audience issue."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    remote_id = models.CharField(max_length=200)
    post_remote_id = models.CharField(max_length=200, blank=True)
    author_id = models.CharField(max_length=200, blank=True)
    author_handle = models.CharField(max_length=200, blank=True)
    author_name = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "kind", "remote_id"], name="one_interaction_per_remote_id")
        ]
        indexes = [models.Index(fields=["workspace", "occurred_at"], name="inbox_interaction_recent")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.author_handle}"


class SyncState(models.Model):
    """Where the worker is in reading one channel's activity, and when to read next. Claimed with a
    lease like a delivery (inbox/sync.py)."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused: reconnect the channel")
        UNSUPPORTED = "unsupported", _("Not supported by this network")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="inbox_sync")
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    cursor = models.JSONField(default=dict, blank=True)
    next_sync_at = models.DateTimeField(default=timezone.now)
    interval_seconds = models.PositiveIntegerField(default=120)
    failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_sync_at"], name="inbox_sync_due")]

    def __str__(self) -> str:
        return f"sync of channel {self.channel_id}: {self.state}"


class Reply(models.Model):
    """Our answer written in the inbox, published by the worker exactly once (inbox/replies.py):

    pending ──claim──> sending ──ok──> sent
    retry_wait ─claim─┘   ├─ transient error ──> retry_wait (backoff)
    unknown ──claim──┘    ├─ outcome unknown ──> unknown (next claim asks find_published first)
    (lease expired) ──────┘ └─ permanent error, too many attempts ──> failed
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        RETRY_WAIT = "retry_wait", _("Waiting to retry")
        UNKNOWN = "unknown", _("Outcome unknown, checking")
        FAILED = "failed", _("Failed")
        # Reply approval (docs/inbox.md): never claimed by the worker in these states.
        AWAITING_APPROVAL = "approval", _("Waiting for approval")
        REJECTED = "rejected", _("Rejected")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="replies")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    in_reply_to = models.CharField(max_length=200)  # remote id of the message answered
    text = models.TextField(_("reply"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    remote_id = models.CharField(max_length=200, blank=True)
    remote_url = models.URLField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "due_at", "id"], name="inbox_reply_claim")]

    def __str__(self) -> str:
        return f"reply in conversation {self.conversation_id}: {self.state}"

    @property
    def is_pending(self) -> bool:
        return self.state not in (self.State.SENT, self.State.FAILED, self.State.REJECTED)


class ReplyAttempt(models.Model):
    """Recorded (committed) before every network call for a reply, completed after it."""

    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply")
        CHECK = "check", _("Check")

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        FOUND = "found", _("Found: it was sent")
        NOT_FOUND = "not_found", _("Not found: not sent")
        RETRY = "retry", _("Failed, will retry")
        UNKNOWN = "unknown", _("Outcome unknown")
        FAILED = "failed", _("Failed")

    reply = models.ForeignKey(Reply, on_delete=models.CASCADE, related_name="attempt_log")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    worker = models.CharField(max_length=64)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} of reply {self.reply_id}"


class InternalNote(models.Model):
    """A note for the team on a conversation; never sent to the network."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(_("note"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.text[:60]


class SavedReply(models.Model):
    """A ready answer; `{first_name}`, `{name}` and `{handle}` are filled in for the person."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="saved_replies")
    title = models.CharField(_("title"), max_length=120)
    text = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.DE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["language", "title", "pk"]

    def __str__(self) -> str:
        return self.title


# The team tools' models (rules, labels, saved views, settings, network actions), in the same app.
from stammtisch.inbox.models_rules import ConversationLabel as ConversationLabel  # noqa: E402
from stammtisch.inbox.models_rules import InboxSettings as InboxSettings  # noqa: E402
from stammtisch.inbox.models_rules import NetworkAction as NetworkAction  # noqa: E402
from stammtisch.inbox.models_rules import Rule as Rule  # noqa: E402
from stammtisch.inbox.models_rules import SavedView as SavedView  # noqa: E402
from stammtisch.inbox.models_sla import SlaSettings as SlaSettings  # noqa: E402
