"""`stammtisch bench dashboard [--database URL]`: the goal and channel pages over two years.

1. A kept database (`core/benchdata.py`, as `bench people` keeps its data): a SQLite file
   `DATA_DIR/bench/dashboard-C-P-M-D.sqlite3`, or a database `stammtisch_bench_dashboard_C_P_M_D`
   on the PostgreSQL server of `--database`. It holds one workspace with C channels, P posts
   and M interactions over D days up to the moment it was generated, the rollups of the
   worker's first run (the backfill) and, in tables `bench_day_*` of the same shape, one more
   day of events. A meta table records the sizes, the seed, the generator's version and the
   history's end; a rerun with the same ones reuses everything (only `migrate` runs).
2. Generation (once; its time is printed): the Sandbox's models, vectorised with numpy so that
   twenty million interactions take minutes (`simulate`, deterministic for a seed). People are
   Sandbox personas (`personas._generate`: language, interests, activity profile, habits) with a
   heavy-tailed share of the interactions inside an active period, at the hours of their
   profile; each interaction goes to a post of the person's channel published before it, with
   the Sandbox's attention decay over 72 hours, accepted with the Sandbox's chances (fatigue of
   many posts a day, the hour's reach for the person's profile, language, shared topics, the
   post's content factors `simulation._content_factors`); what it is (like, comment, question,
   share, link click, follow) follows the person's habits times the content factors. Posts are
   the demo café's ideas (`demo.IDEAS`: pillar, purpose, link) on one to three channels.
   Comments and questions are inbox messages (texts from the Sandbox's comment generator, with
   sentiment and intent) that we answer; likes, shares, follows, comments and our answers are
   audience engagements; link clicks are clicks on the deliveries' short links, some leading to
   conversions; every delivery gets its metric snapshots (1 hour, 24 hours, 7 and 28 days) and
   every channel a daily follower count. The inbox's own rows of likes, shares and follows are
   not written (the rollups and pages do not read them).
3. Measured in a process of its own, with Django's clock at the history's end (so a rerun a
   month later opens the same days): the goal page (`strategy:goal`, every goal in turn, with
   each of its ranges) and the channel page (`analytics:channel`, channels in turn), `--renders`
   requests each after 3 warm-ups, with Django's test client signed in as the owner (server
   time of the whole stack, as `bench calendar` measures it). Then the added day's rows are
   copied into the real tables (as the inbox sync, the click import and the metrics job would
   have stored them) and the rollup job (`rollups.run_due`, what the worker runs) refreshes the
   workspace at the end of that day: `rollup_refresh_s` is the median of 3 such runs. Finally the
   day is taken out again and the rollups recomputed, so the kept data is as generated.

One JSON line per database with exactly `goal_p95_ms`, `channel_p95_ms` (targets: under 300) and
`rollup_refresh_s`; everything else goes to standard error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_CHANNELS = 50
DEFAULT_POSTS = 100_000
DEFAULT_INTERACTIONS = 20_000_000
DEFAULT_DAYS = 730
DEFAULT_RENDERS = 50
WARM_UP = 3
REFRESH_RUNS = 3
SEED = 7
# Bump when the generated data changes shape: kept databases of an older version are regenerated.
GENERATOR_VERSION = 3
META_TABLE = "bench_dashboard_meta"
DAY_PREFIX = "bench_day_"  # the added day's rows wait in tables of the same shape
WORKSPACE_SLUG = "bench-dashboard"
USERNAME = "bench-dashboard"
TIME_ZONE = "Europe/Berlin"
PEOPLE_PER = 40  # interactions per person on average: M / 40 people
CHUNK = 500_000  # rows per write
KINDS = ("like", "comment", "question", "share", "click", "follow")
LIKE, COMMENT, QUESTION, SHARE, CLICK, FOLLOW = range(len(KINDS))
# (network, weight): where a café chain's channels are; the first of each is always there.
NETWORKS = [
    ("instagram", 30),
    ("facebook", 24),
    ("linkedin", 10),
    ("mastodon", 8),
    ("bluesky", 8),
    ("threads", 8),
    ("x", 6),
    ("telegram", 6),
]
NO_IMPRESSIONS = {"mastodon"}  # reports no impressions or reach (docs/analytics.md)
NO_POST_METRICS = {"telegram"}  # reports no per-post figures
REFERRERS = {
    "instagram": "l.instagram.com",
    "facebook": "l.facebook.com",
    "linkedin": "www.linkedin.com",
    "mastodon": "mastodon.social",
    "bluesky": "bsky.app",
    "threads": "l.threads.net",
    "x": "t.co",
    "telegram": "t.me",
}
# When the café posts (local hours), weekdays and weekends.
POST_HOURS = (
    [0, 0, 0, 0, 0, 0, 0.2, 1, 1.5, 1, 0.8, 1, 1.4, 1, 0.6, 0.6, 0.8, 1.2, 1.5, 1.3, 1, 0.6, 0.2, 0],
    [0, 0, 0, 0, 0, 0, 0, 0.3, 0.8, 1.2, 1.4, 1.2, 1, 0.8, 0.8, 0.8, 0.8, 1, 1.2, 1, 0.8, 0.4, 0.1, 0],
)
WEEKDAY_POSTS = (1.0, 1.0, 1.05, 1.0, 1.1, 0.8, 0.7)
CHECKPOINTS = (("1h", 3600), ("24h", 86400), ("7d", 7 * 86400), ("28d", 28 * 86400))
SECOND_CHANNEL = 0.12  # share of people who follow two of the channels
ACCEPT_ROUNDS = 10
ANSWERED = 0.7  # comments we answer (every 29th post's comments never)
# Goals of the workspace: (KPI, name, target, days since the start, days to the deadline).
GOALS = [
    ("image.net_sentiment", "Mehr positive Stimmen", 50.0, 365, 180),
    ("image.negative_share", "Weniger Beschwerden", 5.0, 180, 90),
    ("loyalty.returning_engagers", "Stammgäste online", 5_000_000.0, 365, 180),
    ("loyalty.advocates", "Botschafter", 2_000.0, 180, 120),
    ("loyalty.answered_feedback", "Jede Frage beantwortet", 90.0, 90, 90),
    ("loyalty.response_minutes", "Schneller antworten", 30.0, 90, 60),
    ("acquisition.new_followers", "Neue Follower", 40_000.0, 365, 180),
    ("acquisition.new_people", "Neue Gesichter", 300_000.0, 365, 180),
    ("acquisition.conversions", "Reservierungen", 20_000.0, 180, 180),
    ("traffic.clicks", "Mehr Besuche auf der Website", 800_000.0, 365, 180),
    ("traffic.social_visits", "Besuche aus Social Media", 300_000.0, 180, 180),
]
# Which goal a post works towards (`Post.goal`, where the model has it), by what the post is.
GOAL_OF = {"link": "traffic.clicks", "promotion": "acquisition.conversions", "question": "loyalty.answered_feedback"}


@dataclass(frozen=True)
class Sizes:
    channels: int
    posts: int
    interactions: int
    days: int

    @property
    def people(self) -> int:
        return max(1, self.interactions // PEOPLE_PER)

    @property
    def label(self) -> str:
        return f"{self.channels}-{self.posts}-{self.interactions}-{self.days}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        help="'sqlite' (a file under the data directory) or a PostgreSQL server URL such as "
        "postgres://postgres@127.0.0.1:5432/postgres (a database named after the sizes is kept there); "
        "without it: SQLite, and PostgreSQL too when STAMMTISCH_BENCH_POSTGRES (or that URL) answers",
    )
    parser.add_argument("--channels", type=int, default=DEFAULT_CHANNELS, help="channels (default 50)")
    parser.add_argument("--posts", type=int, default=DEFAULT_POSTS, help="posts (default 100,000)")
    parser.add_argument(
        "--interactions", type=int, default=DEFAULT_INTERACTIONS, help="interactions (default 20,000,000)"
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days of history (default 730)")
    parser.add_argument("--renders", type=int, default=DEFAULT_RENDERS, help="timed requests per page (default 50)")


def _sizes(options: argparse.Namespace) -> Sizes:
    sizes = Sizes(options.channels, options.posts, options.interactions, options.days)
    if min(sizes.channels, sizes.posts, sizes.interactions, options.renders) < 1 or sizes.days < 2:
        raise SystemExit("stammtisch bench dashboard: sizes and --renders must be at least 1, --days at least 2")
    return sizes


def run(options: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from stammtisch.core import benchdata

    sizes = _sizes(options)
    for database in benchdata.databases(options.database):
        yield measure_in(database, sizes, options.renders)


def _say(text: str) -> None:
    sys.stderr.write(f"stammtisch bench dashboard: {text}\n")
    sys.stderr.flush()


def params(sizes: Sizes) -> str:
    return json.dumps(
        {
            "channels": sizes.channels,
            "posts": sizes.posts,
            "interactions": sizes.interactions,
            "days": sizes.days,
            "seed": SEED,
            "version": GENERATOR_VERSION,
        }
    )


def measure_in(database: str, sizes: Sizes, renders: int) -> dict[str, Any]:
    """Prepare (or reuse) the kept database on `database`, then measure in a process of its own."""
    from stammtisch.core import benchdata

    kept = benchdata.kept_database(
        database,
        file_name=f"dashboard-{sizes.label}.sqlite3",
        database_name=f"stammtisch_bench_dashboard_{sizes.label.replace('-', '_')}",
        meta_table=META_TABLE,
        wanted=params(sizes),
    )
    env = benchdata.child_env(kept.url)
    benchdata.migrate(env)
    described = (
        f"{sizes.channels:,} channels, {sizes.posts:,} posts, {sizes.interactions:,} interactions, {sizes.days} days"
    )
    module = "stammtisch.analytics.bench_dashboard"
    sized = [str(sizes.channels), str(sizes.posts), str(sizes.interactions), str(sizes.days)]
    if kept.ready:
        _say(f"{kept.vendor}: reusing the kept data ({described})")
    else:
        _say(f"{kept.vendor}: generating {described} (kept for the next run)")
        generated = benchdata.run_step([module, "generate", *sized], env)
        _say(f"{kept.vendor}: generated in {generated['seconds']:.0f} s")
    return benchdata.run_step([module, "measure", str(renders)], env)


# --- the simulation (pure: numpy arrays, no database) ---------------------------------------------


@dataclass
class History:
    """Everything generated, as arrays. Times are UTC seconds; each table's rows are in time
    order, so the added day's rows (time >= `anchor`) come last."""

    sizes: Sizes
    anchor: int  # the history's end ("now" of the kept data); the added day is [anchor, anchor + 1 day)
    channel_network: np.ndarray
    channel_followers: np.ndarray
    post_time: np.ndarray
    post_idea: np.ndarray
    delivery_post: np.ndarray  # deliveries in post order
    delivery_channel: np.ndarray
    delivery_published: np.ndarray  # bool
    delivery_time: np.ndarray  # published_at (the post's time for a failed one)
    delivery_rate: np.ndarray  # engagements per view, for the snapshots' views
    person_first: np.ndarray  # first engagement (a person exists from then on)
    person_order: np.ndarray  # person indexes by first engagement: their ids in that order
    person_language: np.ndarray  # 0 German, 1 English
    person_names: list[tuple[str, str]]  # (name, handle)
    person_channels: np.ndarray  # (people, 2): channel indexes, -1 for none
    act_time: np.ndarray  # the interactions, in time order
    act_person: np.ndarray
    act_channel: np.ndarray
    act_delivery: np.ndarray
    act_kind: np.ndarray  # index into KINDS
    act_stored: np.ndarray  # comments: True when stored as a reply
    act_sentiment: np.ndarray  # comments: 0 positive, 1 neutral, 2 negative
    act_text: np.ndarray  # comments: index into the text pool
    act_answer: np.ndarray  # comments: time of our answer, 0 for none

    def summary(self) -> dict[str, int]:
        history = self.act_time < self.anchor
        return {
            "history_interactions": int(history.sum()),
            "added_day_interactions": int((~history).sum()),
            "deliveries": int((self.post_time[self.delivery_post] < self.anchor).sum()),
            "people": int((self.person_first < self.anchor).sum()),
        }


def _rng(*stream: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *stream])


class Clock:
    """Local days and hours of the workspace's zone for arrays of UTC seconds."""

    def __init__(self, start: int, end: int) -> None:
        tz = zoneinfo.ZoneInfo(TIME_ZONE)
        self.base = start - start % 3600 - 3 * 86400
        hours = (end - self.base) // 3600 + 4 * 24

        def offset(at: int) -> int:
            delta = dt.datetime.fromtimestamp(at, dt.UTC).astimezone(tz).utcoffset()
            return int(delta.total_seconds()) if delta else 0

        self.offsets = np.array([offset(self.base + h * 3600) for h in range(hours)], dtype=np.int64)

    def offset(self, t: np.ndarray) -> np.ndarray:
        return self.offsets[(t - self.base) // 3600]

    def local_day(self, t: np.ndarray) -> np.ndarray:
        """Days since 1970-01-01 in local time."""
        return (t + self.offset(t)) // 86400

    def midnight(self, day: np.ndarray) -> np.ndarray:
        """UTC seconds of local midnight of `day` (the zone changes at night, never at midnight)."""
        guess = day * 86400
        return guess - self.offset(guess - 7200)

    def at_hours(self, t: np.ndarray, cdfs: np.ndarray, group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The local dates of `t` at local hours drawn from `cdfs[group, weekend]` (cumulative
        weights of the 24 hours), at a random second of the hour."""
        day = self.local_day(t)
        weekend = ((day + 3) % 7 >= 5).astype(np.int64)  # 1970-01-01 was a Thursday
        u = rng.random(len(t))
        hour = np.zeros(len(t), dtype=np.int64)
        for g in range(cdfs.shape[0]):
            for w in range(2):
                mask = (group == g) & (weekend == w)
                if mask.any():
                    hour[mask] = np.searchsorted(cdfs[g, w], u[mask] * cdfs[g, w, -1], side="right")
        return self.midnight(day) + np.minimum(hour, 23) * 3600 + rng.integers(0, 3600, len(t))


def _cumulative(rows: Iterable[Any]) -> np.ndarray:
    return np.cumsum(np.array(list(rows), dtype=np.float64), axis=-1)


def _ideas() -> list[Any]:
    from stammtisch.core.management.commands.demo import IDEAS

    return list(IDEAS)


def _post_features(ideas: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The demo café's post ideas as the Sandbox reads them (`texts.analyse`), with and without
    a picture: content factors per kind, topic bits and English or not, by (idea, picture)."""
    from stammtisch.networks.sandbox import simulation, texts

    topics = list(texts.TOPICS)
    factors = np.zeros((len(ideas), 2, len(KINDS)))
    topic_bits = np.zeros((len(ideas), 2), dtype=np.int64)
    english = np.zeros((len(ideas), 2), dtype=np.int64)
    for i, idea in enumerate(ideas):
        for media in (0, 1):
            features = texts.analyse(idea.text, idea.link, media)
            multipliers = simulation._content_factors(features)
            factors[i, media] = [multipliers[k] for k in KINDS]
            topic_bits[i, media] = sum(1 << topics.index(t) for t in features["topics"] if t in topics)
            english[i, media] = features["language"] == "en"
    return factors, topic_bits, english


def _reach() -> np.ndarray:
    """The Sandbox's reach of a post by the persona's activity profile and the local weekday and
    hour of publishing (`simulation._slot_weights` over its 72 hours of attention decay)."""
    from stammtisch.networks.sandbox import personas, simulation

    tz = zoneinfo.ZoneInfo(TIME_ZONE)
    profiles = list(personas.ACTIVITY_PROFILES)
    reach = np.zeros((len(profiles), 7 * 24))
    for weekday in range(7):
        for hour in range(24):
            start = dt.datetime(2025, 1, 6 + weekday, hour, tzinfo=tz)  # a week in winter, from Monday
            slots = simulation._slot_weights(start, simulation.HORIZON_HOURS, simulation._DECAY)
            for p, profile in enumerate(profiles):
                reach[p, weekday * 24 + hour] = slots[profile][-1] / simulation._DECAY_SUM
    return reach


@dataclass
class People:
    language: np.ndarray
    habits: np.ndarray  # (people, kinds)
    profile: np.ndarray
    interests: np.ndarray  # topic bits
    names: list[tuple[str, str]]

    def extend(self, other: People) -> None:
        self.language = np.concatenate([self.language, other.language])
        self.habits = np.concatenate([self.habits, other.habits])
        self.profile = np.concatenate([self.profile, other.profile])
        self.interests = np.concatenate([self.interests, other.interests])
        self.names = self.names + other.names


def _people(first: int, count: int) -> People:
    """Sandbox personas `first` to `first + count - 1` (`personas._generate`, seeded per block of
    10,000 as `bench people` makes them)."""
    from stammtisch.networks.sandbox import personas, texts

    topics = list(texts.TOPICS)
    profiles = list(personas.ACTIVITY_PROFILES)
    language = np.zeros(count, dtype=np.int64)
    habits = np.zeros((count, len(KINDS)))
    profile = np.zeros(count, dtype=np.int64)
    interests = np.zeros(count, dtype=np.int64)
    names = []
    block = random.Random(0)
    for n in range(count):
        index = first + n
        if n == 0 or index % 10_000 == 0:
            block = random.Random(f"{SEED}:people:{index - index % 10_000}")
            for skipped in range(index - index % 10_000, index):  # a start inside a block
                personas._generate(block, skipped)
        spec = personas._generate(block, index)
        language[n] = spec.language == "en"
        habits[n] = [spec.habits[k] for k in KINDS]
        profile[n] = profiles.index(spec.active_profile)
        interests[n] = sum(1 << topics.index(t) for t in spec.interests if t in topics)
        names.append((spec.name, spec.handle))
    return People(language, habits, profile, interests, names)


def simulate(sizes: Sizes, anchor: int) -> History:
    """The workspace's history up to `anchor` and one day after it; the same for the same seed,
    sizes and anchor."""
    from stammtisch.networks.sandbox import personas, simulation

    day = 86400
    start, end = anchor - sizes.days * day, anchor + day
    clock = Clock(start, end)
    ideas = _ideas()

    # Channels: every network once (as far as there are channels), the rest by weight.
    rng = _rng(1)
    weights = np.array([w for _n, w in NETWORKS], dtype=np.float64)
    network = rng.choice(len(NETWORKS), size=sizes.channels, p=weights / weights.sum())
    network[: min(sizes.channels, len(NETWORKS))] = np.arange(min(sizes.channels, len(NETWORKS)))
    followers = (np.round(rng.lognormal(np.log(2500), 1.0, sizes.channels)) + 100).astype(np.int64)
    popularity = followers**0.8 / (followers**0.8).sum()

    # Posts: more as the café grows, fewer at weekends, at the café's posting hours; the added
    # day gets a day's share on top of P. Each is one of the demo café's ideas that fits the day.
    rng = _rng(2)
    slots = np.arange(sizes.days + 1)
    weekday = (clock.local_day(start + slots * day) + 3) % 7
    density = (1 + 0.6 * slots / sizes.days) * np.array(WEEKDAY_POSTS)[weekday]
    history_density = density[:-1].sum()
    per_day = np.append(
        rng.multinomial(sizes.posts, density[:-1] / history_density), round(sizes.posts * density[-1] / history_density)
    )
    slot = np.repeat(slots, per_day)
    uniform = start + slot * day + rng.integers(0, day, len(slot))
    post_time = clock.at_hours(uniform, _cumulative([POST_HOURS]), np.zeros(len(slot), dtype=np.int64), rng)
    post_time = np.where(slot < sizes.days, np.clip(post_time, start, anchor - 1), np.clip(post_time, anchor, end - 1))
    post_time = np.sort(post_time, kind="stable")
    fitting: dict[tuple[int, int], list[int]] = {}
    post_idea = np.zeros(len(post_time), dtype=np.int64)
    choice = rng.random(len(post_time))
    for n, local in enumerate(clock.local_day(post_time).tolist()):
        date = dt.date(1970, 1, 1) + dt.timedelta(days=local)
        key = (date.month, date.weekday())
        if key not in fitting:
            fitting[key] = [i for i, idea in enumerate(ideas) if idea.fits(date)] or list(range(len(ideas)))
        post_idea[n] = fitting[key][int(choice[n] * len(fitting[key]))]
    post_media = (rng.random(len(post_time)) < 0.75).astype(np.int64)

    # Deliveries: each post on 1 to 3 channels, popular ones more often (Gumbel top-k).
    k = np.minimum(rng.choice([1, 2, 3], size=len(post_time), p=[0.4, 0.35, 0.25]), sizes.channels)
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(len(post_time), sizes.channels))
    taken = np.arange(sizes.channels)[None, :] < k[:, None]
    delivery_post = np.nonzero(taken)[0]
    delivery_channel = np.argsort(-keys, axis=1)[taken]
    published = rng.random(len(delivery_post)) < 0.985
    delivery_time = post_time[delivery_post] + np.where(published, rng.integers(2, 90, len(delivery_post)), 0)
    delivery_rate = np.exp(rng.normal(np.log(0.05), 0.4, len(delivery_post)))

    # How a delivery is received (simulation._schedule_reactions): fatigue when the channel
    # posted more than twice in 24 hours, the reach of its weekday and hour, what it says.
    chan_key = delivery_channel.astype(np.int64) << 40 | delivery_time
    by_channel = np.argsort(chan_key, kind="stable")
    sorted_key = chan_key[by_channel]
    recent = np.empty(len(chan_key), dtype=np.int64)
    recent[by_channel] = np.arange(len(sorted_key)) - np.searchsorted(sorted_key, sorted_key - day, side="right")
    fatigue = np.where(recent < 2, 1.0, 0.8 ** np.maximum(recent - 1, 0))
    local_time = delivery_time + clock.offset(delivery_time)
    weekhour = ((local_time // day + 3) % 7) * 24 + (local_time % day) // 3600
    reach = _reach()
    factors, topic_bits, english = _post_features(ideas)
    idea_of, media_of = post_idea[delivery_post], post_media[delivery_post]
    d_factors = factors[idea_of, media_of]
    d_topics = topic_bits[idea_of, media_of]
    d_english = english[idea_of, media_of]
    inviting = d_factors @ np.array([0.24, 0.045, 0.025, 0.02, 0.15, 0.07])  # the personas' mean habits
    pub_index = by_channel[published[by_channel]]  # published deliveries by channel and time
    pub_key = chan_key[pub_index]
    pub_channel = delivery_channel[pub_index]
    first_of_channel = np.full(sizes.channels, -1, dtype=np.int64)
    first_of_channel[pub_channel[::-1]] = np.arange(len(pub_index))[::-1]
    with_posts = np.nonzero(first_of_channel >= 0)[0]
    if not len(with_posts):
        raise SystemExit("stammtisch bench dashboard: no post was published; use more --posts")

    # People: Sandbox personas, each with a heavy-tailed share of M inside an active period.
    rng = _rng(3)
    n_people = sizes.people
    people = _people(0, n_people)
    activity = people.habits[:, [LIKE, COMMENT, QUESTION, SHARE]].sum(axis=1) + 0.2 * people.habits[:, FOLLOW]
    weight = activity * np.minimum(100.0, rng.lognormal(0.0, 1.3, n_people))
    counts = 1 + np.floor(weight * (sizes.interactions - n_people) / weight.sum()).astype(np.int64)
    counts[rng.choice(n_people, size=sizes.interactions - int(counts.sum()), replace=False)] += 1
    begin = start + (rng.random(n_people) * (anchor - start)).astype(np.int64)
    length = (rng.exponential(90 * day, n_people) + rng.random(n_people) * day).astype(np.int64)

    # The added day: about M / D interactions of the people still active, and a day's newcomers.
    extra = round(sizes.interactions * density[-1] / history_density)
    n_new = max(1, round(n_people / sizes.days))
    people.extend(_people(n_people, n_new))
    new_counts = 1 + rng.poisson(1.0, n_new)
    still = np.nonzero(begin + length >= anchor)[0]
    rate = counts[still] / np.maximum(length[still], day)
    returning = (
        rng.choice(still, size=max(0, extra - int(new_counts.sum())), p=rate / rate.sum())
        if len(still)
        else np.zeros(0, dtype=np.int64)
    )
    act_person = np.concatenate(
        [np.repeat(np.arange(n_people), counts), returning, np.repeat(np.arange(n_new) + n_people, new_counts)]
    )
    in_day = np.arange(len(act_person)) >= sizes.interactions
    lo = np.where(in_day, anchor, np.concatenate([begin, np.full(n_new, anchor)])[act_person])
    stop = np.concatenate([np.minimum(begin + length, anchor), np.full(n_new, end)])
    hi = np.where(in_day, end, np.maximum(stop[act_person], lo + 1))
    uniform = lo + (rng.random(len(act_person)) * (hi - lo)).astype(np.int64)
    profile_cdfs = _cumulative(personas.ACTIVITY_PROFILES.values())
    act_time = clock.at_hours(uniform, profile_cdfs, people.profile[act_person], rng)
    act_time = np.where(in_day, np.clip(act_time, anchor, end - 1), np.clip(act_time, start, anchor - 1))

    # Their channels: one, some two; an interaction is on the second one in 30 %.
    total = n_people + n_new
    person_channels = np.full((total, 2), -1, dtype=np.int64)
    person_channels[:, 0] = with_posts[rng.choice(len(with_posts), size=total, p=_normal(popularity[with_posts]))]
    if len(with_posts) > 1:
        second = np.nonzero(rng.random(total) < SECOND_CHANNEL)[0]
        other = with_posts[rng.choice(len(with_posts), size=len(second), p=_normal(popularity[with_posts]))]
        for _round in range(20):
            same = other == person_channels[second, 0]
            if not same.any():
                break
            other[same] = with_posts[rng.integers(0, len(with_posts), int(same.sum()))]
        keep = other != person_channels[second, 0]
        person_channels[second[keep], 1] = other[keep]
    use_second = (person_channels[act_person, 1] >= 0) & (rng.random(len(act_person)) < 0.3)
    act_channel = np.where(use_second, person_channels[act_person, 1], person_channels[act_person, 0])

    # Which post: the Sandbox's attention decay says how long after publishing; the post is
    # taken with the Sandbox's chance of being seen and acted on, else another one is drawn.
    decay = np.array(simulation._DECAY) / simulation._DECAY_SUM
    language_factor = np.array([[1.0, 0.7], [0.35, 1.0]])  # [persona English][post English]
    relevance_of = np.array([0.35, 1.0, 1.3])
    best = reach.max() * 1.3 * inviting.max()
    act_delivery = np.full(len(act_person), -1, dtype=np.int64)
    pending = np.arange(len(act_person))
    for round_ in range(ACCEPT_ROUNDS):
        lag = rng.choice(len(decay), size=len(pending), p=decay) * 3600 + rng.integers(0, 3600, len(pending))
        target = act_channel[pending].astype(np.int64) << 40 | np.maximum(act_time[pending] - lag, 0)
        pos = np.searchsorted(pub_key, target, side="right") - 1
        found = (pos >= 0) & (pub_channel[np.maximum(pos, 0)] == act_channel[pending])
        candidate = pub_index[np.where(found, pos, first_of_channel[act_channel[pending]])]
        who = act_person[pending]
        shared = np.bitwise_count(d_topics[candidate] & people.interests[who]).astype(np.int64)
        relevance = np.where(d_topics[candidate] == 0, 0.6, relevance_of[np.minimum(shared, 2)])
        chance = (
            fatigue[candidate]
            * reach[people.profile[who], weekhour[candidate]]
            * language_factor[people.language[who], d_english[candidate]]
            * relevance
            * inviting[candidate]
            / best
        )
        accept = (rng.random(len(pending)) < chance) | (round_ == ACCEPT_ROUNDS - 1)
        act_delivery[pending[accept]] = candidate[accept]
        pending = pending[~accept]
        if not len(pending):
            break
    # An interaction before its post (the channel's first post came later): soon after the post.
    posted = delivery_time[act_delivery]
    early = act_time < posted
    act_time[early] = posted[early] + rng.integers(60, 3 * 3600, int(early.sum()))
    act_time = np.maximum(np.minimum(act_time, np.where(in_day, end - 1, anchor - 1)), posted)

    # What they do: habits times the post's content factors (a follow rarer than a like).
    act_kind = np.zeros(len(act_person), dtype=np.int64)
    u = rng.random(len(act_person))
    for first in range(0, len(act_person), 2_000_000):
        part = slice(first, first + 2_000_000)
        chances = people.habits[act_person[part]] * d_factors[act_delivery[part]]
        chances[:, FOLLOW] *= 0.4
        cumulative = np.cumsum(chances, axis=1)
        act_kind[part] = (cumulative < (u[part] * cumulative[:, -1])[:, None]).sum(axis=1)
    act_kind = np.minimum(act_kind, len(KINDS) - 1)

    # Time order from here on (ids follow it, so the added day's rows come last).
    order = np.argsort(act_time, kind="stable")
    act_time, act_person, act_channel = act_time[order], act_person[order], act_channel[order]
    act_delivery, act_kind = act_delivery[order], act_kind[order]
    # One follow per person and channel: a second one is a like.
    follows = np.nonzero(act_kind == FOLLOW)[0]
    ranked = follows[np.lexsort((follows, act_channel[follows], act_person[follows]))]
    again = (act_person[ranked][1:] == act_person[ranked][:-1]) & (act_channel[ranked][1:] == act_channel[ranked][:-1])
    act_kind[ranked[1:][again]] = LIKE
    # A person is known from their first engagement (a click is anonymous): someone who only
    # clicked in the history liked the post the first time instead.
    newcomer = act_person >= n_people
    engages = (act_kind != CLICK) & ((act_time < anchor) | newcomer)
    known = np.zeros(total, dtype=bool)
    known[act_person[engages]] = True
    persons, first_index = np.unique(act_person, return_index=True)
    act_kind[first_index[~known[persons]]] = LIKE
    person_first = np.full(total, np.iinfo(np.int64).max)
    engaged = act_kind != CLICK
    np.minimum.at(person_first, act_person[engaged], act_time[engaged])

    # Comments and questions: sentiment and intent as the triage would find them, a text from
    # the Sandbox's generator, and our answer (none under every 29th delivery).
    rng = _rng(4)
    n = len(act_time)
    talk = (act_kind == COMMENT) | (act_kind == QUESTION)
    roll = rng.random(n)
    answered = talk & (act_delivery % 29 != 28) & (rng.random(n) < ANSWERED)
    answer = np.where(answered, act_time + rng.integers(600, 6 * 3600, n), 0)
    return History(
        sizes=sizes,
        anchor=anchor,
        channel_network=network,
        channel_followers=followers,
        post_time=post_time,
        post_idea=post_idea,
        delivery_post=delivery_post,
        delivery_channel=delivery_channel,
        delivery_published=published,
        delivery_time=delivery_time,
        delivery_rate=delivery_rate,
        person_first=person_first,
        person_order=np.argsort(person_first, kind="stable"),
        person_language=people.language,
        person_names=people.names,
        person_channels=person_channels,
        act_time=act_time,
        act_person=act_person,
        act_channel=act_channel,
        act_delivery=act_delivery,
        act_kind=act_kind,
        act_stored=talk & (rng.random(n) < 0.1),
        act_sentiment=np.where(roll < 0.55, 0, np.where(roll < 0.88, 1, 2)),
        act_text=rng.integers(0, 400, n),
        act_answer=np.where(answer >= end, 0, answer),
    )


def _normal(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()


def _where(keep: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`values` (as Python objects) where `keep`, else None (NULL)."""
    out = np.full(len(values), None, dtype=object)
    out[keep] = values[keep].astype(object)
    return out


# --- writing it (a process of its own, on the kept database) -------------------------------------


# Tables the added day writes to, parents first.
DAY_TABLES = (
    "publishing_post",
    "publishing_delivery",
    "links_shortlink",
    "inbox_conversation",
    "inbox_message",
    "audience_person",
    "audience_identity",
    "audience_engagement",
    "audience_stagetransition",
    "links_click",
    "links_conversion",
    "analytics_postmetricsnapshot",
    "analytics_channelmetricsnapshot",
)
# Loaded without their secondary indexes, which are built afterwards.
BIG_TABLES = ("audience_engagement", "inbox_message", "links_click", "analytics_postmetricsnapshot")

Column = Callable[[slice], list[Any]]


def _models() -> dict[str, Any]:
    from django.apps import apps

    return {model._meta.db_table: model for model in apps.get_models()}


class Writer:
    """Writes a table's rows: those before the history's end to the table, the added day's to
    its `bench_day_` twin. Rows are built from columns (`Column`: the values of a slice of
    rows), `CHUNK` rows per transaction."""

    def __init__(self, bulk: Any, anchor: int) -> None:
        self.bulk = bulk
        self.anchor = anchor
        self.models = _models()
        self.rows: dict[str, int] = {}

    def write(self, table: str, columns: dict[str, Column], times: np.ndarray) -> None:
        from django.db import transaction

        cut = int(np.searchsorted(times, self.anchor, side="left"))
        for target, first, last in ((table, 0, cut), (DAY_PREFIX + table, cut, len(times))):
            for begin in range(first, last, CHUNK):
                part = slice(begin, min(last, begin + CHUNK))
                made: dict[int, list[Any]] = {}  # a maker given for two columns runs once
                for make in columns.values():
                    if id(make) not in made:
                        made[id(make)] = make(part)
                values = [made[id(make)] for make in columns.values()]
                with transaction.atomic():
                    self.bulk.insert(self.models[table], list(columns), zip(*values, strict=True), table=target)
            self.rows[target] = last - first


def _twins(tables: Iterable[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            twin = DAY_PREFIX + table
            cursor.execute(f'DROP TABLE IF EXISTS "{twin}"')
            if connection.vendor == "sqlite":
                cursor.execute(f'CREATE TABLE "{twin}" AS SELECT * FROM "{table}" WHERE 0')  # noqa: S608
            else:
                cursor.execute(f'CREATE TABLE "{twin}" (LIKE "{table}")')


def _next_ids(tables: Iterable[str]) -> dict[str, int]:
    from django.db import connection

    ids = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608
            ids[table] = int(cursor.fetchone()[0]) + 1
    return ids


def generate(sizes: Sizes, anchor: dt.datetime | None = None) -> tuple[float, dict[str, Any]]:
    """Generate the benchmark workspace into the current database, run the rollup backfill and
    mark the data complete; returns (seconds, details). Ids continue after the rows already
    there, so the workspace may share the database with others."""
    from django.utils import timezone

    from stammtisch.analytics import rollups
    from stammtisch.analytics.models import RollupState
    from stammtisch.core import benchdata

    began = time.perf_counter()
    anchor_dt = (anchor or timezone.now()).replace(second=0, microsecond=0)
    benchdata.fast_sqlite_load()
    _say(f"simulating {sizes.interactions:,} interactions of {sizes.people:,} people")
    history = simulate(sizes, int(anchor_dt.timestamp()))
    _say(f"simulated in {time.perf_counter() - began:.0f} s: {json.dumps(history.summary())}")
    workspace, channels, goals = _workspace(history, anchor_dt)
    ids = _next_ids(DAY_TABLES)
    _twins(DAY_TABLES)
    bulk = benchdata.Bulk()
    writer = Writer(bulk, history.anchor)
    with benchdata.bulk_load(DAY_TABLES, BIG_TABLES, log=_say):
        Tables(history, writer, workspace, [c.pk for c in channels], goals, ids).write()
        _say(f"written in {time.perf_counter() - began:.0f} s; building the indexes, checking the foreign keys")
    _bump_sequences()
    written = time.perf_counter() - began
    _say(f"indexes built and keys checked: {written:.0f} s so far; analysing")
    _analyse()

    # The worker's first run of the rollup job (the backfill), kept with the data.
    started = time.perf_counter()
    rollups.run_due(anchor_dt)
    backfill = time.perf_counter() - started
    state = RollupState.objects.get(workspace=workspace)
    if not state.backfilled or state.last_error:
        raise RuntimeError(f"the rollup backfill failed: {state.last_error}")
    _say(f"rollup backfill ({rollups.BACKFILL_DAYS} days) in {backfill:.1f} s")
    _analyse()
    seconds = time.perf_counter() - began
    details = {
        "anchor": anchor_dt.isoformat(),
        "backfill_s": round(backfill, 1),
        "written_s": round(written, 1),
        "rows": writer.rows,
        **history.summary(),
    }
    benchdata.write_meta(META_TABLE, params(sizes), seconds, **details)
    return seconds, details


def _workspace(h: History, anchor: dt.datetime) -> tuple[Any, list[Any], dict[str, Any]]:
    """The workspace, its owner, channels, pillars, cadences and goals (through the ORM)."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from stammtisch.core.models import Membership, Workspace
    from stammtisch.core.roles import Role
    from stammtisch.networks.models import Channel
    from stammtisch.networks.sandbox.texts import TOWNS
    from stammtisch.strategy.models import Cadence, ContentPillar, Goal

    sizes = h.sizes
    user = User.objects.filter(username=USERNAME).first() or User.objects.create_user(
        USERNAME, "bench-dashboard@example.org", None
    )
    workspace = Workspace.objects.create(name="Bench: dashboard", slug=WORKSPACE_SLUG, time_zone=TIME_ZONE)
    Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
    since = anchor - dt.timedelta(days=sizes.days + 30)
    channels = []
    for c in range(sizes.channels):
        network = NETWORKS[int(h.channel_network[c])][0]
        town = TOWNS[c % len(TOWNS)] + (f" {c // len(TOWNS) + 1}" if c >= len(TOWNS) else "")
        channels.append(
            Channel.objects.create(
                workspace=workspace,
                network=network,
                handle=f"koenigsbau-{c + 1:02d}",
                display_name=f"Café Königsbau {town}",
                remote_account_id=f"{network}-account-{c + 1}",
                created_at=since,
            )
        )
    pillars = sorted({idea.pillar for idea in _ideas()})
    for name in pillars:
        ContentPillar.objects.create(workspace=workspace, name=name, target_share=100 // len(pillars))
    history = h.post_time[h.delivery_post] < h.anchor
    per_week = np.bincount(h.delivery_channel[history], minlength=sizes.channels) / (sizes.days / 7)
    for c, channel in enumerate(channels):
        Cadence.objects.create(workspace=workspace, channel=channel, posts_per_week=max(1, round(per_week[c])))
    today = timezone.localtime(anchor, workspace.tz).date()
    goals = {
        kpi: Goal.objects.create(
            workspace=workspace,
            kind=kpi.split(".")[0],
            name=name,
            kpi=kpi,
            target=target,
            start=today - dt.timedelta(days=min(begun, sizes.days)),
            deadline=today + dt.timedelta(days=ahead),
            created_by=user,
            created_at=anchor - dt.timedelta(days=min(begun, sizes.days)),
        )
        for kpi, name, target, begun, ahead in GOALS
    }
    return workspace, channels, goals


def _analyse() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")  # every row (a sample misjudges an index on the one workspace)
        elif connection.in_atomic_block:
            cursor.execute("ANALYZE")
        else:
            cursor.execute("VACUUM ANALYZE")


def _bump_sequences() -> None:
    """Sequences past the largest id of each table and its twin (rows were written with ids)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in DAY_TABLES:
            twin = DAY_PREFIX + table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), GREATEST("  # noqa: S608
                f'(SELECT COALESCE(MAX(id), 1) FROM "{table}"), (SELECT COALESCE(MAX(id), 1) FROM "{twin}")))'
            )


def _conversation_figures(where: str = "") -> None:
    """Counts, times, first response and the newest incoming message's labels of the
    conversations (all, or those matching `where`) from their messages, as the inbox keeps them."""
    from django.db import connection

    from stammtisch.core import benchdata

    benchdata.count_conversations(where)

    def newest(column: str) -> str:
        return (
            f"(SELECT m.{column} FROM inbox_message m WHERE m.conversation_id = inbox_conversation.id "  # noqa: S608
            "AND m.direction = 'in' ORDER BY m.occurred_at DESC, m.id DESC LIMIT 1)"
        )

    first_response = (
        "(SELECT MIN(m.occurred_at) FROM inbox_message m WHERE m.conversation_id = inbox_conversation.id "
        "AND m.direction = 'out')"
    )
    labels = ", ".join(f"{column} = COALESCE({newest(column)}, '')" for column in ("intent", "sentiment", "language"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE inbox_conversation SET first_response_at = {first_response}, {labels}"  # noqa: S608
            + (f" WHERE {where}" if where else "")
        )


def _remote_ids(person_ids: np.ndarray, networks: list[str]) -> list[str]:
    return [
        f"{network[:2]}{17_000_000_000 + person}" for person, network in zip(person_ids.tolist(), networks, strict=True)
    ]


class Tables:
    """Turns a `History` into the rows of the real tables, one method per table or two, parents
    before children (ids are given here, continuing after `ids`). A `Column` makes the values
    of a slice of rows, so twenty million rows are never Python objects at once."""

    def __init__(
        self,
        h: History,
        writer: Writer,
        workspace: Any,
        channel_pks: list[int],
        goals: dict[str, Any],
        ids: dict[str, int],
    ) -> None:
        self.h = h
        self.writer = writer
        self.bulk = writer.bulk
        self.ws = workspace.pk
        self.goals = goals
        self.ids = ids
        self.ideas = _ideas()
        self.channel_ids = np.array(channel_pks, dtype=np.int64)
        self.networks = np.array([NETWORKS[int(n)][0] for n in h.channel_network], dtype=object)
        self.accounts = np.array([f"{n}-account-{c + 1}" for c, n in enumerate(self.networks.tolist())], dtype=object)
        self.text = np.array([i.text for i in self.ideas], dtype=object)
        self.link = np.array([i.link for i in self.ideas], dtype=object)
        self.pillar = np.array([i.pillar for i in self.ideas], dtype=object)
        self.sentiments = np.array(["positive", "neutral", "negative"], dtype=object)
        self.languages = np.array(["de", "en"], dtype=object)

    def write(self) -> None:
        self.posts()
        self.deliveries()
        self.links()
        self.conversations()
        self.messages()
        self.engagement_figures()
        self.people()
        self.engagements()
        self.clicks()
        self.post_snapshots()
        self.channel_snapshots()
        self.cursor()

    # Column makers.

    @staticmethod
    def same(value: Any) -> Column:
        return lambda part: [value] * (part.stop - part.start)

    @staticmethod
    def of(array: np.ndarray) -> Column:
        return lambda part: array[part].tolist()

    def times(self, array: np.ndarray) -> Column:
        return lambda part: [self.bulk.timestamp(t) for t in array[part].tolist()]

    def posts(self) -> None:
        h, of = self.h, self.of
        n_posts = len(h.post_time)
        self.post_id = self.ids["publishing_post"] + np.arange(n_posts)
        done = np.bincount(h.delivery_post, weights=h.delivery_published, minlength=n_posts)
        total = np.bincount(h.delivery_post, minlength=n_posts)
        status = np.where(done == total, "published", np.where(done == 0, "failed", "partial")).astype(object)
        purpose = np.array([str(i.purpose) for i in self.ideas], dtype=object)
        columns: dict[str, Column] = {
            "id": of(self.post_id),
            "workspace_id": self.same(self.ws),
            "text": of(self.text[h.post_idea]),
            "link": of(self.link[h.post_idea]),
            "pillar": of(self.pillar[h.post_idea]),
            "purpose": of(purpose[h.post_idea]),
            "status": of(status),
            "scheduled_at": (at := self.times(h.post_time)),
            "created_at": self.times(h.post_time - 86400 - np.arange(n_posts) % 7 * 3600),
            "updated_at": at,
        }
        if "goal" in {f.name for f in self.writer.models["publishing_post"]._meta.fields}:
            # Seven posts in ten work towards a goal: a promotion's towards conversions, another
            # post's with a link towards clicks, a question's towards answered feedback.
            def goal_of(idea: Any) -> int | None:
                reason = "promotion" if idea.purpose == "promotion" else "link" if idea.link else "question"
                goal = self.goals.get(GOAL_OF[reason])
                return goal.pk if goal is not None and (reason != "question" or "?" in idea.text) else None

            goal_of_idea = np.array([goal_of(i) for i in self.ideas], dtype=object)
            columns["goal_id"] = of(_where(np.arange(n_posts) % 10 < 7, goal_of_idea[h.post_idea]))
        self.writer.write("publishing_post", columns, h.post_time)

    def deliveries(self) -> None:
        h, of, bulk = self.h, self.of, self.bulk
        self.delivery_id = self.ids["publishing_delivery"] + np.arange(len(h.delivery_post))
        keys = random.Random(f"{SEED}:keys")
        published = h.delivery_published

        def idempotency_keys(part: slice) -> list[Any]:
            made = [uuid.UUID(int=keys.getrandbits(128), version=4) for _n in range(part.stop - part.start)]
            return [key.hex for key in made] if bulk.sqlite else made

        def published_at(part: slice) -> list[str | None]:
            pairs = zip(h.delivery_time[part].tolist(), published[part].tolist(), strict=True)
            return [bulk.timestamp(t) if ok else None for t, ok in pairs]

        def remote(part: slice) -> list[str]:
            pairs = zip(self.delivery_id[part].tolist(), published[part].tolist(), strict=True)
            return [f"d{d}" if ok else "" for d, ok in pairs]

        def url(part: slice) -> list[str]:
            network = self.networks[h.delivery_channel[part]].tolist()
            pairs = zip(self.delivery_id[part].tolist(), published[part].tolist(), network, strict=True)
            return [f"https://{n}.example/p/{d}" if ok else "" for d, ok, n in pairs]

        due = h.post_time[h.delivery_post]
        self.writer.write(
            "publishing_delivery",
            {
                "id": of(self.delivery_id),
                "post_id": of(self.post_id[h.delivery_post]),
                "channel_id": of(self.channel_ids[h.delivery_channel]),
                "text": of(self.text[h.post_idea[h.delivery_post]]),
                "state": of(np.where(published, "published", "failed").astype(object)),
                "due_at": self.times(due),
                "idempotency_key": idempotency_keys,
                "published_at": published_at,
                "remote_id": remote,
                "remote_url": url,
                "attempts": of(np.where(published, 1, 5)),
                "last_error": of(np.where(published, "", "The network refused the post (bench).").astype(object)),
                "created_at": self.times(due - 86400),
            },
            due,
        )

    def links(self) -> None:
        """A short link for each delivery of a post with a link."""
        h, of = self.h, self.of
        linked = np.nonzero(self.link[h.post_idea[h.delivery_post]] != "")[0]
        self.link_id = np.full(len(h.delivery_post), -1, dtype=np.int64)
        self.link_id[linked] = self.ids["links_shortlink"] + np.arange(len(linked))
        post = h.delivery_post[linked]
        idea = h.post_idea[post]
        self.writer.write(
            "links_shortlink",
            {
                "id": of(self.link_id[linked]),
                "workspace_id": self.same(self.ws),
                "code": lambda part: [f"b{n:x}" for n in self.link_id[linked[part]].tolist()],
                "title": lambda part: [text[:60] for text in self.text[idea[part]].tolist()],
                "target": of(self.link[idea]),
                "utm_source": of(self.networks[h.delivery_channel[linked]]),
                "utm_medium": self.same("social"),
                "utm_campaign": lambda part: [p.casefold() for p in self.pillar[idea[part]].tolist()],
                "utm_content": lambda part: [f"post-{p}" for p in self.post_id[post[part]].tolist()],
                "post_id": of(self.post_id[post]),
                "delivery_id": of(self.delivery_id[linked]),
                "channel_id": of(self.channel_ids[h.delivery_channel[linked]]),
                "created_at": (created := self.times(h.post_time[post] - 3600)),
                "updated_at": created,
            },
            h.post_time[post],
        )

    def conversations(self) -> None:
        """Comments and questions come in, we answer; one conversation per delivery."""
        h, of = self.h, self.of
        talk = np.nonzero((h.act_kind == COMMENT) | (h.act_kind == QUESTION))[0]
        self.answers = talk[h.act_answer[talk] > 0]
        at = np.concatenate([h.act_time[talk], h.act_answer[self.answers]])
        act = np.concatenate([talk, self.answers])
        out = np.concatenate([np.zeros(len(talk), dtype=bool), np.ones(len(self.answers), dtype=bool)])
        order = np.argsort(at, kind="stable")
        self.message_time, self.message_act, self.message_out = at[order], act[order], out[order]
        self.message_id = self.ids["inbox_message"] + np.arange(len(order))
        incoming = ~self.message_out
        self.comment_message = np.zeros(len(h.act_time), dtype=np.int64)  # an interaction's message
        self.comment_message[self.message_act[incoming]] = self.message_id[incoming]
        self.answer_message = np.zeros(len(h.act_time), dtype=np.int64)  # our answer's message
        self.answer_message[self.message_act[self.message_out]] = self.message_id[self.message_out]

        never = np.iinfo(np.int64).max
        first = np.full(len(h.delivery_post), never)
        np.minimum.at(first, h.act_delivery[self.message_act], self.message_time)
        talked = np.nonzero(first < never)[0]
        talked = talked[np.argsort(first[talked], kind="stable")]
        self.conversation_id = np.zeros(len(h.delivery_post), dtype=np.int64)
        self.conversation_id[talked] = self.ids["inbox_conversation"] + np.arange(len(talked))
        # Their figures as the inbox keeps them (`ingest.refresh_conversations`), from the
        # messages of the history (of the added day's conversations: from theirs).
        delivery = h.act_delivery[self.message_act]
        counted = (self.message_time < h.anchor) | (first[delivery] >= h.anchor)
        incoming = counted & ~self.message_out
        answer = counted & self.message_out
        messages = np.bincount(delivery[counted], minlength=len(first))
        received = np.bincount(delivery[incoming], minlength=len(first))
        last = np.zeros(len(first), dtype=np.int64)
        np.maximum.at(last, delivery[counted], self.message_time[counted])
        last_in = np.zeros(len(first), dtype=np.int64)
        np.maximum.at(last_in, delivery[incoming], self.message_time[incoming])
        responded = np.full(len(first), never)
        np.minimum.at(responded, delivery[answer], self.message_time[answer])
        newest = np.full(len(first), -1, dtype=np.int64)  # the newest incoming message (index)
        np.maximum.at(newest, delivery[incoming], np.nonzero(incoming)[0])
        newest_act = self.message_act[np.maximum(newest, 0)]
        labelled = newest[talked] >= 0

        def label(values: Callable[[np.ndarray], np.ndarray]) -> Column:
            return lambda part: np.where(labelled[part], values(newest_act[talked[part]]), "").tolist()

        def maybe(times: np.ndarray, missing: int) -> Column:
            return lambda part: [None if t == missing else self.bulk.timestamp(t) for t in times[talked[part]].tolist()]

        self.writer.write(
            "inbox_conversation",
            {
                "id": of(self.conversation_id[talked]),
                "workspace_id": self.same(self.ws),
                "channel_id": of(self.channel_ids[h.delivery_channel[talked]]),
                "kind": self.same("comments"),
                "root_remote_id": lambda part: [f"d{d}" for d in self.delivery_id[talked[part]].tolist()],
                "delivery_id": of(self.delivery_id[talked]),
                "status": self.same("done"),
                "created_at": self.times(first[talked]),
                "message_count": of(messages[talked]),
                "incoming_count": of(received[talked]),
                "last_message_at": maybe(last, 0),
                "last_incoming_at": maybe(last_in, 0),
                "first_response_at": maybe(responded, never),
                "intent": label(self.intents),
                "sentiment": label(lambda acts: self.sentiments[h.act_sentiment[acts]]),
                "language": label(lambda acts: self.languages[h.person_language[h.act_person[acts]]]),
            },
            first[talked],
        )

        # People's ids (in the order of their first engagement) and identities (one per
        # network they use), which messages and engagements name.
        self.person_id = np.empty(len(h.person_order), dtype=np.int64)
        self.person_id[h.person_order] = self.ids["audience_person"] + np.arange(len(h.person_order))
        first_network = self.networks[h.person_channels[:, 0]]
        second = h.person_channels[:, 1]
        two = (second >= 0) & (self.networks[np.maximum(second, 0)] != first_network)
        own = (1 + two.astype(np.int64))[h.person_order]  # identities per person, in id order
        self.identity_first = np.empty(len(h.person_order), dtype=np.int64)
        self.identity_first[h.person_order] = self.ids["audience_identity"] + np.cumsum(own) - own
        self.identity_second = np.where(two, self.identity_first + 1, self.identity_first)
        self.identity_person = np.repeat(h.person_order, own)
        is_second = np.zeros(len(self.identity_person), dtype=bool)
        is_second[np.cumsum(own)[own == 2] - 1] = True
        column = np.where(is_second, 1, 0)
        self.identity_channel = h.person_channels[self.identity_person, column]

    def identity_of(self, act: np.ndarray) -> np.ndarray:
        h = self.h
        p = h.act_person[act]
        return np.where(h.act_channel[act] == h.person_channels[p, 0], self.identity_first[p], self.identity_second[p])

    def intents(self, act: np.ndarray) -> np.ndarray:
        h = self.h
        return np.where(
            h.act_kind[act] == QUESTION,
            "question",
            np.where(h.act_sentiment[act] == 2, "complaint", np.where(h.act_text[act] % 3 == 0, "praise", "other")),
        ).astype(object)

    def messages(self) -> None:
        from stammtisch.core import benchdata
        from stammtisch.core.benchdata import text_pools

        h, of = self.h, self.of
        pools = text_pools(random.Random(f"{SEED}:texts"))
        texts = np.array([pools[(language, question)] for language in ("de", "en") for question in (False, True)])
        answer_texts = np.array([benchdata.ANSWER_DE, benchdata.ANSWER_EN], dtype=object)
        handles = np.array([handle for _name, handle in h.person_names], dtype=object)
        names = np.array([name for name, _handle in h.person_names], dtype=object)
        acts, out = self.message_act, self.message_out
        person, channel = h.act_person[acts], h.act_channel[acts]
        english = h.person_language[person]

        def either(incoming: Callable[[np.ndarray], Any], outgoing: Callable[[np.ndarray], Any]) -> Column:
            """Values of a column that differs between incoming messages and our answers."""

            def make(part: slice) -> list[Any]:
                return np.where(out[part], outgoing(acts[part]), incoming(acts[part])).tolist()

            return make

        def remote(part: slice) -> list[str]:
            pairs = zip(self.message_id[part].tolist(), out[part].tolist(), strict=True)
            return [f"r{m}" if ours else f"c{m}" for m, ours in pairs]

        def parent(part: slice) -> list[str]:
            posts = self.delivery_id[h.act_delivery[acts[part]]].tolist()
            comments = self.comment_message[acts[part]].tolist()
            pairs = zip(posts, comments, out[part].tolist(), strict=True)
            return [f"c{c}" if ours else f"d{d}" for d, c, ours in pairs]

        def author(part: slice) -> list[str]:
            ours = self.accounts[channel[part]].tolist()
            theirs = _remote_ids(self.person_id[person[part]], self.networks[channel[part]].tolist())
            return [a if o else b for a, b, o in zip(ours, theirs, out[part].tolist(), strict=True)]

        self.writer.write(
            "inbox_message",
            {
                "id": of(self.message_id),
                "workspace_id": self.same(self.ws),
                "conversation_id": of(self.conversation_id[h.act_delivery[acts]]),
                "channel_id": of(self.channel_ids[channel]),
                "remote_id": remote,
                "parent_remote_id": parent,
                "kind": either(lambda a: np.where(h.act_stored[a], "reply", "comment"), lambda a: "reply"),
                "author_id": author,
                "author_handle": either(
                    lambda a: handles[h.act_person[a]],
                    lambda a: np.array([f"koenigsbau-{c + 1:02d}" for c in h.act_channel[a].tolist()], dtype=object),
                ),
                "author_name": either(lambda a: names[h.act_person[a]], lambda a: "Café Königsbau"),
                "text": either(
                    lambda a: texts[
                        h.person_language[h.act_person[a]] * 2 + (h.act_kind[a] == QUESTION), h.act_text[a]
                    ],
                    lambda a: answer_texts[h.person_language[h.act_person[a]], a % answer_texts.shape[1]],
                ),
                "occurred_at": (at := self.times(self.message_time)),
                "direction": of(np.where(out, "out", "in").astype(object)),
                "language": of(self.languages[english]),
                "sentiment": either(lambda a: self.sentiments[h.act_sentiment[a]], lambda a: ""),
                "intent": either(self.intents, lambda a: ""),
                "created_at": at,
            },
            self.message_time,
        )

    def engagement_figures(self) -> None:
        """Engagements: every interaction but link clicks (a click is anonymous), and our answers,
        in time order; their kinds and weights as the audience job stores them."""
        from stammtisch.audience import loyalty

        h = self.h
        engaged = np.nonzero(h.act_kind != CLICK)[0]
        at = np.concatenate([h.act_time[engaged], h.act_answer[self.answers]])
        act = np.concatenate([engaged, self.answers])
        answer = np.concatenate([np.zeros(len(engaged), dtype=bool), np.ones(len(self.answers), dtype=bool)])
        order = np.argsort(at, kind="stable")
        self.eng_time, self.eng_act, self.eng_answer = at[order], act[order], answer[order]
        act, answer = self.eng_act, self.eng_answer
        # Kinds: like, comment (a tenth stored as replies), share, follow; our answers.
        self.eng_kind = np.where(answer, 6, np.where(h.act_stored[act], 7, h.act_kind[act]))
        self.kind_names = np.array(
            ["like", "comment", "comment", "share", "click", "follow", "answered", "reply"], dtype=object
        )
        self.eng_talk = ~answer & ((h.act_kind[act] == COMMENT) | (h.act_kind[act] == QUESTION))
        base = np.array([loyalty.weight(str(k)) for k in self.kind_names])
        factor = np.array([loyalty.SENTIMENT_FACTOR.get(str(s), 1.0) for s in self.sentiments])
        self.eng_weight = base[self.eng_kind] * np.where(self.eng_talk, factor[h.act_sentiment[act]], 1.0)

    def people(self) -> None:
        """People with their counts, score and stage as the audience job would have them at the
        history's end (the added day's newcomers: at its end); their identities; a transition to
        "new" when first seen and one to their stage when last seen."""
        from stammtisch.audience import loyalty
        from stammtisch.audience.models import Person

        h, of = self.h, self.of
        anchor = h.anchor
        n_people = len(h.person_order)
        newcomer = h.person_first >= anchor
        everyone = h.act_person[self.eng_act]
        counted = (self.eng_time < anchor) | newcomer[everyone]
        who = everyone[counted]
        last_engaged = np.zeros(n_people, dtype=np.int64)
        np.maximum.at(last_engaged, who, self.eng_time[counted])
        age = last_engaged[who] - self.eng_time[counted]
        half_life = loyalty.HALF_LIFE.total_seconds()
        score = np.bincount(who, weights=self.eng_weight[counted] * 0.5 ** (age / half_life), minlength=n_people)
        tallies = np.bincount(who * 8 + self.eng_kind[counted], minlength=n_people * 8).reshape(-1, 8)
        seen = counted & ~self.eng_answer
        last_seen = np.zeros(n_people, dtype=np.int64)
        np.maximum.at(last_seen, everyone[seen], self.eng_time[seen])
        stages, counts = [], []
        for p in h.person_order.tolist():
            tally: dict[str, int] = {}
            for k, count in enumerate(tallies[p].tolist()):
                if count:
                    tally[self.kind_names[k]] = tally.get(self.kind_names[k], 0) + count
            figures = Person(
                score=float(score[p]),
                score_at=dt.datetime.fromtimestamp(int(last_engaged[p]), dt.UTC),
                last_seen=dt.datetime.fromtimestamp(int(last_seen[p]), dt.UTC),
                counts=tally,
            )
            moment = anchor + 86400 if newcomer[p] else anchor
            stages.append(loyalty.stage_for(figures, dt.datetime.fromtimestamp(moment, dt.UTC)))
            counts.append(json.dumps(tally))
        ordered = h.person_order
        names = np.array([name for name, _handle in h.person_names], dtype=object)
        handles = np.array([handle for _name, handle in h.person_names], dtype=object)
        stage = np.array(stages, dtype=object)
        self.writer.write(
            "audience_person",
            {
                "id": of(self.person_id[ordered]),
                "workspace_id": self.same(self.ws),
                "display_name": of(names[ordered]),
                "language": of(self.languages[h.person_language[ordered]]),
                "stage": of(stage),
                "score": of(score[ordered]),
                "score_at": self.times(last_engaged[ordered]),
                "counts": lambda part: counts[part],
                "first_seen": (first := self.times(h.person_first[ordered])),
                "last_seen": self.times(last_seen[ordered]),
                "created_at": first,
            },
            h.person_first[ordered],
        )
        person, network = self.identity_person, self.networks[self.identity_channel]
        self.writer.write(
            "audience_identity",
            {
                "id": of(self.ids["audience_identity"] + np.arange(len(person))),
                "workspace_id": self.same(self.ws),
                "person_id": of(self.person_id[person]),
                "network": of(network),
                "channel_id": of(self.channel_ids[self.identity_channel]),
                "remote_id": lambda part: _remote_ids(self.person_id[person[part]], network[part].tolist()),
                "handle": of(handles[person]),
                "display_name": of(names[person]),
                "created_at": self.times(h.person_first[person]),
            },
            h.person_first[person],
        )
        moved = stage != "new"
        at = np.concatenate([h.person_first[ordered], last_seen[ordered][moved]])
        order = np.argsort(at, kind="stable")
        who_moved = np.concatenate([self.person_id[ordered], self.person_id[ordered][moved]])
        before = np.concatenate(
            [np.full(len(ordered), "", dtype=object), np.full(int(moved.sum()), "new", dtype=object)]
        )
        after = np.concatenate([np.full(len(ordered), "new", dtype=object), stage[moved]])
        self.writer.write(
            "audience_stagetransition",
            {
                "id": of(self.ids["audience_stagetransition"] + np.arange(len(at))),
                "workspace_id": self.same(self.ws),
                "person_id": of(who_moved[order]),
                "from_stage": of(before[order]),
                "to_stage": of(after[order]),
                "at": self.times(at[order]),
            },
            at[order],
        )

    def engagements(self) -> None:
        h, of = self.h, self.of
        act, answer, talk = self.eng_act, self.eng_answer, self.eng_talk
        interaction = ~answer & ~talk  # an inbox interaction row (not written: nothing measured reads them)
        self.interaction_number = np.cumsum(interaction)
        source_id = np.where(
            answer, self.answer_message[act], np.where(talk, self.comment_message[act], self.interaction_number)
        )
        answer_at = h.act_answer[act]
        # Answered, as far as the answer is in the same part (history or added day) as the comment.
        answered = talk & (answer_at > 0) & ((answer_at < h.anchor) | (self.eng_time >= h.anchor))
        self.writer.write(
            "audience_engagement",
            {
                "id": of(self.ids["audience_engagement"] + np.arange(len(act))),
                "workspace_id": self.same(self.ws),
                "person_id": lambda part: self.person_id[h.act_person[act[part]]].tolist(),
                "identity_id": lambda part: self.identity_of(act[part]).tolist(),
                "channel_id": lambda part: self.channel_ids[h.act_channel[act[part]]].tolist(),
                "kind": lambda part: self.kind_names[self.eng_kind[part]].tolist(),
                "weight": of(self.eng_weight),
                "occurred_at": self.times(self.eng_time),
                "source": of(np.where(interaction, "interaction", "message").astype(object)),
                "source_id": of(source_id),
                "answered": of(answered),
                "sentiment": lambda part: np.where(
                    talk[part], self.sentiments[h.act_sentiment[act[part]]], ""
                ).tolist(),
                "intent": lambda part: np.where(talk[part], self.intents(act[part]), "").tolist(),
            },
            self.eng_time,
        )

    def clicks(self) -> None:
        """Link clicks (1 % by bots) and what the website reported after them."""
        h, of = self.h, self.of
        rng = _rng(6)
        clicks = np.nonzero(h.act_kind == CLICK)[0]
        click_id = self.ids["links_click"] + np.arange(len(clicks))
        delivery = h.act_delivery[clicks]
        if (self.link_id[delivery] < 0).any():
            raise RuntimeError("a click on a post without a link")
        bot = rng.random(len(clicks)) < 0.01
        roll = rng.random(len(clicks))
        devices = np.where(bot, "bot", np.where(roll < 0.7, "mobile", np.where(roll < 0.95, "desktop", "tablet")))
        referrers = np.array([REFERRERS[n] for n in self.networks.tolist()], dtype=object)

        def visitors(index: np.ndarray) -> list[str]:
            """The day's visitor hash (here: of the person and the day)."""
            people = h.act_person[clicks[index]].tolist()
            days = (h.act_time[clicks[index]] // 86400).tolist()
            return [
                f"{(p * 2654435761 + d * 40503) % (1 << 64):016x}{p:016x}" for p, d in zip(people, days, strict=True)
            ]

        self.writer.write(
            "links_click",
            {
                "id": of(click_id),
                "uid": lambda part: [f"bench{n:x}" for n in click_id[part].tolist()],
                "link_id": of(self.link_id[delivery]),
                "workspace_id": self.same(self.ws),
                "post_id": of(self.post_id[h.delivery_post[delivery]]),
                "channel_id": of(self.channel_ids[h.act_channel[clicks]]),
                "occurred_at": self.times(h.act_time[clicks]),
                "referrer_domain": of(referrers[h.act_channel[clicks]]),
                "device": of(devices.astype(object)),
                "visitor_hash": lambda part: visitors(np.arange(part.start, part.stop)),
                "is_bot": of(bot),
            },
            h.act_time[clicks],
        )
        roll = rng.random(len(clicks))
        converted = np.nonzero(~bot & (roll < 0.39))[0]
        kind = np.where(
            roll[converted] < 0.35,
            "visit",
            np.where(roll[converted] < 0.365, "signup", np.where(roll[converted] < 0.38, "reservation", "purchase")),
        ).astype(object)
        delay = np.where(kind == "visit", rng.integers(3, 600, len(converted)), rng.integers(60, 7200, len(converted)))
        at = h.act_time[clicks[converted]] + delay
        keep = at < h.anchor + 86400
        order = np.argsort(at[keep], kind="stable")
        converted, kind, at = converted[keep][order], kind[keep][order], at[keep][order]
        purchase = kind == "purchase"
        value = _where(purchase, np.char.mod("%.2f", rng.integers(500, 8000, len(converted)) / 100))
        act = clicks[converted]
        self.writer.write(
            "links_conversion",
            {
                "id": of(self.ids["links_conversion"] + np.arange(len(converted))),
                "workspace_id": self.same(self.ws),
                "kind": of(kind),
                "value": of(value),
                "currency": of(np.where(purchase, "EUR", "").astype(object)),
                "visitor_hash": lambda part: visitors(converted[part]),
                "source": self.same("snippet"),
                "click_id": of(click_id[converted]),
                "link_id": of(self.link_id[h.act_delivery[act]]),
                "post_id": of(self.post_id[h.delivery_post[h.act_delivery[act]]]),
                "channel_id": of(self.channel_ids[h.act_channel[act]]),
                "occurred_at": (when := self.times(at)),
                "created_at": when,
            },
            at,
        )

    def post_snapshots(self) -> None:
        """Each published delivery's figures at 1 hour, 24 hours, 7 and 28 days: totals since
        publishing, views from the delivery's engagement rate. Mastodon reports no views,
        Telegram no per-post figures at all."""
        h, of = self.h, self.of
        silent = [i for i, n in enumerate(self.networks.tolist()) if n in NO_POST_METRICS]
        measured = np.nonzero(h.delivery_published & ~np.isin(h.delivery_channel, silent))[0]
        age = h.act_time - h.delivery_time[h.act_delivery]
        n_deliveries, n_kinds = len(h.delivery_post), len(KINDS)
        figures = np.zeros((len(CHECKPOINTS), n_deliveries, n_kinds), dtype=np.int64)
        for n, (_name, seconds) in enumerate(CHECKPOINTS):
            inside = age <= seconds
            cell = h.act_delivery[inside] * n_kinds + h.act_kind[inside]
            figures[n] = np.bincount(cell, minlength=n_deliveries * n_kinds).reshape(-1, n_kinds)
        delivery = np.repeat(measured, len(CHECKPOINTS))
        point = np.tile(np.arange(len(CHECKPOINTS)), len(measured))
        at = h.delivery_time[delivery] + np.array([s for _n, s in CHECKPOINTS])[point] + 30
        keep = at < h.anchor + 86400
        order = np.argsort(at[keep], kind="stable")
        delivery, point, at = delivery[keep][order], point[keep][order], at[keep][order]
        got = figures[point, delivery]  # (snapshots, kinds)
        engagements = got[:, LIKE] + got[:, COMMENT] + got[:, QUESTION] + got[:, SHARE]
        views = (engagements / h.delivery_rate[delivery]).astype(np.int64) + 10 * (point + 1)
        blind = np.isin(self.networks[h.delivery_channel[delivery]], list(NO_IMPRESSIONS))
        self.writer.write(
            "analytics_postmetricsnapshot",
            {
                "id": of(self.ids["analytics_postmetricsnapshot"] + np.arange(len(at))),
                "workspace_id": self.same(self.ws),
                "delivery_id": of(self.delivery_id[delivery]),
                "observed_at": (when := self.times(at)),
                "impressions": of(_where(~blind, views)),
                "reach": of(_where(~blind, views * 7 // 10)),
                "likes": of(got[:, LIKE]),
                "comments": of(got[:, COMMENT] + got[:, QUESTION]),
                "shares": of(got[:, SHARE]),
                "clicks": of(got[:, CLICK]),
                "created_at": when,
            },
            at,
        )

    def channel_snapshots(self) -> None:
        """Each channel's followers every day at 23:00: its followers at the start plus the
        follows since."""
        h, of = self.h, self.of
        start, end = h.anchor - h.sizes.days * 86400, h.anchor + 86400
        clock = Clock(start, end)
        days = np.arange(int(clock.local_day(np.array([start]))[0]), int(clock.local_day(np.array([end - 1]))[0]) + 1)
        readings = clock.midnight(days) + 23 * 3600
        inside = (readings >= start) & (readings < end)
        days, readings = days[inside], readings[inside]
        follows = np.nonzero(h.act_kind == FOLLOW)[0]
        channels = h.sizes.channels
        channel = np.repeat(np.arange(channels), len(readings))
        followers = np.zeros(len(channel), dtype=np.int64)
        for c in range(channels):
            times = np.sort(h.act_time[follows[h.act_channel[follows] == c]])
            followers[channel == c] = h.channel_followers[c] + np.searchsorted(times, readings, side="right")
        at, day = np.tile(readings, channels), np.tile(days, channels)
        order = np.argsort(at, kind="stable")
        channel, at, day, followers = channel[order], at[order], day[order], followers[order]
        epoch = dt.date(1970, 1, 1)
        self.writer.write(
            "analytics_channelmetricsnapshot",
            {
                "id": of(self.ids["analytics_channelmetricsnapshot"] + np.arange(len(at))),
                "workspace_id": self.same(self.ws),
                "channel_id": of(self.channel_ids[channel]),
                "day": lambda part: [(epoch + dt.timedelta(days=d)).isoformat() for d in day[part].tolist()],
                "observed_at": (when := self.times(at)),
                "followers": of(followers),
                "created_at": when,
            },
            at,
        )

    def cursor(self) -> None:
        """The audience job has read everything before the history's end."""
        from stammtisch.audience.models import AudienceCursor

        anchor = self.h.anchor
        before = self.message_id[self.message_time < anchor]
        last = np.searchsorted(self.eng_time, anchor) - 1
        AudienceCursor.objects.update_or_create(
            name="inbox",
            defaults={
                "message_id": int(before[-1]) if len(before) else 0,
                "interaction_id": int(self.interaction_number[last]) if last >= 0 else 0,
                "daily_at": dt.datetime.fromtimestamp(anchor, dt.UTC),
            },
        )


# --- measuring (a process of its own, on the kept database) ---------------------------------------


@contextmanager
def clock_at(moment: dt.datetime) -> Iterator[None]:
    """Django's clock (`django.utils.timezone.now`) runs on from `moment` for the block, so the
    pages of kept data show the same days however long ago the data was generated."""
    from unittest import mock

    from django.utils import timezone

    started = time.monotonic()

    def now() -> dt.datetime:
        return moment + dt.timedelta(seconds=time.monotonic() - started)

    with mock.patch.object(timezone, "now", now):
        yield


def _timed_pages(user: Any, urls: list[str], renders: int) -> tuple[list[float], int]:
    """Server times (ms) of `renders` requests cycling through `urls` after the warm-ups, and
    the queries of one request of the first."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    client.force_login(user)

    def get(url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")

    for n in range(WARM_UP):
        get(urls[n % len(urls)])
    queries = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        get(urls[0])
    times = []
    for n in range(renders):
        started = time.perf_counter()
        get(urls[n % len(urls)])
        times.append((time.perf_counter() - started) * 1000)
    return times, queries


def _ranges() -> list[int]:
    """Every range the pages offer (`?days=`), the default first."""
    from stammtisch.analytics import dashboard

    return sorted(dashboard.RANGES, key=lambda days: days != dashboard.DEFAULT_RANGE_DAYS)


def _cycle(pages: list[str]) -> list[str]:
    """The pages with `?days=`, pages and ranges taking turns."""
    ranges = _ranges()
    count = len(pages) * len(ranges)
    return [f"{pages[n % len(pages)]}?days={ranges[n % len(ranges)]}" for n in range(count)]


def _goal_urls(workspace: Any) -> list[str]:
    from django.urls import reverse

    from stammtisch.strategy.models import Goal

    pks = Goal.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True)
    return _cycle([reverse("strategy:goal", kwargs={"slug": workspace.slug, "goal_id": pk}) for pk in pks])


def _channel_urls(workspace: Any) -> tuple[list[str], str]:
    """The channel pages (in a fixed shuffled order), or the dashboard overview when there is no
    channel page (URL `analytics:channel`)."""
    from django.urls import NoReverseMatch, reverse

    from stammtisch.networks.models import Channel

    pks = list(Channel.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True))
    random.Random(f"{SEED}:channels").shuffle(pks)
    try:
        pages = [reverse("analytics:channel", kwargs={"slug": workspace.slug, "channel_id": pk}) for pk in pks]
    except NoReverseMatch:
        return [reverse("analytics:dashboard", kwargs={"slug": workspace.slug})], "dashboard overview"
    return _cycle(pages), "channel"


def measure(renders: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test.utils import override_settings

    from stammtisch.core import benchdata
    from stammtisch.core.models import Workspace

    _params, generated_s, meta = benchdata.read_meta(META_TABLE)
    anchor = dt.datetime.fromisoformat(meta["anchor"])
    workspace = Workspace.objects.get(slug=WORKSPACE_SLUG)
    user = User.objects.get(username=USERNAME)
    vendor = connection.vendor
    _say(
        f"{vendor}: data of {meta['anchor']} ({meta['history_interactions']:,} interactions, {meta['people']:,} "
        f"people, {meta['deliveries']:,} deliveries; generated in {generated_s:.0f} s, of which the rollup "
        f"backfill {meta['backfill_s']} s); {benchdata.database_bytes() / 1e9:.2f} GB on disk"
    )
    day = Day(workspace, anchor)
    if day.left_in():  # by a run stopped half-way, or a migration that wants a new backfill
        started = time.perf_counter()
        day.take_out()
        _say(f"{vendor}: kept data put right (rollups recomputed) in {time.perf_counter() - started:.1f} s")
    with clock_at(anchor), override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False, DEBUG=False):
        goal_urls = _goal_urls(workspace)
        goal_times, goal_queries = _timed_pages(user, goal_urls, renders)
        channel_urls, page = _channel_urls(workspace)
        if page != "channel":
            _say("channel page missing (no URL analytics:channel): measured the dashboard overview instead")
        channel_times, channel_queries = _timed_pages(user, channel_urls, renders)
    _say(
        f"{vendor}: goal page p50 {benchdata.p50(goal_times)} ms, p95 {benchdata.p95(goal_times)} ms, max "
        f"{max(goal_times):.1f} ms ({goal_queries} queries; {len(goal_urls)} pages); {page} page p50 "
        f"{benchdata.p50(channel_times)} ms, p95 {benchdata.p95(channel_times)} ms, max {max(channel_times):.1f} ms "
        f"({channel_queries} queries; {len(channel_urls)} pages)"
    )
    runs = day.refresh_runs()
    _say(f"{vendor}: rollup refresh after the added day: {', '.join(f'{s:.2f}' for s in runs)} s")
    return {
        "goal_p95_ms": benchdata.p95(goal_times),
        "channel_p95_ms": benchdata.p95(channel_times),
        "rollup_refresh_s": round(statistics.median(runs), 2),
    }


class Day:
    """The added day: its rows copied into the real tables from their `bench_day_` twins, and
    taken out again."""

    def __init__(self, workspace: Any, anchor: dt.datetime) -> None:
        self.workspace = workspace
        self.anchor = anchor
        self.today = timezone_today(workspace, anchor)

    def left_in(self) -> bool:
        """Whether rows of the day (or rollups computed with them) are in the real tables, or a
        migration asked for a new backfill of the rollups (both are put right untimed)."""
        from django.db import connection

        from stammtisch.analytics.models import DailyRollup, RollupState

        state = RollupState.objects.get(workspace=self.workspace)
        if not state.backfilled or state.refreshed_at != self.anchor:
            return True
        if DailyRollup.objects.filter(day__gt=self.today).exists():
            return True
        with connection.cursor() as cursor:
            for table in DAY_TABLES:
                cursor.execute(
                    f'SELECT 1 FROM "{table}" WHERE id IN (SELECT id FROM "{DAY_PREFIX}{table}") LIMIT 1'  # noqa: S608
                )
                if cursor.fetchone():
                    return True
        return False

    def put_in(self) -> dict[str, int]:
        """Copy the day's rows into the real tables (parents first), as the inbox sync, the click
        import, the audience job and the metrics job would have stored them; the conversations
        they touch get their counts, first response and labels."""
        from django.db import connection, transaction

        counts = {}
        with transaction.atomic(), connection.cursor() as cursor:
            for table in DAY_TABLES:
                twin = DAY_PREFIX + table
                described = connection.introspection.get_table_description(cursor, twin)
                columns = ", ".join(f'"{column.name}"' for column in described)
                cursor.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{twin}"')  # noqa: S608
                counts[table] = cursor.rowcount
            _conversation_figures(f"id IN (SELECT conversation_id FROM {DAY_PREFIX}inbox_message)")  # noqa: S608
        return counts

    def take_out(self) -> None:
        """Delete the day's rows, and the rows of other tables pointing at them (what the rollup
        job derived from them: rollups per post), then recompute the rollups as of the
        history's end, so the kept data is as generated."""
        from django.apps import apps
        from django.db import connection, models, transaction

        from stammtisch.analytics import rollups
        from stammtisch.analytics.models import DailyRollup, RollupState

        by_table = _models()
        with transaction.atomic(), connection.cursor() as cursor:
            existing = set(connection.introspection.table_names(cursor))
            for table in reversed(DAY_TABLES):
                twin = f'(SELECT id FROM "{DAY_PREFIX}{table}")'  # noqa: S608
                model = by_table[table]
                pointing = [
                    (r.related_model._meta.db_table, r.field.column, r.on_delete)
                    for r in model._meta.related_objects
                    if not r.many_to_many
                ]
                pointing += [
                    (f.remote_field.through._meta.db_table, f.m2m_column_name(), models.CASCADE)
                    for f in model._meta.many_to_many
                ]
                for other, column, on_delete in pointing:
                    if other in DAY_TABLES or other not in existing:
                        continue  # (a day's table is emptied in its turn)
                    if on_delete is models.CASCADE:
                        cursor.execute(f'DELETE FROM "{other}" WHERE "{column}" IN {twin}')  # noqa: S608
                    elif on_delete is models.SET_NULL:
                        cursor.execute(f'UPDATE "{other}" SET "{column}" = NULL WHERE "{column}" IN {twin}')  # noqa: S608
                cursor.execute(f'DELETE FROM "{table}" WHERE id IN {twin}')  # noqa: S608
            _conversation_figures(f"id IN (SELECT conversation_id FROM {DAY_PREFIX}inbox_message)")  # noqa: S608
            DailyRollup.objects.filter(workspace=self.workspace, day__gt=self.today).delete()
            try:  # week and month rollups, where the app has them
                periods = apps.get_model("analytics", "PeriodRollup")
            except LookupError:
                pass
            else:
                periods.objects.filter(workspace=self.workspace, start__gt=self.today).delete()
        RollupState.objects.filter(workspace=self.workspace).update(next_run_at=self.anchor)
        rollups.run_due(self.anchor)
        state = RollupState.objects.get(workspace=self.workspace)
        if state.refreshed_at != self.anchor or state.last_error:
            raise RuntimeError(f"the rollups could not be put back: {state.last_error}")

    def refresh_runs(self) -> list[float]:
        """Put the day in, time the rollup job at the day's end `REFRESH_RUNS` times, take the
        day out again."""
        from stammtisch.analytics import rollups
        from stammtisch.analytics.models import RollupState

        end = self.anchor + dt.timedelta(days=1)
        runs = []
        try:
            _say(f"added day: {json.dumps(self.put_in())}")
            for _n in range(REFRESH_RUNS):
                RollupState.objects.filter(workspace=self.workspace).update(next_run_at=self.anchor)
                started = time.perf_counter()
                rollups.run_due(end)
                runs.append(time.perf_counter() - started)
                state = RollupState.objects.get(workspace=self.workspace)
                if state.refreshed_at != end or state.last_error:
                    raise RuntimeError(f"the rollup job did not refresh the workspace: {state.last_error}")
        finally:
            self.take_out()
        return runs


def timezone_today(workspace: Any, moment: dt.datetime) -> dt.date:
    from django.utils import timezone

    return timezone.localtime(moment, workspace.tz).date()


def main(argv: list[str]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stammtisch.settings")
    django.setup()
    if argv[0] == "generate":
        seconds, _details = generate(Sizes(*(int(a) for a in argv[1:5])))
        print(json.dumps({"seconds": round(seconds, 1)}))
    elif argv[0] == "measure":
        print(json.dumps(measure(int(argv[1]))))
    else:
        raise SystemExit(f"unknown step {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
