"""The Sandbox simulation: a seeded audience that reacts to posts over simulated time.

Cheap and deterministic. Nothing runs in the background: when a post is published its reactions
over the next three days are computed at once and stored as SandboxEvents with future
`occurs_at` timestamps; they "happen" when the Sandbox clock (`clock.now()`) passes them. Only
account-level daily events (follows and unfollows, which depend on recent engagement) are made
lazily by `advance()`.

Public functions:

* `create_account(handle, display_name, *, workspace=None) -> SandboxAccount`: a new account
  with its initial followers (created at `clock.now()`; the demo creates it inside
  `clock.at(start)` so its history starts there).
* `issue_token(account) -> str`: a new access token (only its hash is stored).
* `publish_post(account, *, text, link="", media_count=0, idempotency_key="") -> SandboxPost`:
  store a post at `clock.now()` and schedule its reactions.
* `reply_to(account, parent, *, text, idempotency_key="") -> SandboxPost`: our reply to a comment
  (or to our own post); a persona whose comment we answered may answer back later.
* `delete_post(post) -> None`: mark deleted and drop its reactions that have not happened yet.
* `advance(until=None) -> int`: make the daily follow/unfollow events of every account for each
  full (local) day before `until` (default `clock.now()`); returns the number of events created.
  Idempotent, and one cheap query when there is nothing to do: the worker calls it every few
  seconds.
* `catch_up(account) -> int`: `advance()` for one account up to `clock.now()`; the connector
  calls it before publishing and fetching activity.
* `follower_count(account, at=None) -> int`: followers at `at` (default `clock.now()`).

Determinism: every random choice comes from a `random.Random` seeded with settings.SANDBOX_SEED
plus stable facts (handle, times, texts), never from the global generator or database ids, so the
same seed and the same calls produce the same events.

What makes a post do well (docs/sandbox.md has the numbers): matching the audience's interests,
questions and invitations to comment, value content (tips, recipes, behind the scenes), a picture,
the audience's language, a moderate length, and posting when the audience is online (their
activity in the first hours counts most; reactions decay over about 72 hours). Promotional
wording ("Rabatt", "Angebot", "sale", "% off") gets fewer organic likes, comments and shares, and
many promotions in a week cost followers. A link brings clicks and slightly fewer likes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum

from stammtisch.core.models import Workspace
from stammtisch.networks.sandbox import clock, personas, texts
from stammtisch.networks.sandbox.models import (
    SandboxAccount,
    SandboxEvent,
    SandboxFollow,
    SandboxPost,
    SandboxToken,
    hash_token,
)
from stammtisch.networks.sandbox.personas import PersonaSpec, activity, local_zone

Kind = SandboxEvent.Kind
HORIZON_HOURS = 72
ENGAGEMENT_KINDS = (Kind.LIKE, Kind.COMMENT, Kind.QUESTION, Kind.SHARE, Kind.REPLY)
# Probability that a persona sees a post at all (before timing, language and fatigue).
SEEN_BY_FOLLOWER = 0.6
SEEN_BY_OTHER = 0.05


def _decay(hours: float) -> float:
    """Weight of hour `hours` after publishing: most attention in the first hours, a tail to 72 h."""
    return math.exp(-hours / 4.0) + 0.05 * math.exp(-hours / 30.0)


_DECAY = [_decay(h + 0.5) for h in range(HORIZON_HOURS)]
_DECAY_SUM = sum(_DECAY)


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join([str(settings.SANDBOX_SEED), *(str(p) for p in parts)]))


def _local_midnight(when: dt.datetime) -> dt.datetime:
    local = when.astimezone(local_zone())
    return dt.datetime.combine(local.date(), dt.time(), tzinfo=local_zone()).astimezone(dt.UTC)


def _next_midnight(midnight: dt.datetime) -> dt.datetime:
    local_date = midnight.astimezone(local_zone()).date() + dt.timedelta(days=1)
    return dt.datetime.combine(local_date, dt.time(), tzinfo=local_zone()).astimezone(dt.UTC)


def _spec(persona_id: int) -> PersonaSpec:
    return personas.specs()[persona_id - 1]


# --- accounts and tokens -----------------------------------------------------------------------


def issue_token(account: SandboxAccount) -> str:
    """A new access token for the account; only its hash is stored."""
    token = f"sbx_{secrets.token_urlsafe(32)}"
    SandboxToken.objects.create(account=account, token_hash=hash_token(token))
    return token


@transaction.atomic
def create_account(handle: str, display_name: str, *, workspace: Workspace | None = None) -> SandboxAccount:
    """A new Sandbox account with its initial followers (a fifth of the audience, more Germans)."""
    now = clock.now()
    personas.ensure_personas()
    account = SandboxAccount.objects.create(
        handle=handle,
        display_name=display_name,
        workspace=workspace,
        created_at=now,
        simulated_until=_local_midnight(now),
    )
    rng = _rng("audience", handle)
    follows = []
    for spec in personas.specs():
        chance = 0.24 if spec.language == "de" else 0.12
        if rng.random() < chance:
            since = now - dt.timedelta(days=rng.uniform(20, 700))
            follows.append(SandboxFollow(account=account, persona_id=spec.id, since=since))
    SandboxFollow.objects.bulk_create(follows)
    return account


# --- followers ---------------------------------------------------------------------------------


def follower_count(account: SandboxAccount, at: dt.datetime | None = None) -> int:
    at = at or clock.now()
    return (
        SandboxFollow.objects.filter(account=account, since__lte=at)
        .filter(Q(until__isnull=True) | Q(until__gt=at))
        .count()
    )


@dataclass
class _FollowState:
    """Who follows at an instant, and who follows now or is about to (an open follow row)."""

    followers: set[int] = field(default_factory=set)
    committed: dict[int, int] = field(default_factory=dict)  # persona id -> open follow row id


def _follow_state(account: SandboxAccount, at: dt.datetime) -> _FollowState:
    state = _FollowState()
    rows = SandboxFollow.objects.filter(account=account).filter(Q(until__isnull=True) | Q(until__gt=at))
    for pk, persona_id, since, until in rows.values_list("pk", "persona_id", "since", "until"):
        if since <= at:
            state.followers.add(persona_id)
        if until is None:
            state.committed[persona_id] = pk
    return state


# --- how a post is received --------------------------------------------------------------------


def _content_factors(f: dict) -> dict[str, float]:
    """Multipliers on each habit from what the post says (see the module docstring)."""
    m = dict.fromkeys(personas.HABITS, 1.0)
    length = f.get("length", 0)
    by_length = 0.75 if length < 40 else 1.0 if length <= 400 else 0.9 if length <= 1200 else 0.7
    for k in ("like", "comment", "share"):
        m[k] *= by_length
    if f.get("promo"):
        m["like"] *= 0.55
        m["comment"] *= 0.4
        m["share"] *= 0.35
        m["follow"] *= 0.4
        m["question"] *= 0.9
        m["click"] *= 1.15
    if f.get("value"):
        m["like"] *= 1.2
        m["comment"] *= 1.15
        m["share"] *= 1.7
        m["follow"] *= 1.3
    asks = min(int(f.get("questions", 0)), 3)
    m["comment"] *= 1 + 0.45 * asks + (0.5 if f.get("invites") else 0)
    m["question"] *= 1 + 0.15 * asks
    if f.get("link"):
        m["like"] *= 0.9
        m["comment"] *= 0.9
    else:
        m["click"] = 0.0
    if f.get("media"):
        m["like"] *= 1.35
        m["share"] *= 1.2
    return m


def _relevance(post_topics: list[str], interests: tuple[str, ...]) -> float:
    if not post_topics:
        return 0.6
    matches = len(set(post_topics) & set(interests))
    return (0.35, 1.0, 1.3)[min(matches, 2)]


def _language_factor(post_language: str, persona_language: str) -> float:
    if post_language == persona_language:
        return 1.0
    return 0.7 if persona_language == "de" else 0.35  # Germans read English more than vice versa


def _slot_weights(start: dt.datetime, hours: int, decay: list[float]) -> dict[str, list[float]]:
    """Cumulative weights per activity profile over the hours after `start`."""
    cumulative: dict[str, list[float]] = {}
    moments = [start + dt.timedelta(hours=h + 0.5) for h in range(hours)]
    for profile in personas.ACTIVITY_PROFILES:
        total, acc = 0.0, []
        for h, moment in enumerate(moments):
            total += decay[h] * activity(profile, moment)
            acc.append(total)
        cumulative[profile] = acc
    return cumulative


def _pick_slot(rng: random.Random, cumulative: list[float]) -> int:
    return min(bisect.bisect_left(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


@dataclass
class _Batch:
    """Rows to insert for one post: events, comment posts (with their events) and follows."""

    account: SandboxAccount
    post: SandboxPost
    events: list[SandboxEvent] = field(default_factory=list)
    comments: list[tuple[SandboxPost, SandboxEvent]] = field(default_factory=list)
    follows: list[SandboxFollow] = field(default_factory=list)
    views: Counter[int] = field(default_factory=Counter)

    def event(self, kind: str, persona_id: int | None, at: dt.datetime, count: int = 1) -> None:
        self.events.append(
            SandboxEvent(
                account=self.account, kind=kind, persona_id=persona_id, post=self.post, count=count, occurs_at=at
            )
        )

    def comment(self, kind: str, persona_id: int, at: dt.datetime, text: str) -> None:
        row = SandboxPost(
            account=self.account,
            author_persona_id=persona_id,
            parent=self.post,
            root=self.post,
            text=text,
            features={"kind": kind},
            published_at=at,
        )
        event = SandboxEvent(
            account=self.account, kind=kind, persona_id=persona_id, post=self.post, text=text, occurs_at=at
        )
        self.comments.append((row, event))

    def save(self) -> int:
        start = self.post.published_at
        for slot, count in sorted(self.views.items()):
            self.event(Kind.VIEW, None, start + dt.timedelta(hours=slot, minutes=1), count)
        if self.comments:
            rows = SandboxPost.objects.bulk_create([row for row, _ in self.comments])
            for row, event in zip(rows, (e for _, e in self.comments), strict=True):
                event.comment = row
                self.events.append(event)
        SandboxEvent.objects.bulk_create(self.events, batch_size=500)
        SandboxFollow.objects.bulk_create(self.follows)
        return len(self.events)


def features_of(features: dict[str, Any] | None, text: str, link: str, media_count: int) -> dict[str, Any]:
    """A post's stored features, or, for a post stored without them (published while the audience
    simulation was off: connector.py `_publish_quietly`), the analysis of its text."""
    return features or texts.analyse(text, link, media_count)


def _schedule_reactions(account: SandboxAccount, post: SandboxPost) -> int:
    """Precompute everything the audience will do with `post` over the next 72 hours."""
    start = post.published_at
    f = post.features
    rng = _rng("post", account.handle, start.isoformat(), post.idempotency_key, post.text)
    state = _follow_state(account, start)
    recent = (
        SandboxPost.objects.filter(
            account=account,
            author_persona__isnull=True,
            parent__isnull=True,
            deleted_at__isnull=True,
            published_at__gte=start - dt.timedelta(hours=24),
            published_at__lte=start,
        )
        .exclude(pk=post.pk)
        .count()
    )
    fatigue = 1.0 if recent < 2 else 0.8 ** (recent - 1)  # the audience tires of many posts a day
    slots = _slot_weights(start, HORIZON_HOURS, _DECAY)
    reach = {profile: cum[-1] / _DECAY_SUM for profile, cum in slots.items()}
    factors = _content_factors(f)
    topics: list[str] = f.get("topics", [])
    batch = _Batch(account=account, post=post)
    for spec in personas.specs():
        follower = spec.id in state.followers
        base = SEEN_BY_FOLLOWER if follower else SEEN_BY_OTHER
        seen_p = base * _language_factor(f.get("language", "de"), spec.language)
        seen_p = min(0.95, seen_p * reach[spec.active_profile] * 1.7 * fatigue)
        if rng.random() >= seen_p:
            continue
        slot = _pick_slot(rng, slots[spec.active_profile])
        seen_at = start + dt.timedelta(hours=slot, minutes=rng.uniform(0, 59))
        batch.views[slot] += rng.choice((1, 1, 1, 2, 3))
        rel = _relevance(topics, spec.interests)
        habit = spec.habits
        liked = rng.random() < habit["like"] * rel * factors["like"]
        if liked:
            batch.event(Kind.LIKE, spec.id, seen_at + dt.timedelta(minutes=rng.uniform(0.2, 8)))
        if rng.random() < habit["comment"] * rel * factors["comment"]:
            at = seen_at + dt.timedelta(minutes=rng.uniform(1, 25))
            text = texts.comment(
                rng, language=spec.language, post_topics=topics, interests=list(spec.interests),
                question=False, features=f,
            )  # fmt: skip
            batch.comment(Kind.COMMENT, spec.id, at, text)
        elif rng.random() < habit["question"] * rel * factors["question"]:
            at = seen_at + dt.timedelta(minutes=rng.uniform(1, 25))
            text = texts.comment(
                rng, language=spec.language, post_topics=topics, interests=list(spec.interests),
                question=True, features=f,
            )  # fmt: skip
            batch.comment(Kind.QUESTION, spec.id, at, text)
        if rng.random() < habit["share"] * rel * factors["share"]:
            shared_at = seen_at + dt.timedelta(minutes=rng.uniform(1, 30))
            batch.event(Kind.SHARE, spec.id, shared_at)
            # A share brings views from outside the audience a few hours later.
            later = shared_at + dt.timedelta(hours=rng.uniform(0.5, 6))
            batch.views[int((later - start).total_seconds() // 3600)] += rng.randint(2, 15)
        if rng.random() < habit["click"] * rel * factors["click"]:
            batch.event(Kind.CLICK, spec.id, seen_at + dt.timedelta(minutes=rng.uniform(0.2, 3)))
        if not follower and spec.id not in state.committed:
            chance = habit["follow"] * rel * factors["follow"] * (0.8 if liked else 0.25)
            if rng.random() < chance:
                at = seen_at + dt.timedelta(minutes=rng.uniform(1, 40))
                batch.event(Kind.FOLLOW, spec.id, at)
                batch.follows.append(SandboxFollow(account=account, persona_id=spec.id, since=at))
    return batch.save()


# --- writes used by the connector --------------------------------------------------------------


def publish_post(
    account: SandboxAccount,
    *,
    text: str,
    link: str = "",
    media_count: int = 0,
    idempotency_key: str = "",
    media: list[dict[str, str]] | None = None,
) -> SandboxPost:
    """Store a top-level post at `clock.now()` and schedule the audience's reactions. `media`:
    [{"url", "alt", "type"}] of its images and videos, as the feed shows them."""
    now = clock.now()
    personas.ensure_personas()
    catch_up(account)  # today's audience depends on the days before
    with transaction.atomic():
        post = SandboxPost.objects.create(
            account=account,
            text=text,
            link=link,
            media_count=media_count,
            media=media or [],
            idempotency_key=idempotency_key,
            features=texts.analyse(text, link, media_count),
            published_at=now,
        )
        if settings.SANDBOX_REACTIONS:  # off only in load benchmarks (docs/benchmarks.md)
            _schedule_reactions(account, post)
    return post


def reply_to(account: SandboxAccount, parent: SandboxPost, *, text: str, idempotency_key: str = "") -> SandboxPost:
    """Our reply to `parent` (a comment, an answer or our own post) at `clock.now()`."""
    now = clock.now()
    with transaction.atomic():
        reply = SandboxPost.objects.create(
            account=account,
            parent=parent,
            root_id=parent.root_id or parent.pk,
            text=text,
            idempotency_key=idempotency_key,
            features={"kind": "reply", "language": texts.detect_language(text)},
            published_at=now,
        )
        if parent.author_persona_id is not None:
            _schedule_answer(account, parent, reply)
    return reply


def _schedule_answer(account: SandboxAccount, comment: SandboxPost, reply: SandboxPost) -> None:
    """The persona whose comment we answered may answer back, when they are next online."""
    assert comment.author_persona_id is not None
    spec = _spec(comment.author_persona_id)
    rng = _rng("answer", account.handle, comment.published_at.isoformat(), comment.text, reply.text)
    chance = 0.3 + 3 * spec.habits["comment"]
    kind = comment.features.get("kind")
    if kind == Kind.QUESTION:
        chance += 0.15  # they got the answer they asked for
    elif kind == "answer":
        chance *= 0.35  # conversations die down
    if rng.random() >= min(chance, 0.85):
        return
    decay = [math.exp(-(h + 0.5) / 3.0) for h in range(24)]
    cumulative = _slot_weights(reply.published_at, 24, decay)[spec.active_profile]
    at = reply.published_at + dt.timedelta(hours=_pick_slot(rng, cumulative), minutes=rng.uniform(3, 59))
    text = texts.answer(rng, language=spec.language, interests=list(spec.interests))
    root_id = reply.root_id or reply.pk
    answer = SandboxPost.objects.create(
        account=account,
        author_persona_id=spec.id,
        parent=reply,
        root_id=root_id,
        text=text,
        features={"kind": "answer"},
        published_at=at,
    )
    SandboxEvent.objects.create(
        account=account, kind=Kind.REPLY, persona_id=spec.id, post_id=root_id, comment=answer, text=text, occurs_at=at
    )


@transaction.atomic
def delete_post(post: SandboxPost) -> None:
    """Mark the post deleted now; what the audience would still have done with it never happens."""
    now = clock.now()
    post.deleted_at = now
    post.save(update_fields=["deleted_at"])
    future = SandboxEvent.objects.filter(occurs_at__gt=now)
    if post.parent_id is None:
        for persona_id, at in future.filter(post=post, kind=Kind.FOLLOW).values_list("persona_id", "occurs_at"):
            SandboxFollow.objects.filter(account_id=post.account_id, persona_id=persona_id, since=at).delete()
        future.filter(post=post).delete()
        SandboxPost.objects.filter(root=post, author_persona__isnull=False, published_at__gt=now).delete()
    else:
        SandboxPost.objects.filter(parent=post, author_persona__isnull=False, published_at__gt=now).delete()


# --- daily follows and unfollows ---------------------------------------------------------------


def advance(until: dt.datetime | None = None) -> int:
    """Make the daily follow/unfollow events of every account up to `until`; returns how many."""
    until = until or clock.now()
    pending = SandboxAccount.objects.filter(simulated_until__lte=until - dt.timedelta(hours=23))
    return sum(advance_account(pk, until) for pk in pending.values_list("pk", flat=True))


def catch_up(account: SandboxAccount) -> int:
    """`advance()` for one account up to `clock.now()`, if a day is pending (else no query)."""
    now = clock.now()
    if _next_midnight(account.simulated_until) > now:
        return 0
    created = advance_account(account.pk, now)
    account.refresh_from_db(fields=["simulated_until"])
    return created


def advance_account(account_id: int, until: dt.datetime) -> int:
    """`advance()` for one account; safe with several workers (the account row is locked)."""
    created = 0
    with transaction.atomic():
        account = SandboxAccount.objects.select_for_update().get(pk=account_id)
        day_start = account.simulated_until
        while (day_end := _next_midnight(day_start)) <= until:
            created += _simulate_day(account, day_start, day_end)
            day_start = day_end
        if day_start != account.simulated_until:
            account.simulated_until = day_start
            account.save(update_fields=["simulated_until"])
    return created


def _simulate_day(account: SandboxAccount, start: dt.datetime, end: dt.datetime) -> int:
    """Follows and unfollows during one local day, from the engagement of the week before."""
    state = _follow_state(account, start)
    week_start = start - dt.timedelta(days=7)
    engagement = (
        SandboxEvent.objects.filter(
            account=account, kind__in=ENGAGEMENT_KINDS, occurs_at__gte=week_start, occurs_at__lt=start
        ).aggregate(n=Sum("count"))["n"]
        or 0
    )
    posts = [
        features_of(*row)
        for row in SandboxPost.objects.filter(
            account=account,
            author_persona__isnull=True,
            parent__isnull=True,
            deleted_at__isnull=True,
            published_at__gte=week_start,
            published_at__lt=start,
        ).values_list("features", "text", "link", "media_count")
    ]
    topics: Counter[str] = Counter(t for features in posts for t in features.get("topics", []))
    account_topics = [t for t, _ in topics.most_common(3)]
    languages = Counter(features.get("language", "de") for features in posts)
    language = languages.most_common(1)[0][0] if languages else "de"
    promo_share = sum(1 for features in posts if features.get("promo")) / len(posts) if posts else 0.0
    follow_base = 0.0005 + min(0.02, 0.00004 * engagement)
    unfollow = 0.0012 + 0.008 * promo_share + (0.004 if not posts else 0) + (0.003 if len(posts) > 21 else 0)

    rng = _rng("day", account.handle, start.isoformat())
    hours = max(1, round((end - start).total_seconds() / 3600))
    slots = _slot_weights(start, hours, [1.0] * hours)
    events: list[SandboxEvent] = []
    new_follows: list[SandboxFollow] = []
    ended: list[SandboxFollow] = []
    for spec in personas.specs():
        rel = _relevance(account_topics, spec.interests)
        if spec.id in state.followers and spec.id in state.committed:
            chance = unfollow * (1.6 if rel < 0.5 else 0.8)
        elif spec.id not in state.committed:
            chance = follow_base * rel * _language_factor(language, spec.language)
        else:
            continue
        if rng.random() >= chance:
            continue
        at = start + dt.timedelta(hours=_pick_slot(rng, slots[spec.active_profile]), minutes=rng.uniform(0, 59))
        if spec.id in state.followers:
            events.append(SandboxEvent(account=account, kind=Kind.UNFOLLOW, persona_id=spec.id, occurs_at=at))
            ended.append(SandboxFollow(pk=state.committed[spec.id], until=at))
        else:
            events.append(SandboxEvent(account=account, kind=Kind.FOLLOW, persona_id=spec.id, occurs_at=at))
            new_follows.append(SandboxFollow(account=account, persona_id=spec.id, since=at))
    SandboxEvent.objects.bulk_create(events)
    SandboxFollow.objects.bulk_create(new_follows)
    if ended:
        SandboxFollow.objects.bulk_update(ended, ["until"])
    return len(events)
