"""A workspace's strategy: goals with a KPI, a target and a deadline; content pillars with a
target share; the value/promotion mix target; the cadence per channel (docs/strategy.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel


class Goal(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        LOYALTY = "loyalty", _("Customer loyalty")
        ACQUISITION = "acquisition", _("New customers")
        TRAFFIC = "traffic", _("Website traffic")
        SEO = "seo", _("Search ranking")
        CUSTOM = "custom", _("Custom")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="goals")
    kind = models.CharField(_("reason"), max_length=12, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120)
    kpi = models.CharField(_("KPI"), max_length=40)  # a key of analytics.kpis.KPIS
    target = models.FloatField(_("target"))
    baseline = models.FloatField(_("baseline"), null=True, blank=True)  # the KPI's value at the start
    start = models.DateField(_("start"))
    deadline = models.DateField(_("deadline"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deadline", "pk"]

    def __str__(self) -> str:
        return self.name


class ContentPillar(models.Model):
    """A theme content is planned around. Posts belong to a pillar when their pillar label
    (`Post.pillar`) equals its name, ignoring case and surrounding spaces."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="content_pillars")
    name = models.CharField(_("name"), max_length=60)
    target_share = models.PositiveSmallIntegerField(_("target share (%)"), default=0)
    colour = models.CharField(_("colour"), max_length=7, default="#2563eb")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), "workspace", name="one_pillar_per_name")]

    def __str__(self) -> str:
        return self.name


class MixTarget(models.Model):
    """The value-versus-promotion mix: at least this share of posts should give value."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="mix_target")
    min_value_share = models.PositiveSmallIntegerField(_("minimum share of value content (%)"), default=80)

    def __str__(self) -> str:
        return f"{self.min_value_share}% value"


class Cadence(models.Model):
    """How many posts a week a channel should get."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="cadence")
    posts_per_week = models.PositiveSmallIntegerField(_("posts per week"))

    def __str__(self) -> str:
        return f"channel {self.channel_id}: {self.posts_per_week}/week"
