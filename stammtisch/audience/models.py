"""People and loyalty (docs/people.md): one `Person` per human across networks and offline, their
`Identity` per network account, an `Engagement` per thing they did (read from the inbox's rows by
`audience/consume.py`), the `StageTransition`s of their lifecycle stage, and the `Suppression`
entries that keep erased people from coming back. `ProfileLink`s are the links in the profiles of
network accounts (for merge suggestions), `Referral`s a person's personal referral codes and links,
`ConversionContact`s what the audience app keeps of a conversion: the keyed hash of the e-mail
it reported and the referral it came through, and `ReferredFollow`s the follows of new followers
who named a personal code (docs/people.md "Referrals").

Identities and people are created only by the audience app; the inbox never writes here.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.links.models import Conversion, ShortLink
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
    REFERRAL = "referral", _("Recommendation converted")
    REFERRED_FOLLOW = "ref_follow", _("Recommendation followed us")


# Kinds that are not the person being active themselves: they move the score, not "last seen".
PASSIVE_KINDS = frozenset({Kind.ANSWERED, Kind.REFERRAL, Kind.REFERRED_FOLLOW})


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
    # Keyed hash of the normalised e-mail (privacy.email_hash), kept by `save()`: matched against
    # the e-mail hashes of conversions and of other people, never reversed.
    email_hash = models.CharField(max_length=64, blank=True, editable=False)
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
            models.Index(fields=["workspace", "first_seen"], name="audience_person_first_seen"),  # new people
            models.Index(
                fields=["workspace", "email_hash"], name="audience_person_email", condition=~models.Q(email_hash="")
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or f"#{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Keeps `email_hash` in step with `email` (bulk writes do not pass here: the consumer's
        bulk writes never set an e-mail)."""
        from stammtisch.audience.privacy import email_hash

        fields = kwargs.get("update_fields")
        if fields is None or "email" in fields:
            self.email_hash = email_hash(self.workspace_id, self.email)
            if fields is not None:
                kwargs["update_fields"] = {*fields, "email_hash"}
        super().save(*args, **kwargs)

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
            # Accounts named by a link in another account's profile (handles in any case).
            models.Index("workspace", "network", Lower("handle"), name="audience_identity_handle_ci"),
        ]

    def __str__(self) -> str:
        return f"{self.network}:{self.handle or self.remote_id}"


class Engagement(models.Model):
    """One thing a person did (or we did for them: `answered`), read from an inbox row.
    (`source`, `source_id`) names that row; it is unique, so a row read twice counts once."""

    class Source(models.TextChoices):
        MESSAGE = "message", _("Inbox message")
        INTERACTION = "interaction", _("Interaction")
        CONVERSION = "conversion", _("Conversion")  # a conversion through the person's referral
        REFERRED_FOLLOW = "ref_follow", _("Follow through a referral")  # a ReferredFollow of their code

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
        indexes = [
            models.Index(fields=["person", "-occurred_at"], name="audience_engagement_person"),
            # A range of days of the workspace's engagements (analytics/rollups.py returning people).
            models.Index(fields=["workspace", "occurred_at"], name="audience_engagement_recent"),
        ]

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


class ProfileLink(models.Model):
    """A link in the profile of a network account (its website field, profile fields or a link in
    its bio), as the network's payload showed it when the account's activity was read
    (`audience/profiles.py`). The account is named like an `Identity`: (workspace, network,
    remote id). When the link is another network's profile page, `to_network` and `to_handle`
    (lower case) name that account: two people whose accounts link to each other are probably
    one human (merge suggestions). Removed with the identity on erasure."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    network = models.CharField(max_length=32)
    remote_id = models.CharField(max_length=200)
    url = models.URLField(max_length=500)
    to_network = models.CharField(max_length=32, blank=True)
    to_handle = models.CharField(max_length=200, blank=True)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "network", "remote_id", "url"], name="audience_one_profile_link_per_url"
            )
        ]
        indexes = [
            models.Index(
                fields=["workspace", "to_network", "to_handle"],
                name="audience_profile_link_to",
                condition=~models.Q(to_network=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.network}:{self.remote_id} -> {self.url}"


class Referral(models.Model):
    """A person's recommendation: a personal `code` (typed by the people they recommend us to,
    e.g. in a reservation form, and passed on with the website's conversion report) and a short
    link of the links app (`/l/<code>`, with a QR code) to a target: the website, a channel's
    profile page or the link-in-bio page. Clicks of the link, and conversions attributed to them
    or naming the code, count for the person. On erasure `person` and `code` are emptied: the
    link keeps working and its counts stay, anonymous."""

    class Target(models.TextChoices):
        WEBSITE = "website", _("A page of our website")
        CHANNEL = "channel", _("A channel's profile page")
        BIO = "bio", _("The link-in-bio page")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals")
    code = models.CharField(_("personal code"), max_length=16, blank=True)
    link = models.OneToOneField(ShortLink, on_delete=models.CASCADE, related_name="referral")
    target_kind = models.CharField(_("leads to"), max_length=8, choices=Target.choices)
    # The channel whose profile page the link leads to: its clicks are follow intents.
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "code"], name="audience_one_referral_per_code", condition=~models.Q(code="")
            )
        ]

    def __str__(self) -> str:
        return self.code or f"referral {self.pk}"


class ConversionContact(models.Model):
    """What the audience app keeps of a conversion (links.Conversion): the keyed hash of the
    e-mail address the website reported with it (privacy.email_hash; never the address), and the
    referral it came through (a click on the referral's link, or its code in the report). Made by
    `audience/hooks.py` when the conversion is recorded, only when there is one of the two."""

    conversion = models.OneToOneField(Conversion, on_delete=models.CASCADE, related_name="audience_contact")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    email_hash = models.CharField(max_length=64, blank=True)
    referral = models.ForeignKey(
        Referral, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversion_contacts"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["workspace", "email_hash"], name="audience_conversion_email", condition=~models.Q(email_hash="")
            )
        ]

    def __str__(self) -> str:
        return f"contact of conversion {self.conversion_id}"


class ReferredFollow(models.Model):
    """A follow of one of the workspace's channels by `person` that is credited to `referral`:
    the follower named the referral's personal code in a text to the workspace (comment, reply,
    mention or direct message) within `referrals.FOLLOW_WINDOW` before or after the follow
    (`referrals.attribute_follows`, called by the consumer). Once per (follower, channel). On the
    follower's erasure the row is deleted; on the referrer's erasure it stays with the referral,
    which has no person any more (an anonymous count)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="follows")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="referred_follows")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    occurred_at = models.DateTimeField()  # the follow's time
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "channel"], name="audience_one_referred_follow_per_channel")
        ]

    def __str__(self) -> str:
        return f"follow of person {self.person_id} on channel {self.channel_id} via referral {self.referral_id}"
