"""People and loyalty (docs/people.md): one `Person` per human across networks and offline, their
`Identity` per network account, an `Engagement` per thing they did (read from the inbox's rows by
`audience/consume.py`), the `StageTransition`s of their lifecycle stage, and the `Suppression`
entries that keep erased people from coming back.

Identities and people are created only by the audience app; the inbox never writes here.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel


class Stage(models.TextChoices):
    NEW = "new", _("New")
    ENGAGED = "engaged", _("Engaged")
    LOYAL = "loyal", _("Loyal")
    ADVOCATE = "advocate", _("Advocate")
    AT_RISK = "at_risk", _("At risk")
    LAPSED = "lapsed", _("Lapsed")


class Consent(models.TextChoices):
    UNKNOWN = "unknown", _("Not asked")
    GIVEN = "given", _("Given")
    REFUSED = "refused", _("Refused")


class Kind(models.TextChoices):
    """What a person did; `answered` means we replied to them."""

    COMMENT = "comment", _("Comment")
    REPLY = "reply", _("Reply")
    MENTION = "mention", _("Mention")
    MESSAGE = "message", _("Direct message")
    LIKE = "like", _("Like")
    SHARE = "share", _("Share")
    FOLLOW = "follow", _("Follow")
    UNFOLLOW = "unfollow", _("Unfollow")
    ANSWERED = "answered", _("Got an answer")


class Tag(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="audience_one_tag_per_name")]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """A human: seen on one or more networks (identities), or added by hand. `score` is the
    loyalty score as of `score_at` (docs/people.md); `counts` holds all-time counts per kind."""

    class Source(models.TextChoices):
        NETWORK = "network", _("Seen on a network")
        MANUAL = "manual", _("Added by hand")
        IMPORT = "import", _("Imported from a CSV file")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    display_name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="people")
    notes = models.TextField(_("notes"), blank=True)
    consent = models.CharField(_("consent"), max_length=8, choices=Consent.choices, default=Consent.UNKNOWN)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.NETWORK)
    stage = models.CharField(_("stage"), max_length=8, choices=Stage.choices, default=Stage.NEW)
    score = models.FloatField(_("loyalty score"), default=0.0)
    score_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "stage", "-score"], name="audience_person_stage"),
            models.Index(fields=["workspace", "-score"], name="audience_person_score"),
            models.Index(fields=["workspace", "-last_seen"], name="audience_person_seen"),
        ]

    def __str__(self) -> str:
        return self.display_name or f"#{self.pk}"

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


class Identity(models.Model):
    """One account of a person on one network. `remote_id` is the network's id of the author;
    when the network gave none, `@` and the lower-cased handle stand in for it (and are replaced
    by the real id as soon as one arrives)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identities")
    network = models.CharField(_("network"), max_length=32)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    remote_id = models.CharField(max_length=200)
    handle = models.CharField(_("handle"), max_length=200, blank=True)
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    profile_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "network", "remote_id"], name="audience_one_identity_per_remote_id"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "network", "handle"], name="audience_identity_handle"),
            # The people list's network filter: people with an identity on a network.
            models.Index(fields=["network", "person"], name="audience_identity_network"),
        ]

    def __str__(self) -> str:
        return f"{self.network}:{self.handle or self.remote_id}"


class Engagement(models.Model):
    """One thing a person did (or we did for them: `answered`), read from an inbox row.
    (`source`, `source_id`) names that row; it is unique, so a row read twice counts once."""

    class Source(models.TextChoices):
        MESSAGE = "message", _("Inbox message")
        INTERACTION = "interaction", _("Interaction")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="engagements")
    identity = models.ForeignKey(Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    weight = models.FloatField()
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=12, choices=Source.choices)
    source_id = models.BigIntegerField()
    answered = models.BooleanField(default=False)
    sentiment = models.CharField(max_length=10, blank=True)
    intent = models.CharField(max_length=20, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "source_id"], name="audience_one_engagement_per_row")]
        indexes = [models.Index(fields=["person", "-occurred_at"], name="audience_engagement_person")]

    def __str__(self) -> str:
        return f"{self.kind} of person {self.person_id}"


class StageTransition(models.Model):
    """A change of a person's stage, kept so analytics can count transitions over time."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.CharField(max_length=8, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=8, choices=Stage.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["workspace", "at"], name="audience_transition_at")]

    def __str__(self) -> str:
        return f"{self.from_stage} -> {self.to_stage}"


class Suppression(models.Model):
    """An erased identity: a keyed hash of network and remote id (audience/privacy.py), never the
    id itself. The consumer creates nobody whose hash is listed."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "hash"], name="audience_one_suppression")]

    def __str__(self) -> str:
        return self.hash[:12]


class AudienceCursor(models.Model):
    """How far the consumer has read the inbox's tables (one row, name "inbox"), and when the
    daily job last ran."""

    name = models.CharField(max_length=32, unique=True)
    message_id = models.BigIntegerField(default=0)
    interaction_id = models.BigIntegerField(default=0)
    daily_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: message {self.message_id}, interaction {self.interaction_id}"


class AudienceSettings(models.Model):
    """Per-workspace settings: erase people inactive for longer than `retention_months`."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="audience_settings")
    retention_months = models.PositiveIntegerField(_("erase people inactive for (months)"), null=True, blank=True)

    def __str__(self) -> str:
        return f"audience settings of {self.workspace_id}"


class Segment(models.Model):
    """A saved filter of people (docs/people.md "Segments"): `filters` holds the people list's
    filter values (stage, min_score, max_score, network, language, tag, sentiment, seen), applied
    by `audience/segments.py`. Usable in the people list and in the inbox list."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    filters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="audience_one_segment_per_name")]

    def __str__(self) -> str:
        return self.name


class SegmentCount(models.Model):
    """How many people were in a segment on a day (the workspace's day), written by the daily job."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="counts")
    day = models.DateField()
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["segment", "day"]
        constraints = [models.UniqueConstraint(fields=["segment", "day"], name="audience_one_count_per_day")]

    def __str__(self) -> str:
        return f"{self.segment_id} on {self.day}: {self.count}"
