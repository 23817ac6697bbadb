"""`stammtisch bench ingest [--database URL] [--posts N] [--channels N]`: inbox ingestion speed.

One run, in a throwaway database (the helpers of `stammtisch bench publish`: a temporary SQLite
file by default, or a temporary database on the PostgreSQL server of `--database`):

1. Setup (not timed): a workspace with `--channels` Sandbox channels, each with `--posts` posts
   published three hours apart, the last 4 days back on the Sandbox clock, so the simulated
   audience has done everything it will do with them (comments, questions, answers, likes,
   shares, follows, clicks).
2. Timed: the inbox sync job (`inbox.sync.run_due`, the worker's code) reads every channel from
   an empty cursor to the end: Sandbox `fetch_activity`, threading, dedup, triage (whatever
   `stammtisch.inbox.triage` provides; `"triage": false` in the output when it is missing) and
   the inserts. Then every cursor is reset and the same is done again, so every event is
   delivered twice.
3. The count: `events` is the number of distinct events the Sandbox delivered, `per_second`
   those events per second of step 2 (each delivered twice), `duplicates_stored` the stored
   messages and interactions beyond one per distinct event (must be 0), `lost` the distinct
   events not stored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

DEFAULT_POSTS = 60
DEFAULT_CHANNELS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        help="'sqlite' (a temporary file) or a PostgreSQL server URL such as "
        "postgres://postgres@127.0.0.1:5432/postgres (a temporary database is created and dropped); "
        "without it: SQLite, and PostgreSQL too when STAMMTISCH_BENCH_POSTGRES (or that URL) answers",
    )
    parser.add_argument("--posts", type=int, default=DEFAULT_POSTS, help="Sandbox posts per channel (default 60)")
    parser.add_argument("--channels", type=int, default=DEFAULT_CHANNELS, help="Sandbox channels (default 10)")


def run(options: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from stammtisch.publishing.benchmarks.publish import DEFAULT_POSTGRES, postgres_answers

    if options.database:
        yield measure_in(options.database, options.channels, options.posts)
        return
    yield measure_in("sqlite", options.channels, options.posts)
    server = os.environ.get("STAMMTISCH_BENCH_POSTGRES", DEFAULT_POSTGRES)
    if postgres_answers(server):
        yield measure_in(server, options.channels, options.posts)


def measure_in(database: str, channels: int, posts: int) -> dict[str, Any]:
    """One run in a throwaway database on `database` ("sqlite" or a PostgreSQL server URL)."""
    from stammtisch.publishing.benchmarks.publish import _python, temporary_database

    with temporary_database(database) as (url, data_dir):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "STAMMTISCH_DATA_DIR": data_dir,
            "STAMMTISCH_SANDBOX_FAULT_RATE": "0",
            "STAMMTISCH_SANDBOX_REACTIONS": "true",
            "STAMMTISCH_LOG_LEVEL": "WARNING",
        }
        _python(["-m", "stammtisch.cli", "migrate", "-v0"], env)
        out = _python(["-m", "stammtisch.inbox.bench_ingest", str(channels), str(posts)], env)
    result = json.loads(out.strip().splitlines()[-1])
    vendor = "sqlite" if database.startswith("sqlite") else "postgresql"
    print(f"bench ingest on {vendor}: {json.dumps(result)}", file=sys.stderr)  # the details
    return {name: result[name] for name in ("events", "per_second", "duplicates_stored")}


# --- inside the benchmark's database (a process of its own) -------------------------------------


def measure(channels: int, posts: int) -> dict[str, Any]:
    import datetime as dt
    import time

    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from stammtisch.audience.consume import consume
    from stammtisch.core.actions import Actor
    from stammtisch.core.models import Workspace
    from stammtisch.inbox import labels, sync
    from stammtisch.inbox.models import Interaction, Message, SyncState
    from stammtisch.networks.base import Event, Outgoing
    from stammtisch.networks.sandbox import clock
    from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
    from stammtisch.networks.sandbox.connector import SandboxNetwork
    from stammtisch.publishing.benchmarks.scenario import TEXTS

    workspace = Workspace.objects.create(name="Ingest benchmark", slug=f"ingest-{timezone.now():%Y%m%d%H%M%S%f}")
    actor = Actor.system("bench")
    # Three hours between posts; the last one 4 days back (the audience reacts within 72 hours).
    start = timezone.now() - dt.timedelta(days=4, hours=3 * posts)
    connector = SandboxNetwork()
    for c in range(channels):
        channel = do_connect_sandbox_channel(actor, workspace, f"{workspace.slug}-{c}"[:40], f"Benchmark {c}")
        for n in range(posts):
            with clock.at(start + dt.timedelta(hours=n * 3)):
                text = TEXTS[n % len(TEXTS)].format(n=n) + " Wer hat Fragen? Who is coming?"
                connector.publish(channel, Outgoing(text=text), f"bench-{c}-{n}")

    delivered: set[tuple[int, str, str]] = set()
    original = SandboxNetwork.fetch_activity

    def counting(self: SandboxNetwork, channel: Any, cursor: dict[str, Any]) -> tuple[list[Event], dict[str, Any]]:
        events, after = original(self, channel, cursor)
        delivered.update((channel.pk, event.kind, event.remote_id) for event in events)
        return events, after

    SandboxNetwork.fetch_activity = counting  # type: ignore[method-assign]
    labels.triage("Aufwärmen: the model is loaded before the clock starts.")
    now = timezone.now()
    began = time.perf_counter()
    for _pass in range(2):
        SyncState.objects.filter(channel__workspace=workspace).update(cursor={}, next_sync_at=now)
        while sync.run_due("bench", now=now, limit=channels):
            pass
        while consume(now):  # person resolution: the audience job reads what was stored
            pass
    seconds = time.perf_counter() - began
    SandboxNetwork.fetch_activity = original  # type: ignore[method-assign]

    text_kinds = {"comment", "reply", "mention", "message"}
    distinct_messages = {(pk, remote) for pk, kind, remote in delivered if kind in text_kinds}
    distinct_interactions = {key for key in delivered if key[1] not in text_kinds}
    messages = Message.objects.filter(workspace=workspace)
    interactions = Interaction.objects.filter(workspace=workspace)
    per_message = messages.values("channel_id", "remote_id").annotate(n=Count("pk")).filter(n__gt=1)
    per_interaction = interactions.values("channel_id", "kind", "remote_id").annotate(n=Count("pk")).filter(n__gt=1)
    duplicates = sum(row["n"] - 1 for row in per_message) + sum(row["n"] - 1 for row in per_interaction)
    stored_messages = set(messages.values_list("channel_id", "remote_id"))
    stored_interactions = set(interactions.values_list("channel_id", "kind", "remote_id"))
    lost = len(distinct_messages - stored_messages) + len(distinct_interactions - stored_interactions)
    events = len(delivered)
    return {
        "events": events,
        "messages": len(distinct_messages),
        "interactions": len(distinct_interactions),
        "deliveries_each": 2,
        "seconds": round(seconds, 3),
        "per_second": round(events / seconds, 1) if seconds > 0 else 0.0,
        "duplicates_stored": duplicates,
        "lost": lost,
        "triage": labels._function() is not None,
        "vendor": connection.vendor,
    }


def main(argv: list[str]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stammtisch.settings")
    django.setup()
    result = measure(int(argv[0]), int(argv[1]))
    result.pop("vendor")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
