"""Referrals (docs/people.md "Referrals"): a person's personal code and short link, and what their
recommendations brought.

What is counted, for each referral:

- **clicks**: requests of its short link by people (bots left out, as everywhere), QR scans among
  them;
- **conversions**: conversions attributed to a click on its link, or reported by the website with
  its personal code (`"referral"` in the server report); count and value per currency;
- **follow intents**: when the link leads to a channel's profile page, its clicks are visits to
  that profile. Networks do not tell who followed because of which visit (a click is anonymous,
  a follow names a network account), so follows themselves are not attributed to anyone, and no
  follow count is shown.

A conversion through a referral also counts for the person's loyalty score (`Kind.REFERRAL`,
`audience/hooks.py`).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum

from stammtisch.audience.models import ConversionContact, Referral
from stammtisch.links.models import Click

# Letters and digits that cannot be mistaken for each other on a printed card (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_RANDOM = 4
CODE_NAME = 6
CODE_PATTERN = re.compile(r"^[A-Z0-9]{4,16}$")


def new_code(name: str) -> str:
    """A personal code: up to six letters of the first name and four random characters, such as
    ANNA7KQ3 (a person without a name gets REF and random characters)."""
    first = (name.split() or [""])[0]
    ascii_name = unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode()
    prefix = "".join(ch for ch in ascii_name.upper() if ch.isalpha())[:CODE_NAME] or "REF"
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _n in range(CODE_RANDOM))


def normalise_code(value: str) -> str:
    """A code as typed (any case, with spaces or dashes) in the form it is stored; "" when it
    cannot be one."""
    code = re.sub(r"[\s-]", "", str(value or "")).upper()
    return code if CODE_PATTERN.match(code) else ""


def by_code(workspace_id: int, value: str) -> Referral | None:
    """The workspace's referral with this personal code (an erased person's code is gone)."""
    code = normalise_code(value)
    if not code:
        return None
    return Referral.objects.filter(workspace_id=workspace_id, code=code).first()


@dataclass
class Figures:
    clicks: int = 0
    scans: int = 0
    conversions: int = 0
    values: dict[str, Decimal] = field(default_factory=dict)  # currency -> sum

    @property
    def value_text(self) -> str:
        return ", ".join(f"{amount:.2f} {currency}" for currency, amount in sorted(self.values.items()))


def figures(referrals: list[Referral]) -> dict[int, Figures]:
    """Clicks, scans, conversions and their value for each referral: three grouped queries."""
    result = {r.pk: Figures() for r in referrals}
    by_link = {r.link_id: r.pk for r in referrals}
    clicks = (
        Click.objects.filter(link_id__in=list(by_link), is_bot=False)
        .values("link_id")
        .annotate(n=Count("pk"), scans=Count("pk", filter=Q(via_qr=True)))
    )
    for row in clicks:
        found = result[by_link[row["link_id"]]]
        found.clicks, found.scans = row["n"], row["scans"]
    conversions = (
        ConversionContact.objects.filter(referral_id__in=list(result))
        .values("referral_id", "conversion__currency")
        .annotate(n=Count("pk"), value=Sum("conversion__value"))
    )
    values: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for row in conversions:
        found = result[row["referral_id"]]
        found.conversions += row["n"]
        if row["value"] is not None and row["conversion__currency"]:
            values[row["referral_id"]][row["conversion__currency"]] = row["value"]
    for pk, by_currency in values.items():
        result[pk].values = by_currency
    return result


def totals(items: list[Figures]) -> Figures:
    total = Figures()
    for item in items:
        total.clicks += item.clicks
        total.scans += item.scans
        total.conversions += item.conversions
        for currency, amount in item.values.items():
            total.values[currency] = total.values.get(currency, Decimal(0)) + amount
    return total
