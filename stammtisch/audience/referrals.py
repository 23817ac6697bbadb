"""Referrals (docs/people.md "Referrals"): a person's personal code and short link, and what their
recommendations brought.

What is counted, for each referral:

- **clicks**: requests of its short link by people (bots left out, as everywhere), QR scans among
  them;
- **conversions**: conversions attributed to a click on its link, or reported by the website with
  its personal code (`"referral"` in the server report); count and value per currency;
- **follow intents**: when the link leads to a channel's profile page, its clicks are visits to
  that profile (a click is anonymous and a follow names a network account: a click alone never
  attributes a follow);
- **follows**: a new follower of one of the workspace's channels who names the personal code
  (as a whole word, any case) in a text to the workspace (comment, reply, mention, direct
  message) within `FOLLOW_WINDOW` before or after their follow (`attribute_follows`, called by
  the consumer): one `ReferredFollow` per (follower, channel). A text with the code but no follow
  reported by the network counts nothing.

A conversion or a follow through a referral also counts for the person's loyalty score
(`Kind.REFERRAL`, `audience/hooks.py`; `Kind.REFERRED_FOLLOW`, `consume.credit_follows`).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from stammtisch.audience.models import ConversionContact, Engagement, Kind, Referral, ReferredFollow
from stammtisch.inbox.models import Message
from stammtisch.links.models import Click

# Letters and digits that cannot be mistaken for each other on a printed card (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_RANDOM = 4
CODE_NAME = 6
CODE_PATTERN = re.compile(r"^[A-Z0-9]{4,16}$")
# A follow and a text naming a personal code this close in time (either order) make a referred
# follow (docs/people.md "Referrals").
FOLLOW_WINDOW = dt.timedelta(days=14)
TEXT_KINDS = frozenset({Kind.COMMENT, Kind.REPLY, Kind.MENTION, Kind.MESSAGE})
WORD = re.compile(r"\w+")


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


def codes_in(text: str) -> set[str]:
    """The words of `text` that could be personal codes, upper-cased (whole words only: "ANNA7KQ3"
    in "#anna7kq3!" is one, in "XANNA7KQ3" it is not)."""
    return {word for word in WORD.findall(text.upper()) if CODE_PATTERN.match(word)}


def attribute_follows(engagements: Iterable[Engagement]) -> list[ReferredFollow]:
    """The referred follows that `engagements` (just recorded by the consumer) complete: a follow
    of a person who named a personal code of the workspace in a text of theirs within
    FOLLOW_WINDOW, or such a text of a person who followed within FOLLOW_WINDOW. Once per
    (follower, channel); never across workspaces; nobody refers themselves. Returns the rows
    created (the caller credits the referrers). A fixed number of queries per call."""
    follows_or_texts = [
        e
        for e in engagements
        if e.kind == Kind.FOLLOW or (e.kind in TEXT_KINDS and e.source == Engagement.Source.MESSAGE)
    ]
    if not follows_or_texts:
        return []
    codes = {
        (row["workspace_id"], row["code"]): row
        for row in Referral.objects.filter(
            workspace_id__in={e.workspace_id for e in follows_or_texts}, person__isnull=False
        )
        .exclude(code="")
        .values("pk", "workspace_id", "code", "person_id")
    }
    if not codes:
        return []
    coded_workspaces = {workspace_id for workspace_id, _code in codes}
    relevant = [e for e in follows_or_texts if e.workspace_id in coded_workspaces]

    def named(texts: dict[int, tuple[int, str]]) -> dict[int, Mapping[str, Any]]:
        """message id -> the referral it names (the first code in the text that is one)."""
        found: dict[int, Mapping[str, Any]] = {}
        for message_id, (workspace_id, text) in texts.items():
            for code in sorted(codes_in(text)):
                if (workspace_id, code) in codes:
                    found[message_id] = codes[(workspace_id, code)]
                    break
        return found

    new_texts = [e.source_id for e in relevant if e.kind in TEXT_KINDS]
    naming = named(_texts(new_texts))
    people = {e.person_id for e in relevant if e.kind == Kind.FOLLOW or e.source_id in naming}
    if not people:
        return []
    times = [e.occurred_at for e in relevant if e.person_id in people]
    nearby = list(
        Engagement.objects.filter(
            Q(kind=Kind.FOLLOW) | Q(kind__in=TEXT_KINDS, source=Engagement.Source.MESSAGE),
            person_id__in=people,
            occurred_at__gte=min(times) - FOLLOW_WINDOW,
            occurred_at__lte=max(times) + FOLLOW_WINDOW,
        ).values("person_id", "workspace_id", "kind", "channel_id", "occurred_at", "source_id")
    )
    naming.update(named(_texts([row["source_id"] for row in nearby if row["kind"] in TEXT_KINDS])))
    done = set(ReferredFollow.objects.filter(person_id__in=people).values_list("person_id", "channel_id"))
    coded: dict[int, list[tuple[dt.datetime, int]]] = defaultdict(list)  # person -> (at, message id)
    follows = []
    for row in nearby:
        if row["kind"] == Kind.FOLLOW:
            if row["channel_id"] is not None:
                follows.append(row)
        elif row["source_id"] in naming:
            coded[row["person_id"]].append((row["occurred_at"], row["source_id"]))
    created = []
    for follow in sorted(follows, key=lambda row: (row["occurred_at"], row["channel_id"])):
        key = (follow["person_id"], follow["channel_id"])
        if key in done:
            continue
        at = follow["occurred_at"]
        candidates = sorted(
            (abs(text_at - at), text_at, message_id)
            for text_at, message_id in coded.get(follow["person_id"], [])
            if abs(text_at - at) <= FOLLOW_WINDOW
        )
        for _distance, _text_at, message_id in candidates:
            referral = naming[message_id]
            if referral["person_id"] == follow["person_id"] or referral["workspace_id"] != follow["workspace_id"]:
                continue  # their own code (or, impossible by the lookup, another workspace's)
            created.append(
                ReferredFollow(
                    workspace_id=follow["workspace_id"],
                    referral_id=referral["pk"],
                    person_id=follow["person_id"],
                    channel_id=follow["channel_id"],
                    occurred_at=at,
                )
            )
            done.add(key)
            break
    if not created:
        return []
    ReferredFollow.objects.bulk_create(created, ignore_conflicts=True)
    # ignore_conflicts leaves primary keys unset: read the rows back (a parallel writer may have won).
    wanted = Q(pk__in=[])
    for new in created:
        wanted |= Q(person_id=new.person_id, channel_id=new.channel_id, referral_id=new.referral_id)
    return list(ReferredFollow.objects.filter(wanted).select_related("referral"))


def _texts(message_ids: list[int]) -> dict[int, tuple[int, str]]:
    """message id -> (workspace id, text) of the incoming messages among `message_ids`."""
    if not message_ids:
        return {}
    return {
        pk: (workspace_id, text)
        for pk, workspace_id, text in Message.objects.filter(pk__in=message_ids, direction="in").values_list(
            "pk", "workspace_id", "text"
        )
    }


@dataclass
class Figures:
    clicks: int = 0
    scans: int = 0
    conversions: int = 0
    follows: int = 0
    values: dict[str, Decimal] = field(default_factory=dict)  # currency -> sum

    @property
    def value_text(self) -> str:
        return ", ".join(f"{amount:.2f} {currency}" for currency, amount in sorted(self.values.items()))


def figures(referrals: list[Referral]) -> dict[int, Figures]:
    """Clicks, scans, conversions and their value, and follows for each referral: one grouped
    query for each."""
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
    for row in (
        ReferredFollow.objects.filter(referral_id__in=list(result)).values("referral_id").annotate(n=Count("pk"))
    ):
        result[row["referral_id"]].follows = row["n"]
    return result


def totals(items: list[Figures]) -> Figures:
    total = Figures()
    for item in items:
        total.clicks += item.clicks
        total.scans += item.scans
        total.conversions += item.conversions
        total.follows += item.follows
        for currency, amount in item.values.items():
            total.values[currency] = total.values.get(currency, Decimal(0)) + amount
    return total
