"""Short links, clicks and conversions (docs/links.md).

Privacy model: a click stores no IP address and sets no cookie. The visitor is a SHA-256 hash of
a secret salt of the day, the workspace, the IP address and the User-Agent (the Plausible
approach); the salt of a day is deleted when the day is over, so nobody (not even we) can link a
visitor of yesterday to one of today or recompute a hash from an IP address.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.networks.models import Channel
from stammtisch.publishing.models import Delivery, Post

# Unambiguous characters (no 0/o, 1/l/i): codes can be typed from a flyer.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 7
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _n in range(CODE_LENGTH))


_uid_prefix: tuple[int, str] = (0, "")
_uid_counter = itertools.count(1)


def new_click_uid() -> str:
    """A click's unique id, made before the click is stored: 16 random hex digits per process
    and a counter. The redirector hands it out (stm_click) and the spool import relies on it."""
    global _uid_prefix
    pid = os.getpid()
    if _uid_prefix[0] != pid:  # a new process (or a fork): a new random prefix
        _uid_prefix = (pid, secrets.token_hex(8))
    return f"{_uid_prefix[1]}{next(_uid_counter):x}"


def new_site_key() -> str:
    return secrets.token_urlsafe(12)


class LinkSettings(models.Model):
    """Per workspace: UTM templates, QR colours, the website key and conversion secret, and the
    attribution window. Made on first use (`stammtisch.links.actions.settings_for`)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="link_settings")
    utm_campaign_template = models.CharField(_("utm_campaign template"), max_length=200, default="{goal}")
    utm_content_template = models.CharField(_("utm_content template"), max_length=200, default="post-{post_id}")
    qr_dark = models.CharField(_("QR code colour"), max_length=7, default="#1f2937")
    qr_light = models.CharField(_("QR background colour"), max_length=7, default="#ffffff")
    # Public: names the workspace in the website snippet's URLs.
    site_key = models.CharField(max_length=32, unique=True, default=new_site_key)
    # Secret, encrypted at rest: signs server-to-server conversion reports (HMAC-SHA256).
    conversion_secret = models.TextField(blank=True)
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=30)
    append_click_id = models.BooleanField(_("add the click id (stm_click) to target addresses"), default=True)
    bio_title = models.CharField(_("link-in-bio title"), max_length=120, blank=True)
    bio_intro = models.CharField(_("link-in-bio introduction"), max_length=300, blank=True)
    bio_public = models.BooleanField(_("link-in-bio page and embeds are public"), default=True)

    def __str__(self) -> str:
        return f"link settings of workspace {self.workspace_id}"


class ShortLink(models.Model):
    """`/l/<code>` redirects to `destination` (the target with its UTM parameters). Editing the
    target keeps the code. Links made for a delivery by the publisher carry `delivery`."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="short_links")
    code = models.CharField(max_length=16, unique=True, default=new_code)
    title = models.CharField(_("title"), max_length=200, blank=True)
    target = models.URLField(_("target address"), max_length=2000)
    utm_source = models.CharField("utm_source", max_length=100, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=100, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=200, blank=True)
    utm_content = models.CharField("utm_content", max_length=200, blank=True)
    utm_term = models.CharField("utm_term", max_length=200, blank=True)
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    delivery = models.OneToOneField(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="short_link"
    )
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    in_bio = models.BooleanField(_("show on the link-in-bio page"), default=False)
    in_promo = models.BooleanField(_("show in the promo block"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "created_at"])]

    def __str__(self) -> str:
        return self.code

    @property
    def destination(self) -> str:
        return with_params(self.target, {name: getattr(self, name) for name in UTM_FIELDS})

    def expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


def with_params(url: str, params: dict[str, str]) -> str:
    """`url` with `params` (empty ones left out) set in its query; other parameters are kept."""
    parts = urlsplit(url)
    wanted = {k: v for k, v in params.items() if v}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in wanted]
    query += list(wanted.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class DailySalt(models.Model):
    """The secret salt of one UTC day for visitor hashes; older ones are deleted (tracking.py)."""

    day = models.DateField(unique=True)
    salt = models.CharField(max_length=64)

    def __str__(self) -> str:
        return str(self.day)


class Device(models.TextChoices):
    DESKTOP = "desktop", _("Desktop")
    MOBILE = "mobile", _("Mobile")
    TABLET = "tablet", _("Tablet")
    BOT = "bot", _("Bot")
    OTHER = "other", _("Other")


class Click(models.Model):
    """One request of a short link. No IP address, no User-Agent, no cookie: only the referrer's
    domain, a device class and the day's visitor hash. `is_bot` clicks are kept (nothing is
    lost) but left out of every count."""

    # Made before the click is stored (the redirector spools it): the spool import stores a
    # click once however often it reads it, and the website gets it back as `stm_click`.
    uid = models.CharField(max_length=32, unique=True, default=new_click_uid)
    link = models.ForeignKey(ShortLink, on_delete=models.CASCADE, related_name="clicks")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    occurred_at = models.DateTimeField(default=timezone.now)
    referrer_domain = models.CharField(max_length=253, blank=True)
    device = models.CharField(max_length=8, choices=Device.choices, default=Device.OTHER)
    visitor_hash = models.CharField(max_length=64)
    is_bot = models.BooleanField(default=False)
    via_qr = models.BooleanField(default=False)
    # Simulated by the Sandbox's audience (its event id): recorded once, shown as simulated.
    sandbox_event_id = models.BigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        indexes = [
            models.Index(fields=["link", "occurred_at"]),
            models.Index(fields=["workspace", "visitor_hash", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"click on {self.link_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Conversion(models.Model):
    """Something a visitor did on the company's website (docs/links.md), attributed to the
    social click that led to it: an explicit click id, else the visitor's last click (same
    visitor hash) within the workspace's attribution window."""

    class Kind(models.TextChoices):
        VISIT = "visit", _("Visit")
        SIGNUP = "signup", _("Newsletter sign-up")
        RESERVATION = "reservation", _("Table reservation")
        PURCHASE = "purchase", _("Purchase")
        CUSTOM = "custom", _("Other")

    class Source(models.TextChoices):
        SNIPPET = "snippet", _("Website snippet")
        SERVER = "server", _("Website server")
        SANDBOX = "sandbox", _("Sandbox simulation")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)  # the custom kind's name, or a label
    value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    visitor_hash = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    external_id = models.CharField(max_length=100, blank=True)  # the website's id: reported twice, stored once
    click = models.ForeignKey(Click, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions")
    link = models.ForeignKey(ShortLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The landing page the website reported (host and path, `seo.page_key`; never its query):
    # the SEO page counts visits per page. Empty: not reported (then the link's target counts).
    page = models.CharField(max_length=2000, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "occurred_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=~models.Q(external_id=""),
                name="one_conversion_per_external_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} in workspace {self.workspace_id}"


class SearchConsoleRow(models.Model):
    """Google Search Console figures imported from a CSV file (docs/links.md "SEO signals"), for
    one day (`first_day == last_day`) or, from an export without dates, for the whole period it
    covers: such totals cannot be split into days, so they are kept as one row of that period.

    `grain` says which of Search Console's dimensions the file had (its rows are not comparable
    across grains: a file of queries leaves out anonymised queries, a file of pages has every
    click of a page). `page` is the page's key (`seo.page_key`), `query` the search query; either
    is empty when the file has no such column. An import replaces the row of the same workspace,
    period, grain, page and query, so importing a file twice does not add up its figures."""

    class Grain(models.TextChoices):
        SITE = "site", _("Whole site")
        PAGE = "page", _("Per page")
        QUERY = "query", _("Per query")
        PAGE_QUERY = "page_query", _("Per page and query")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    first_day = models.DateField()
    last_day = models.DateField()
    grain = models.CharField(max_length=10, choices=Grain.choices)
    page = models.CharField(max_length=2000, blank=True)
    query = models.CharField(max_length=1000, blank=True)
    # SHA-256 of page and query: the unique key (pages and queries are too long for an index).
    digest = models.CharField(max_length=64)
    clicks = models.PositiveBigIntegerField()
    impressions = models.PositiveBigIntegerField()
    position = models.FloatField(null=True, blank=True)  # average position; None: not in the file
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "first_day", "last_day", "grain", "digest"], name="one_search_row_per_key"
            )
        ]
        indexes = [models.Index(fields=["workspace", "first_day", "last_day"], name="search_row_period_idx")]

    def __str__(self) -> str:
        return f"search figures {self.first_day}..{self.last_day} {self.grain} of workspace {self.workspace_id}"
