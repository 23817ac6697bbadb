"""The Sandbox network's own data: what a real network would keep on its servers.

Nothing here is a Stammtisch concept; Stammtisch sees these rows only through the connector
(`connector.SandboxNetwork`), exactly as it sees a real network. docs/sandbox.md explains the
model and the simulation.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace

HANDLE_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,39}$"
validate_handle = RegexValidator(
    HANDLE_PATTERN,
    _("Use 2 to 40 lower-case letters, digits, hyphens or underscores, starting with a letter or digit."),
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PostIdField(models.BigAutoField):
    """The id of a Sandbox post: on SQLite without AUTOINCREMENT, which makes every insert write
    one more page (the `sqlite_sequence` table) for a promise never to reuse the id of a deleted
    newest row. Sandbox posts are deleted softly (`deleted_at`); only reactions that have not
    happened yet are removed, and nobody outside the Sandbox has seen their ids."""

    def db_type_suffix(self, connection: Any) -> str | None:
        return None if connection.vendor == "sqlite" else super().db_type_suffix(connection)  # type: ignore[misc]


class SandboxAccount(models.Model):
    """An account on the Sandbox network; a Channel with network "sandbox" connects to it."""

    handle = models.CharField(_("handle"), max_length=40, unique=True, validators=[validate_handle])
    display_name = models.CharField(_("display name"), max_length=200)
    # The workspace that created it; others cannot connect to it (null: made by a test or script).
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.SET_NULL, related_name="sandbox_accounts"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # simulation.advance() has produced the account's daily events up to this instant (a midnight).
    simulated_until = models.DateTimeField()

    class Meta:
        ordering = ["handle"]

    def __str__(self) -> str:
        return f"@{self.handle}"

    def get_absolute_url(self) -> str:
        return reverse("sandbox:feed", args=[self.handle])

    @property
    def remote_id(self) -> str:
        return f"account-{self.pk}"


class SandboxToken(models.Model):
    """An access token of an account. Only its hash is stored."""

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token of {self.account}"


class SandboxPersona(models.Model):
    """A member of the simulated audience. Generated from settings.SANDBOX_SEED (personas.py);
    the primary key is the persona's index in the generated list plus one."""

    id = models.PositiveIntegerField(primary_key=True)
    handle = models.CharField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    language = models.CharField(max_length=2)  # de, en
    interests = models.JSONField(default=list)  # topic keys (texts.TOPICS)
    active_profile = models.CharField(max_length=20)  # personas.ACTIVITY_PROFILES
    # Propensities per seen post: like, comment, question, share, click, follow (0..1).
    habits = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"@{self.handle}"


class SandboxPost(models.Model):
    """A post, a comment or a reply. Top-level posts have no parent; comments and replies point
    to what they answer (`parent`) and to the top-level post of their thread (`root`).

    `author_persona` is empty when the account itself wrote it (our posts and our replies)."""

    # Indexes (Meta): every post is written once and read often, but the publisher writes one
    # per delivery, so no index is kept twice and the ones our own posts leave empty (persona,
    # parent, root) are partial: a top-level post of ours touches three b-trees besides the table.
    id = PostIdField(primary_key=True)
    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="posts", db_index=False)
    author_persona = models.ForeignKey(
        SandboxPersona, null=True, blank=True, on_delete=models.CASCADE, related_name="posts", db_index=False
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children", db_index=False
    )
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="thread", db_index=False
    )
    text = models.TextField()
    link = models.CharField(max_length=2000, blank=True)
    media_count = models.PositiveSmallIntegerField(default=0)
    # The images and videos, as a network keeps them: [{"url", "alt", "type"}], in order.
    media = models.JSONField(default=list, blank=True)
    # Not unique on purpose: a caller that really publishes twice gets two posts (benchmarks count them).
    # No index of its own: `find_published` looks among the account's posts (feed index), as a
    # client of a real network reads the account's recent posts; a random key per row made every
    # insert write one more page (docs/benchmarks.md).
    idempotency_key = models.CharField(max_length=200, blank=True)
    # What the simulation read from the text (texts.analyse): topics, language, promo, question, ...
    features = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)  # wall clock, not the Sandbox clock

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(fields=["account", "parent", "published_at"], name="sandbox_post_feed"),
            models.Index(fields=["root", "published_at"], name="sandbox_post_thread", condition=Q(root__isnull=False)),
            models.Index(fields=["parent"], name="sandbox_post_parent", condition=Q(parent__isnull=False)),
            models.Index(
                fields=["author_persona"], name="sandbox_post_persona", condition=Q(author_persona__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def remote_id(self) -> str:
        return f"post-{self.pk}"

    @property
    def url(self) -> str:
        root_id = self.root_id or self.pk
        path = reverse("sandbox:post", args=[self.account.handle, root_id])
        return f"{settings.BASE_URL}{path}#post-{self.pk}"

    @property
    def media_shown(self) -> list[dict[str, object]]:
        """The media the feed shows: only http(s) addresses become images or videos."""
        shown: list[dict[str, object]] = []
        for item in self.media if isinstance(self.media, list) else []:
            url = str(item.get("url", "")) if isinstance(item, dict) else ""
            if url.lower().startswith(("http://", "https://")):
                kind = str(item.get("type", ""))
                shown.append({"url": url, "alt": str(item.get("alt", "")), "video": kind.startswith("video/")})
        return shown

    @property
    def safe_link(self) -> str:
        """The link if it is an http(s) URL (only those become clickable on the feed)."""
        return self.link if self.link.lower().startswith(("http://", "https://")) else ""


class SandboxEvent(models.Model):
    """Something the audience did, precomputed by the simulation; it "happens" once the Sandbox
    clock passes `occurs_at`. Views are stored in buckets (`count` > 1, no persona)."""

    class Kind(models.TextChoices):
        VIEW = "view", _("view")
        LIKE = "like", _("like")
        SHARE = "share", _("share")
        COMMENT = "comment", _("comment")
        QUESTION = "question", _("question")
        FOLLOW = "follow", _("follow")
        UNFOLLOW = "unfollow", _("unfollow")
        CLICK = "click", _("click")
        REPLY = "reply", _("reply")

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    persona = models.ForeignKey(SandboxPersona, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    # The top-level post this belongs to (empty for follows and unfollows of the account).
    post = models.ForeignKey(SandboxPost, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    # For comment, question and reply: the persona's SandboxPost holding the text.
    comment = models.ForeignKey(SandboxPost, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(blank=True)
    count = models.PositiveIntegerField(default=1)
    occurs_at = models.DateTimeField()

    class Meta:
        ordering = ["occurs_at", "id"]
        indexes = [
            models.Index(fields=["account", "occurs_at"], name="sandbox_event_account"),
            models.Index(fields=["post", "occurs_at"], name="sandbox_event_post"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.occurs_at:%Y-%m-%d %H:%M}"

    @property
    def remote_id(self) -> str:
        """Stable id on the network; for text events the comment's id, so one can reply to it."""
        if self.comment_id:
            return f"post-{self.comment_id}"
        return f"event-{self.pk}"


class SandboxFollow(models.Model):
    """A persona following an account from `since` until `until` (empty: still following)."""

    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="follows")
    persona = models.ForeignKey(SandboxPersona, on_delete=models.CASCADE, related_name="follows")
    since = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "since"], name="sandbox_follow_account")]

    def __str__(self) -> str:
        return f"{self.persona_id} follows {self.account_id}"
