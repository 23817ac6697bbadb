"""Conversions reported by the company's website, and their attribution (docs/links.md).

Attribution: a conversion belongs to the click named by its click id (`stm_click`, which the
redirector adds to the target address) if that click is the workspace's and lies within the
attribution window; otherwise to the visitor's last click (same visitor hash) within the window.
Visitor hashes change every day (the salt rotates), so without a click id a conversion is only
attributed to a click of the same (UTC) day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from stammtisch.core.models import Workspace
from stammtisch.links import seo, tracking
from stammtisch.links.models import Click, Conversion

SIGNATURE_HEADER = "X-Stammtisch-Signature"
TIMESTAMP_HEADER = "X-Stammtisch-Timestamp"
SIGNATURE_TOLERANCE = dt.timedelta(minutes=5)
CLOCK_SKEW = dt.timedelta(minutes=5)  # a click may be stamped a little after the website's time
MAX_VALUE = Decimal("9999999999.99")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class BadReport(ValueError):
    """A conversion report that cannot be stored; the message says why (shown to the website)."""


def attribute(
    workspace: Workspace, *, visitor_hash: str = "", click: Click | None = None, occurred_at: dt.datetime
) -> Click | None:
    from stammtisch.links.actions import settings_for

    since = occurred_at - dt.timedelta(days=settings_for(workspace).attribution_days)
    until = occurred_at + CLOCK_SKEW
    if click is not None and click.workspace_id == workspace.pk and since <= click.occurred_at <= until:
        return click
    if not visitor_hash:
        return None
    return (
        Click.objects.filter(
            workspace=workspace, visitor_hash=visitor_hash, is_bot=False, occurred_at__gte=since, occurred_at__lte=until
        )
        .order_by("-occurred_at", "-pk")
        .first()
    )


def record(
    workspace: Workspace,
    *,
    kind: str,
    source: str,
    name: str = "",
    value: Decimal | None = None,
    currency: str = "",
    visitor_hash: str = "",
    click: Click | None = None,
    click_token: str = "",
    occurred_at: dt.datetime | None = None,
    external_id: str = "",
    page: str = "",
    email: str = "",
    referral: str = "",
) -> Conversion:
    """Store one conversion with its attribution. A report with an `external_id` already stored
    returns the stored one (websites retry). `page`: the landing page's address (only its host
    and path are kept, `seo.page_key`). `email` (the customer's address, from the server report)
    is hashed at once and handed to the audience app with `referral` (a personal referral code);
    the address itself is never stored (docs/people.md "Referrals")."""
    from stammtisch.audience import hooks
    from stammtisch.audience.privacy import email_hash

    occurred_at = occurred_at or timezone.now()
    if click is None and click_token:
        click = tracking.click_of(click_token, workspace.pk)
    attributed = attribute(workspace, visitor_hash=visitor_hash, click=click, occurred_at=occurred_at)
    if external_id:
        stored = Conversion.objects.filter(workspace=workspace, external_id=external_id).first()
        if stored is not None:
            return stored
    fields: dict[str, Any] = {
        "workspace": workspace,
        "kind": kind,
        "name": name[:100],
        "value": value,
        "currency": currency,
        "visitor_hash": visitor_hash,
        "source": source,
        "external_id": external_id[:100],
        "page": seo.page_key(page),
        "occurred_at": occurred_at,
        "click": attributed,
        "link_id": attributed.link_id if attributed else None,
        "post_id": attributed.post_id if attributed else None,
        "channel_id": attributed.channel_id if attributed else None,
    }
    hashed = email_hash(workspace.pk, email)
    try:
        with transaction.atomic():
            conversion = Conversion.objects.create(**fields)
            hooks.conversion_recorded(conversion, email_hash=hashed, referral_code=referral)
            return conversion
    except IntegrityError:  # the same external id reported twice at once
        return Conversion.objects.get(workspace=workspace, external_id=external_id)


# --- reports from the website -------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>." + body): what the website sends."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_ok(secret: str, timestamp: str, body: bytes, signature: str, *, now: dt.datetime | None = None) -> bool:
    if not secret or not timestamp.isdigit() or not signature:
        return False
    sent = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    if abs((now or timezone.now()) - sent) > SIGNATURE_TOLERANCE:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature.strip())


def parse_kind(value: Any) -> str:
    kind = str(value or "").strip().lower()
    if kind not in Conversion.Kind.values:
        raise BadReport(
            _("Unknown kind %(kind)r; use one of %(known)s.")
            % {"kind": kind, "known": ", ".join(Conversion.Kind.values)}
        )
    return kind


def parse_value(value: Any, currency: Any) -> tuple[Decimal | None, str]:
    if value in (None, ""):
        return None, ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise BadReport(_("The value must be a number such as 23.50.")) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE or amount != amount.quantize(Decimal("0.01")):
        raise BadReport(_("The value must be a number from 0 with at most two decimals."))
    code = str(currency or "").strip().upper()
    if not CURRENCY.match(code):
        raise BadReport(_("A value needs a currency: three letters such as EUR."))
    return amount, code


def parse_email(value: Any) -> str:
    """The customer's e-mail address of a server report ("" when none was sent)."""
    if value in (None, ""):
        return ""
    email = str(value).strip()
    try:
        validate_email(email)
    except ValidationError:
        raise BadReport(_("email must be an e-mail address.")) from None
    return email


def parse_referral(value: Any) -> str:
    """A personal referral code of a report ("" when none was sent)."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) > 40:
        raise BadReport(_("referral must be a referral code such as ANNA7KQ3."))
    return value.strip()


def parse_time(value: Any, now: dt.datetime) -> dt.datetime:
    if value in (None, ""):
        return now
    when = parse_datetime(str(value))
    if when is None or timezone.is_naive(when):
        raise BadReport(_("occurred_at must be an ISO 8601 time with a time zone."))
    if when > now + CLOCK_SKEW or when < now - dt.timedelta(days=90):
        raise BadReport(_("occurred_at must lie within the last 90 days."))
    return when


def parse_page(value: Any) -> str:
    """The landing page a server reports: an http(s) address (only host and path are kept)."""
    if value in (None, ""):
        return ""
    if not seo.page_key(str(value)):
        raise BadReport(_("page must be the landing page's address, such as https://example.com/menu."))
    return str(value)
