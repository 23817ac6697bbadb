"""`stammtisch bench people [--database URL] [--people N --interactions M]`: people at scale.

1. A kept database: a SQLite file `DATA_DIR/bench/people-N-M.sqlite3` (the default), or a
   database `stammtisch_bench_people_N_M` on the PostgreSQL server of `--database`. It holds one
   workspace with N people and M interactions (their `Engagement` rows) and is reused by the next
   run when its recorded parameters (and the generator's version) match; otherwise it is
   dropped and generated again. `migrate` runs every time (quick when nothing changed).
2. Generation (once; its time is printed on standard error): the Sandbox's persona model
   (`personas._generate`: German and English names, handles, languages, interests, activity
   profiles and habits) extended to N people on six channels; each person gets a share of the M
   interactions from their habits (heavy-tailed: a few regulars, many one-time likers), inside an
   active period of the last year (so some are lapsed or at risk), at hours of their activity
   profile: likes, comments (texts from the Sandbox's comment generator), questions, shares,
   follows and our answers, with the inbox messages behind comments and answers. Scores, counts
   and stages come from the loyalty module's weights and rules. Rows are written in bulk
   (executemany on SQLite, COPY on PostgreSQL), never by ORM saves.
3. Measured, with Django's test client signed in as the workspace's owner (server time of the
   whole stack, as `stammtisch bench calendar` does): the profile of `--renders` people, each the
   author of a random interaction (busy people are opened more often), and `--renders` requests
   of the people list filtered by stage, list (advocates, at risk) or saved segment (`SEGMENTS`,
   created in the kept workspace). `profile_p95_ms` target 200, `list_p95_ms` target 300.
4. Loyalty while events arrive: `--events` new inbox rows (likes, shares, follows and comments
   of known people, 1,000 at a time) are fed through the audience consumption job
   (`audience.consume.consume`, what the worker runs); `loyalty_updates_per_second` is the people
   updated per second of that job. Afterwards the rows, engagements and people's figures are put
   back, so the kept data stays as generated.

Without `--database`: SQLite, and PostgreSQL too when STAMMTISCH_BENCH_POSTGRES (or the default
server URL) answers. One JSON line per database: `people`, `interactions`, `profile_p95_ms`,
`list_p95_ms`, `loyalty_updates_per_second` (SQLite first).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import json
import math
import os
import random
import sys
import time
from array import array
from collections.abc import Iterator
from typing import Any

from stammtisch.core.benchdata import ANSWER_DE, ANSWER_EN

DEFAULT_PEOPLE = 1_000_000
DEFAULT_INTERACTIONS = 20_000_000
DEFAULT_RENDERS = 50
DEFAULT_EVENTS = 20_000
WARM_UP = 3
SEED = 5
# Bump when the generated data changes shape: kept databases of an older version are regenerated.
GENERATOR_VERSION = 1
META_TABLE = "bench_people_meta"

CHUNK = 10_000  # people generated and written per transaction
DAYS = 366  # the generated history: the last year
WORKSPACE_SLUG = "bench-people"
USERNAME = "bench-people"
# (network, weight): where a café's audience is.
CHANNELS = [("instagram", 35), ("facebook", 25), ("mastodon", 10), ("bluesky", 10), ("threads", 10), ("linkedin", 10)]
SECOND_IDENTITY = 0.12  # share of people seen on two networks
TAGS = ["Stammgast", "Messe 2025", "vegan", "Presse", "Kooperation"]
TAGGED = 0.03
# Saved segments the list is also opened with (`?segment=ID`), created in the kept workspace.
SEGMENTS = [
    ("Regulars seen this month", {"stage": "loyal", "seen": "30"}),
    ("English-speaking advocates", {"stage": "advocate", "language": "en"}),
    ("Loyal on Mastodon", {"stage": "loyal", "network": "mastodon"}),
]
LIST_QUERIES = [
    "?stage=loyal",
    "?stage=engaged",
    "?show=advocates",
    "?show=at_risk",
    "?stage=new",
    "?stage=lapsed",
    "?stage=loyal&language=en",
    "?stage=engaged&page=2",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        help="'sqlite' (a file under the data directory) or a PostgreSQL server URL such as "
        "postgres://postgres@127.0.0.1:5432/postgres (a database named after the sizes is kept there); "
        "without it: SQLite, and PostgreSQL too when STAMMTISCH_BENCH_POSTGRES (or that URL) answers",
    )
    parser.add_argument("--people", type=int, default=DEFAULT_PEOPLE, help="people (default 1,000,000)")
    parser.add_argument(
        "--interactions", type=int, default=DEFAULT_INTERACTIONS, help="interactions (default 20,000,000)"
    )
    parser.add_argument("--renders", type=int, default=DEFAULT_RENDERS, help="timed requests per page (default 50)")
    parser.add_argument(
        "--events", type=int, help="inbox rows fed to the consumption job (default 20,000, at most a tenth of M)"
    )


def run(options: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from stammtisch.core import benchdata

    if options.interactions < options.people or options.people < 1:
        raise SystemExit(
            "stammtisch bench people: --interactions must be at least --people (every person did something)"
        )
    if options.events is None:
        options.events = min(DEFAULT_EVENTS, max(100, options.interactions // 10))
    for database in benchdata.databases(options.database):
        yield measure_in(database, options)


def _say(text: str) -> None:
    sys.stderr.write(f"stammtisch bench people: {text}\n")
    sys.stderr.flush()


def params(people: int, interactions: int) -> str:
    return json.dumps({"people": people, "interactions": interactions, "seed": SEED, "version": GENERATOR_VERSION})


def measure_in(database: str, options: argparse.Namespace) -> dict[str, Any]:
    """Prepare (or reuse) the kept database on `database`, then measure in a process of its own."""
    from stammtisch.core import benchdata

    people, interactions = options.people, options.interactions
    kept = benchdata.kept_database(
        database,
        file_name=f"people-{people}-{interactions}.sqlite3",
        database_name=f"stammtisch_bench_people_{people}_{interactions}",
        meta_table=META_TABLE,
        wanted=params(people, interactions),
    )
    env = benchdata.child_env(kept.url)
    benchdata.migrate(env)
    if kept.ready:
        _say(f"{kept.vendor}: reusing the kept data ({people:,} people, {interactions:,} interactions)")
    else:
        _say(f"{kept.vendor}: generating {people:,} people and {interactions:,} interactions (kept for the next run)")
        step = ["stammtisch.audience.bench_people", "generate", str(people), str(interactions)]
        _say(f"{kept.vendor}: generated in {benchdata.run_step(step, env)['seconds']:.0f} s")
    args = ["measure", str(options.renders), str(options.events)]
    return benchdata.run_step(["stammtisch.audience.bench_people", *args], env)


# --- inside the benchmark's database (a process of its own) -------------------------------------


def generate(people: int, interactions: int) -> float:
    """Write the benchmark workspace; returns the seconds it took."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.utils import timezone

    from stammtisch.audience import loyalty
    from stammtisch.audience.models import AudienceCursor, Engagement, Identity, Person, StageTransition, Tag
    from stammtisch.core.benchdata import Bulk, activity, count_conversations, fast_sqlite_load, text_pools
    from stammtisch.core.models import Membership, Workspace
    from stammtisch.core.roles import Role
    from stammtisch.inbox.models import Conversation, Message
    from stammtisch.networks.models import Channel
    from stammtisch.networks.sandbox import personas

    began = time.perf_counter()
    bulk = Bulk()
    now_dt = timezone.now().replace(microsecond=0)
    now = int(now_dt.timestamp())
    fast_sqlite_load()

    user = User.objects.create_user(USERNAME, "bench-people@example.org", None)
    workspace = Workspace.objects.create(name="Bench: people", slug=WORKSPACE_SLUG)
    Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
    channels = [
        Channel.objects.create(
            workspace=workspace,
            network=network,
            handle="cafe.koenigsbau",
            display_name="Café Königsbau",
            remote_account_id=f"{network}-account-1",
        )
        for network, _weight in CHANNELS
    ]
    tags = [Tag.objects.create(workspace=workspace, name=name) for name in TAGS]
    ws = workspace.pk

    # One post a day per channel, its comments one conversation; every 29th was never answered.
    midnight = now - now % 86400
    first_day = midnight - (DAYS - 1) * 86400

    def conversation_of(channel_index: int, at: int) -> int:
        return channel_index * DAYS + min(DAYS - 1, max(0, (at - first_day) // 86400)) + 1

    def answered_conversation(conversation: int) -> bool:
        return conversation % 29 != 0

    with transaction.atomic():
        bulk.insert(
            Conversation,
            ["id", "workspace_id", "channel_id", "kind", "root_remote_id", "status", "first_response_at"],
            (
                (
                    c * DAYS + d + 1,
                    ws,
                    channel.pk,
                    Conversation.Kind.COMMENTS,
                    f"post-{c * DAYS + d + 1}",
                    Conversation.Status.DONE,
                    bulk.timestamp(first_day + d * 86400 + 3600) if answered_conversation(c * DAYS + d + 1) else None,
                )
                for c, channel in enumerate(channels)
                for d in range(DAYS)
            ),
        )

    # Pass 1: each person's activity (habits times a heavy-tailed factor), for their share of M.
    chunks = range(0, people, CHUNK)
    weights = array("d")
    for start in chunks:
        spec_rng = random.Random(f"{SEED}:people:{start}")
        factor_rng = random.Random(f"{SEED}:activity:{start}")
        for index in range(start, min(people, start + CHUNK)):
            spec = personas._generate(spec_rng, index)
            weights.append(activity(spec.habits) * min(100.0, factor_rng.lognormvariate(0.0, 1.3)))
    total = sum(weights)
    spare = interactions - people
    counts = array("q", (1 + int(w * spare / total) for w in weights))
    for index in random.Random(f"{SEED}:rest").sample(range(people), interactions - sum(counts)):
        counts[index] += 1

    # Pass 2: the people, identities, interactions, messages, stage history and tags.
    rng = random.Random(f"{SEED}:texts")
    pools = text_pools(rng)
    profiles = {
        name: tuple(list(itertools.accumulate(hours)) for hours in pair)
        for name, pair in personas.ACTIVITY_PROFILES.items()
    }
    network_weights = [w for _n, w in CHANNELS]
    half_life = loyalty.HALF_LIFE.total_seconds()
    weights_of = {kind: loyalty.weight(kind) for kind in loyalty.WEIGHTS}
    ids = {"identity": 0, "engagement": 0, "message": 0, "interaction": 0, "transition": 0, "tag": 0}
    year = DAYS * 86400
    for start in chunks:
        spec_rng = random.Random(f"{SEED}:people:{start}")
        life = random.Random(f"{SEED}:life:{start}")
        person_rows: list[tuple[Any, ...]] = []
        identity_rows: list[tuple[Any, ...]] = []
        engagement_rows: list[tuple[Any, ...]] = []
        message_rows: list[tuple[Any, ...]] = []
        transition_rows: list[tuple[Any, ...]] = []
        tag_rows: list[tuple[Any, ...]] = []
        for index in range(start, min(people, start + CHUNK)):
            spec = personas._generate(spec_rng, index)
            person_id = index + 1
            n = counts[index]
            # Identities: one network, some people two.
            chosen = [life.choices(range(len(CHANNELS)), weights=network_weights)[0]]
            if life.random() < SECOND_IDENTITY:
                chosen.append((chosen[0] + life.randrange(1, len(CHANNELS))) % len(CHANNELS))
            mine = []
            for c in chosen:
                ids["identity"] += 1
                remote_id = str(17_000_000_000 + person_id * 10 + c)
                mine.append((ids["identity"], c, remote_id))
                identity_rows.append(
                    (ids["identity"], ws, person_id, CHANNELS[c][0], channels[c].pk, remote_id, spec.handle, spec.name)
                )
            # Active period inside the last year; times at the hours of the persona's profile.
            begins = now - life.random() * year
            length = min(now - begins, life.expovariate(1 / (60 * 86400)) + 86400 * life.random())
            weekday, weekend = profiles[spec.active_profile]
            times = []
            for _ in range(n):
                day = int((begins + life.random() * length) // 86400)  # days since 1970-01-01, a Thursday
                hours = weekend if (day + 3) % 7 >= 5 else weekday
                hour = min(23, bisect.bisect(hours, life.random() * hours[-1]))
                # Local hours (CET: UTC + 1), stored in UTC.
                times.append(min(now - 60, day * 86400 - 3600 + hour * 3600 + life.randrange(3600)))
            times.sort()
            habits = spec.habits
            kinds = ("like", "comment", "question", "share", "follow")
            kind_weights = list(itertools.accumulate(habits[k] for k in kinds))
            followed = False
            tally: dict[str, int] = {}
            scored: list[tuple[int, float]] = []
            k = 0
            while k < n:
                at = times[k]
                identity_id, c, remote_id = mine[0] if len(mine) == 1 or life.random() < 0.7 else mine[1]
                channel_id = channels[c].pk
                kind = kinds[bisect.bisect(kind_weights, life.random() * kind_weights[-1])]
                if kind == "follow" and followed:
                    kind = "like"
                followed = followed or kind == "follow"
                if kind in ("comment", "question"):
                    roll = life.random()
                    sentiment = "positive" if roll < 0.55 else ("neutral" if roll < 0.88 else "negative")
                    intent = (
                        "question"
                        if kind == "question"
                        else ("complaint" if sentiment == "negative" else ("praise" if roll < 0.3 else "other"))
                    )
                    stored = "reply" if life.random() < 0.1 else "comment"
                    conversation = conversation_of(c, at)
                    answered = answered_conversation(conversation) and k + 1 < n and life.random() < 0.7
                    ids["message"] += 1
                    comment_id = ids["message"]
                    text = life.choice(pools[(spec.language, kind == "question")])
                    message_rows.append(
                        (comment_id, ws, conversation, channel_id, f"c{comment_id}", f"post-{conversation}", stored)  # noqa: RUF005
                        + (remote_id, spec.handle, spec.name, text, bulk.timestamp(at), "in", spec.language)
                        + (sentiment, intent, bulk.timestamp(at))
                    )
                    weight = loyalty.weight(stored, sentiment)
                    ids["engagement"] += 1
                    engagement_rows.append(
                        (ids["engagement"], ws, person_id, identity_id, channel_id, stored, weight, bulk.timestamp(at))  # noqa: RUF005
                        + ("message", comment_id, answered, sentiment, intent)
                    )
                    tally[stored] = tally.get(stored, 0) + 1
                    scored.append((at, weight))
                    k += 1
                    if answered:  # our answer takes the next slot
                        answer_at = min(now - 30, at + life.randrange(600, 6 * 3600))
                        ids["message"] += 1
                        answer = life.choice(ANSWER_DE if spec.language == "de" else ANSWER_EN)
                        message_rows.append(
                            (ids["message"], ws, conversation, channel_id, f"r{ids['message']}", f"c{comment_id}")  # noqa: RUF005
                            + ("reply", channels[c].remote_account_id, "cafe.koenigsbau", "Café Königsbau", answer)
                            + (bulk.timestamp(answer_at), "out", spec.language, "", "", bulk.timestamp(answer_at))
                        )
                        ids["engagement"] += 1
                        engagement_rows.append(
                            (ids["engagement"], ws, person_id, identity_id, channel_id, "answered")  # noqa: RUF005
                            + (weights_of["answered"], bulk.timestamp(answer_at), "message", ids["message"])
                            + (False, "", "")
                        )
                        tally["answered"] = tally.get("answered", 0) + 1
                        scored.append((answer_at, weights_of["answered"]))
                        k += 1
                    continue
                ids["interaction"] += 1
                ids["engagement"] += 1
                engagement_rows.append(
                    (ids["engagement"], ws, person_id, identity_id, channel_id, kind, weights_of[kind])  # noqa: RUF005
                    + (bulk.timestamp(at), "interaction", ids["interaction"], False, "", "")
                )
                tally[kind] = tally.get(kind, 0) + 1
                scored.append((at, weights_of[kind]))
                k += 1
            # The loyalty score as the consumer would have moved it (loyalty.add, in time order).
            scored.sort()
            score, score_at = 0.0, scored[0][0]
            for at, weight in scored:
                score = max(0.0, score * math.pow(0.5, (at - score_at) / half_life) + weight)
                score_at = at
            active = [at for at, _w in scored]
            first_seen, last_seen = times[0], times[-1]
            person = Person(
                score=score,
                score_at=dt.datetime.fromtimestamp(score_at, dt.UTC),
                last_seen=dt.datetime.fromtimestamp(last_seen, dt.UTC),
                counts=tally,
            )
            stage = loyalty.stage_for(person, now_dt)
            person_rows.append(
                (person_id, ws, spec.name, spec.language, stage, score, bulk.timestamp(score_at))  # noqa: RUF005
                + (json.dumps(tally), bulk.timestamp(first_seen), bulk.timestamp(last_seen), bulk.timestamp(active[0]))
            )
            ids["transition"] += 1
            transition_rows.append((ids["transition"], ws, person_id, "", "new", bulk.timestamp(first_seen)))
            if stage != "new":
                ids["transition"] += 1
                transition_rows.append((ids["transition"], ws, person_id, "new", stage, bulk.timestamp(last_seen)))
            if life.random() < TAGGED:
                ids["tag"] += 1
                tag_rows.append((ids["tag"], person_id, life.choice(tags).pk))
        with transaction.atomic():
            person_columns = ["id", "workspace_id", "display_name", "language", "stage", "score", "score_at"]
            person_columns += ["counts", "first_seen", "last_seen", "created_at"]
            bulk.insert(Person, person_columns, person_rows)
            bulk.insert(
                Identity,
                ["id", "workspace_id", "person_id", "network", "channel_id", "remote_id", "handle", "display_name"],
                identity_rows,
            )
            bulk.insert(
                Message,
                ["id", "workspace_id", "conversation_id", "channel_id", "remote_id", "parent_remote_id", "kind"]  # noqa: RUF005
                + ["author_id", "author_handle", "author_name", "text", "occurred_at", "direction", "language"]
                + ["sentiment", "intent", "created_at"],
                message_rows,
            )
            bulk.insert(
                Engagement,
                ["id", "workspace_id", "person_id", "identity_id", "channel_id", "kind", "weight", "occurred_at"]  # noqa: RUF005
                + ["source", "source_id", "answered", "sentiment", "intent"],
                engagement_rows,
            )
            bulk.insert(
                StageTransition, ["id", "workspace_id", "person_id", "from_stage", "to_stage", "at"], transition_rows
            )
            bulk.insert(Person.tags.through, ["id", "person_id", "tag_id"], tag_rows)
        if start // CHUNK % 10 == 9:
            _say(f"{start + CHUNK:,} people, {ids['engagement']:,} interactions, {time.perf_counter() - began:.0f} s")

    count_conversations()
    # The consumer has read everything generated; the inbox's own like/share/follow rows are not
    # kept (nothing measured reads them), so new ones are numbered after the generated ids.
    AudienceCursor.objects.update_or_create(
        name="inbox",
        defaults={"message_id": ids["message"], "interaction_id": ids["interaction"], "daily_at": now_dt},
    )
    with connection.cursor() as cursor:
        if bulk.sqlite:
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = 'inbox_interaction'")
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('inbox_interaction', %s)", [ids["interaction"]]
            )
        else:
            for model in (Conversation, Message, Person, Identity, Engagement, StageTransition, Person.tags.through):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT MAX(id) FROM \"{table}\"))"  # noqa: S608
                )
            cursor.execute("SELECT setval(pg_get_serial_sequence('inbox_interaction', 'id'), %s)", [ids["interaction"]])
        cursor.execute("ANALYZE" if bulk.sqlite else "VACUUM ANALYZE")
        seconds = time.perf_counter() - began
        cursor.execute(f"CREATE TABLE {META_TABLE} (params TEXT, seconds REAL)")
        cursor.execute(f"INSERT INTO {META_TABLE} VALUES (%s, %s)", [params(people, interactions), seconds])  # noqa: S608
    return seconds


def measure(renders: int, events: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db.models import Max
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    from stammtisch.audience.models import Engagement, Person, Segment
    from stammtisch.core.benchdata import p95
    from stammtisch.core.models import Workspace

    workspace = Workspace.objects.get(slug=WORKSPACE_SLUG)
    user = User.objects.get(username=USERNAME)
    rng = random.Random(f"{SEED}:measure")
    last = Engagement.objects.aggregate(n=Max("pk"))["n"] or 0
    picks = [rng.randint(1, last) for _ in range(renders + WARM_UP)]
    authors = dict(Engagement.objects.filter(pk__in=picks).values_list("pk", "person_id"))
    people = [authors[pk] for pk in picks if pk in authors]
    list_url = reverse("audience:list", kwargs={"slug": workspace.slug})
    segment_ids = [
        Segment.objects.get_or_create(workspace=workspace, name=name, defaults={"filters": filters})[0].pk
        for name, filters in SEGMENTS
    ]
    with override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False, DEBUG=False):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)

        def timed(url: str) -> float:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (url, response.status_code)
            return elapsed

        profile_times = [
            timed(reverse("audience:person", kwargs={"slug": workspace.slug, "person_id": person_id}))
            for person_id in people
        ][WARM_UP:]
        queries = [*LIST_QUERIES, *(f"?segment={pk}" for pk in segment_ids)]
        list_times = [timed(list_url + queries[n % len(queries)]) for n in range(renders + WARM_UP)][WARM_UP:]
    updated, seconds = feed(workspace, events, rng)
    return {
        "people": Person.objects.filter(workspace=workspace).count(),
        "interactions": Engagement.objects.filter(workspace=workspace).count(),
        "profile_p95_ms": p95(profile_times),
        "list_p95_ms": p95(list_times),
        "loyalty_updates_per_second": round(updated / seconds, 1) if seconds > 0 else 0.0,
    }


def feed(workspace: Any, events: int, rng: random.Random) -> tuple[int, float]:
    """Feed `events` inbox rows of known people through the consumption job, 1,000 at a time.
    Returns (people updated, summed over rounds; seconds of the job). Everything it changed is
    put back afterwards."""
    from django.db import transaction
    from django.db.models import Max
    from django.utils import timezone

    from stammtisch.audience import consume
    from stammtisch.audience.models import AudienceCursor, Engagement, Identity, Person, StageTransition
    from stammtisch.inbox.models import Conversation, Interaction, Message

    top = {
        model: model.objects.aggregate(n=Max("pk"))["n"] or 0
        for model in (Engagement, StageTransition, Person, Identity, Message, Interaction)
    }
    cursor = AudienceCursor.objects.get(name=consume.CURSOR)
    start_cursor = (cursor.message_id, cursor.interaction_id)
    picks = sorted({rng.randint(1, top[Identity]) for _ in range(events)})
    authors = list(
        Identity.objects.filter(pk__in=picks).values(
            "person_id", "channel_id", "remote_id", "handle", "display_name", "channel__remote_account_id"
        )
    )
    rng.shuffle(authors)
    fields = [*consume.PERSON_FIELDS, "pk"]
    saved = list(Person.objects.filter(pk__in={a["person_id"] for a in authors}).values(*fields))
    newest = dict(
        Conversation.objects.filter(workspace=workspace)
        .values("channel_id")
        .annotate(n=Max("pk"))
        .values_list("channel_id", "n")
    )
    updated, seconds = 0, 0.0
    last_engagement = top[Engagement]
    try:
        for begin in range(0, len(authors), consume.BATCH):
            now = timezone.now()
            interactions, messages = [], []
            for n, author in enumerate(authors[begin : begin + consume.BATCH]):
                occurred = now - dt.timedelta(seconds=rng.randrange(1, 600))
                common = {"workspace": workspace, "channel_id": author["channel_id"], "occurred_at": occurred}
                who = {"author_id": author["remote_id"], "author_handle": author["handle"]}
                if rng.random() < 0.15:
                    messages.append(
                        Message(
                            **common,
                            **who,
                            author_name=author["display_name"],
                            conversation_id=newest[author["channel_id"]],
                            remote_id=f"bench-{begin + n}-{rng.getrandbits(32)}",
                            kind="comment",
                            text="Bench: wie immer lecker!",
                        )
                    )
                else:
                    kind = rng.choice(["like", "like", "like", "share", "follow"])
                    interactions.append(
                        Interaction(
                            **common, **who, author_name=author["display_name"], kind=kind,
                            remote_id=f"bench-{begin + n}-{rng.getrandbits(32)}",
                        )
                    )  # fmt: skip
            with transaction.atomic():  # what the inbox sync writes (not timed)
                Message.objects.bulk_create(messages)
                Interaction.objects.bulk_create(interactions)
            started = time.perf_counter()
            consume.consume(now)
            seconds += time.perf_counter() - started
            touched = list(Engagement.objects.filter(pk__gt=last_engagement).values_list("pk", "person_id"))
            updated += len({person_id for _pk, person_id in touched})
            last_engagement = max([last_engagement, *(pk for pk, _person_id in touched)])
    finally:
        with transaction.atomic():
            Engagement.objects.filter(pk__gt=top[Engagement]).delete()
            StageTransition.objects.filter(pk__gt=top[StageTransition]).delete()
            Identity.objects.filter(pk__gt=top[Identity]).delete()
            Person.objects.filter(pk__gt=top[Person]).delete()
            Message.objects.filter(pk__gt=top[Message]).delete()
            Interaction.objects.filter(pk__gt=top[Interaction]).delete()
            consume.update_people([Person(**row) for row in saved])
            AudienceCursor.objects.filter(name=consume.CURSOR).update(
                message_id=start_cursor[0], interaction_id=start_cursor[1]
            )
    return updated, seconds


def main(argv: list[str]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stammtisch.settings")
    django.setup()
    if argv[0] == "generate":
        print(json.dumps({"seconds": round(generate(int(argv[1]), int(argv[2])), 1)}))
    elif argv[0] == "measure":
        print(json.dumps(measure(int(argv[1]), int(argv[2]))))
    else:
        raise SystemExit(f"unknown step {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
