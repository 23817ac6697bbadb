"""`stammtisch bench calendar`: the month view of a workspace with 10,000 posts.

    stammtisch bench calendar [--posts N] [--renders R] [--database sqlite|postgres://...]

1. A throwaway database: a temporary SQLite file (the default), or a temporary database
   `stammtisch_bench_calendar_<pid>` created on the PostgreSQL server of `--database` and dropped
   at the end. It is migrated; the settings' own database is never touched.
2. One workspace with 6 channels and N posts spread over two years around today (a year back,
   a year ahead), each on 1 to 3 channels with a delivery per channel, in the states a real
   plan has: published, partly published and failed behind us; scheduled ahead; some cancelled
   and some drafts.
3. The owner, signed in with Django's test client, opens the month view of the current month
   R times after 3 warm-up requests. Server time per request (the whole Django stack in
   process: middleware, view, queries, template; no network) gives `p50_ms` and `p95_ms`.

One JSON line: `benchmark`, `database`, `posts`, `deliveries`, `renders`, `queries` (per
render), `p50_ms`, `p95_ms`. Target (issue 3): `p95_ms` under 150.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_POSTS = 10_000
DEFAULT_RENDERS = 50
WARM_UP = 3
CHANNELS = [
    ("instagram", "Café Königsbau"),
    ("facebook", "Café Königsbau"),
    ("mastodon", "koenigsbau@stuttgart.social"),
    ("bluesky", "koenigsbau.bsky.social"),
    ("linkedin", "Königsbau GmbH"),
    ("telegram", "Königsbau News"),
]
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--posts", type=int, default=DEFAULT_POSTS, help="posts in the workspace (10,000)")
    parser.add_argument("--renders", type=int, default=DEFAULT_RENDERS, help="timed requests (50)")
    parser.add_argument(
        "--database",
        default="sqlite",
        help="'sqlite' (a temporary file, the default) or a PostgreSQL server URL such as "
        "postgres://postgres@127.0.0.1:5432/postgres (a temporary database is created and dropped)",
    )


def run(options: argparse.Namespace) -> Iterator[dict[str, Any]]:
    with temporary_database(options.database) as vendor:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        user, workspace = make_workspace()
        deliveries = populate(workspace, options.posts)
        result = measure(user, workspace, options.renders)
    details = {"database": vendor, "deliveries": deliveries, "renders": options.renders, "queries": result["queries"]}
    print(f"bench calendar: {json.dumps(details)}", file=sys.stderr)
    yield {"posts": options.posts, "p50_ms": result["p50_ms"], "p95_ms": result["p95_ms"]}


@contextmanager
def temporary_database(database: str) -> Iterator[str]:
    """Point Django's default connection at a new, empty database for the block; restore after."""
    import dj_database_url
    from django.conf import settings
    from django.db import connections

    original = connections.settings["default"]
    cleanup: list[Any] = []
    if database == "sqlite" or database.startswith("sqlite:"):
        folder = tempfile.mkdtemp(prefix="stammtisch-bench-calendar-")
        cleanup.append(lambda: shutil.rmtree(folder, ignore_errors=True))
        config = dj_database_url.parse(f"sqlite:///{folder}/bench.sqlite3")
        config["OPTIONS"] = dict(SQLITE_OPTIONS)
        vendor = "sqlite"
    elif database.startswith(("postgres://", "postgresql://")):
        import psycopg
        from psycopg import sql

        name = f"stammtisch_bench_calendar_{os.getpid()}"
        parts = urlsplit(database)
        server = urlunsplit(parts._replace(path="/" + (parts.path.strip("/") or "postgres")))
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

        def drop() -> None:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        cleanup.append(drop)
        config = dj_database_url.parse(urlunsplit(parts._replace(path="/" + name)))
        vendor = "postgresql"
    else:
        raise SystemExit("--database must be 'sqlite' or a postgres:// URL")

    def use(config: dict[str, Any]) -> None:
        connections["default"].close()
        del connections["default"]
        connections.settings["default"] = connections.configure_settings({"default": config})["default"]
        settings.DATABASES["default"] = connections.settings["default"]

    use(dict(config))
    try:
        yield vendor
    finally:
        use(original)
        for step in reversed(cleanup):
            step()


def make_workspace() -> tuple[Any, Any]:
    from django.contrib.auth.models import User

    from stammtisch.core.models import Membership, Workspace
    from stammtisch.core.roles import Role

    user = User.objects.create_user("bench-calendar", "bench@example.org", None)
    workspace = Workspace.objects.create(name="Bench: calendar", slug=f"bench-calendar-{os.getpid()}")
    Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
    return user, workspace


def populate(workspace: Any, posts: int, *, now: dt.datetime | None = None, seed: int = 5) -> int:
    """`posts` posts over two years around `now` with their deliveries; returns the deliveries."""
    from django.utils import timezone

    from stammtisch.networks.models import Channel
    from stammtisch.publishing.models import Delivery, Post

    rng = random.Random(seed)
    now = now or timezone.now()
    channels = [
        Channel.objects.create(
            workspace=workspace,
            network="sandbox",
            handle=f"{workspace.slug}-{network}",
            display_name=name,
            stands_in_for=network,
        )
        for network, name in CHANNELS
    ]
    words = ["Heute", "frisch", "aus", "dem", "Ofen:", "Brezeln,", "Maultaschen", "und", "Kaffee", "im", "Königsbau"]
    span = dt.timedelta(days=730)
    start = now - span / 2
    post_rows: list[Post] = []
    plan: list[tuple[list[Channel], list[str]]] = []
    for index in range(posts):
        at = start + span * (index / posts) + dt.timedelta(minutes=rng.randrange(-600, 600))
        chosen = rng.sample(channels, rng.randint(1, 3))
        roll = rng.random()
        if at < now:
            if roll < 0.88:
                status, states = Post.Status.PUBLISHED, ["published"] * len(chosen)
            elif roll < 0.93 and len(chosen) > 1:
                status, states = Post.Status.PARTIAL, ["published"] + ["failed"] * (len(chosen) - 1)
            elif roll < 0.97:
                status, states = Post.Status.FAILED, ["failed"] * len(chosen)
            else:
                status, states = Post.Status.CANCELLED, ["cancelled"] * len(chosen)
        elif roll < 0.03:
            status, states = Post.Status.CANCELLED, ["cancelled"] * len(chosen)
        else:
            status, states = Post.Status.SCHEDULED, ["scheduled"] * len(chosen)
        draft = roll > 0.99
        text = " ".join(rng.sample(words, 8)) + f" #{index}"
        post_rows.append(
            Post(
                workspace=workspace,
                text=text,
                pillar=rng.choice(["Rezepte", "Events", "Team", "Angebote"]),
                purpose=Post.Purpose.PROMOTION if roll < 0.2 else Post.Purpose.VALUE,
                status=Post.Status.DRAFT if draft else status,
                scheduled_at=None if draft else at,
            )
        )
        plan.append((chosen, ["scheduled"] * len(chosen) if draft else states))
    created = Post.objects.bulk_create(post_rows, batch_size=1000)
    deliveries = [
        Delivery(
            post=post,
            channel=channel,
            text=post.text,
            state=state,
            due_at=post.scheduled_at,
            published_at=post.scheduled_at if state == "published" else None,
        )
        for post, (chosen, states) in zip(created, plan, strict=True)
        for channel, state in zip(chosen, states, strict=True)
    ]
    Delivery.objects.bulk_create(deliveries, batch_size=2000)
    # Planner statistics, as autovacuum (PostgreSQL) or a long-running database would have them.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return len(deliveries)


def measure(user: Any, workspace: Any, renders: int) -> dict[str, Any]:
    """Server times of the month view, in milliseconds."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    url = reverse("publishing:calendar", kwargs={"slug": workspace.slug})
    times: list[float] = []
    with override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False, DEBUG=False):
        client = Client()
        client.force_login(user)
        for _ in range(WARM_UP):
            assert client.get(url).status_code == 200
        queries = 0

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        for _ in range(renders):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
    return {"queries": queries, "p50_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1)}
