"""The loyalty score and the lifecycle stages (docs/people.md "Loyalty score").

score(t) = max(0, Σ weight_i · 2^(-(t - t_i) / HALF_LIFE))

Every engagement adds its weight; the sum halves every HALF_LIFE of silence. Recency is the
decay, frequency the sum, depth the weights (a like < a comment < a share; an answer from us
counts too, and so do a conversion and a new follower through their referral; a positive text counts half again
as much, a negative one half). The sum is kept as
(`score`, `score_at`) and moved forward exactly as events arrive, in any order: decaying to a
later time and adding commute, so the result never depends on the order of arrival.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from stammtisch.audience.models import Kind, Person, Stage

HALF_LIFE = dt.timedelta(days=30)

WEIGHTS: dict[str, float] = {
    Kind.LIKE: 1.0,
    Kind.FOLLOW: 2.0,
    Kind.ANSWERED: 2.0,
    Kind.COMMENT: 3.0,
    Kind.REPLY: 3.0,
    Kind.MENTION: 4.0,
    Kind.MESSAGE: 4.0,
    Kind.SHARE: 5.0,
    Kind.REFERRAL: 5.0,  # a conversion through their referral link or code: advocacy with a result
    Kind.REFERRED_FOLLOW: 2.0,  # a new follower who named their code: as much as a follow
    Kind.UNFOLLOW: -3.0,
}
SENTIMENT_FACTOR = {"positive": 1.5, "negative": 0.5}

# Stage thresholds (docs/people.md "Stages"), checked in this order.
LAPSED_AFTER = dt.timedelta(days=120)
AT_RISK_AFTER = dt.timedelta(days=45)
AT_RISK_MIN_SCORE = 2.0  # quiet, but with a relationship left: at risk; else lapsed
ADVOCATE_SCORE = 25.0
ADVOCATE_SPREADS = 2  # shares, mentions, conversions and follows through their referrals, all time
LOYAL_SCORE = 12.0
ENGAGED_SCORE = 4.0

EXPLAIN_DAYS = 30


def weight(kind: str, sentiment: str = "") -> float:
    return WEIGHTS.get(kind, 0.0) * SENTIMENT_FACTOR.get(sentiment, 1.0)


def decay(score: float, since: dt.datetime | None, until: dt.datetime) -> float:
    """`score` as of `since`, decayed to `until` (never grows when `until` is earlier)."""
    if since is None or until <= since:
        return score
    return score * 0.5 ** ((until - since) / HALF_LIFE)


def add(person: Person, weight_: float, at: dt.datetime) -> None:
    """Add one engagement's weight to the person's score, in place."""
    if person.score_at is None or at > person.score_at:
        person.score = decay(person.score, person.score_at, at) + weight_
        person.score_at = at
    else:
        person.score += decay(weight_, at, person.score_at)
    person.score = max(0.0, person.score)


def current_score(person: Person, now: dt.datetime) -> float:
    return decay(person.score, person.score_at, now)


def recompute(person: Person, engagements: Iterable[tuple[float, dt.datetime]], now: dt.datetime) -> None:
    """Score from scratch (after a merge or a split), as of `now`."""
    person.score, person.score_at = 0.0, None
    for weight_, at in sorted(engagements, key=lambda item: item[1]):
        add(person, weight_, at)
    person.score = current_score(person, now)
    person.score_at = now


def stage_for(person: Person, now: dt.datetime) -> str:
    """The stage the person belongs in at `now` (docs/people.md "Stages")."""
    score = current_score(person, now)
    if person.last_seen is not None:
        quiet = now - person.last_seen
        if quiet > LAPSED_AFTER:
            return Stage.LAPSED
        if quiet > AT_RISK_AFTER:
            return Stage.AT_RISK if score >= AT_RISK_MIN_SCORE else Stage.LAPSED
    counts = person.counts or {}
    spreads = sum(counts.get(kind, 0) for kind in (Kind.SHARE, Kind.MENTION, Kind.REFERRAL, Kind.REFERRED_FOLLOW))
    if score >= ADVOCATE_SCORE and spreads >= ADVOCATE_SPREADS:
        return Stage.ADVOCATE
    if score >= LOYAL_SCORE:
        return Stage.LOYAL
    if score >= ENGAGED_SCORE:
        return Stage.ENGAGED
    return Stage.NEW


def explain(counts: dict[str, int], days: int = EXPLAIN_DAYS) -> str:
    """“commented 6 times, got 4 answers, shared 2 posts in the last 30 days”, from counts per
    kind; empty counts give a sentence saying so."""
    comments = counts.get(Kind.COMMENT, 0) + counts.get(Kind.REPLY, 0)
    parts = []
    if comments:
        parts.append(ngettext("commented %(n)d time", "commented %(n)d times", comments) % {"n": comments})
    if n := counts.get(Kind.MENTION, 0):
        parts.append(ngettext("mentioned us %(n)d time", "mentioned us %(n)d times", n) % {"n": n})
    if n := counts.get(Kind.MESSAGE, 0):
        parts.append(ngettext("sent %(n)d message", "sent %(n)d messages", n) % {"n": n})
    if n := counts.get(Kind.ANSWERED, 0):
        parts.append(ngettext("got %(n)d answer", "got %(n)d answers", n) % {"n": n})
    if n := counts.get(Kind.SHARE, 0):
        parts.append(ngettext("%(n)d share", "%(n)d shares", n) % {"n": n})
    if n := counts.get(Kind.REFERRAL, 0):
        parts.append(
            ngettext(
                "%(n)d conversion through their recommendation", "%(n)d conversions through their recommendation", n
            )
            % {"n": n}
        )
    if n := counts.get(Kind.REFERRED_FOLLOW, 0):
        parts.append(
            ngettext("%(n)d follow through their recommendation", "%(n)d follows through their recommendation", n)
            % {"n": n}
        )
    if n := counts.get(Kind.LIKE, 0):
        parts.append(ngettext("%(n)d like", "%(n)d likes", n) % {"n": n})
    if counts.get(Kind.FOLLOW, 0):
        parts.append(_("followed us"))
    if counts.get(Kind.UNFOLLOW, 0):
        parts.append(_("unfollowed us"))
    if not parts:
        return ngettext("No activity in the last %(days)d day.", "No activity in the last %(days)d days.", days) % {
            "days": days
        }
    return ngettext("%(activities)s in the last %(days)d day.", "%(activities)s in the last %(days)d days.", days) % {
        "activities": ", ".join(parts),
        "days": days,
    }
