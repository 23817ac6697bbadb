"""`stammtisch bench publish`: the publisher under load, with a baseline from the same run.

    stammtisch bench publish --deliveries N --workers W [--database URL] [--chaos]
                             [--steady RATE --duration S]

One run (docs/benchmarks.md has the figures and what `stammtisch bench all` runs):

1. A throwaway database: a temporary SQLite file (the default, or any `sqlite:` URL), or a
   temporary database `stammtisch_bench_<pid>` created on the PostgreSQL server of `--database`
   and dropped at the end. It is migrated, and gets a workspace with 100 Sandbox channels and N
   deliveries (posts to 5 channels each), held a day in the future.
2. The baseline: W processes run a minimal job loop on the driver itself over N rows of a table
   in the same database (baseline.py). `baseline_per_second` = N / its time.
3. W real worker processes (`python -m stammtisch.cli worker`) start. Once all are up, the
   deliveries become due at one instant (burst) or one after another at RATE a second (steady),
   a few seconds ahead so that every worker wakes on time. The clock runs from the first due
   time until every delivery is in a final state (polled every 0.01 s) or the time cap.
   `--chaos`: workers see Sandbox faults in 10 % of calls and short retry timings, and every
   second a random worker is killed with SIGKILL and a new one started.
4. The count (scenario.count) and one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from stammtisch.publishing.benchmarks import baseline

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
WAKE_AHEAD = 6.0  # seconds: more than a worker's longest sleep (5 s), so every worker wakes on time
POLL = 0.01  # seconds between looks at the unfinished count (a few index seeks, see _unfinished)
# The states a delivery leaves before the run is over (every state but published, failed and
# cancelled; a test checks this against the model).
UNFINISHED_STATES = ("scheduled", "publishing", "retry_wait", "unknown")
# Chaos: short timings instead of the production defaults (5 min lease, 30 s to 1 h backoff).
CHAOS_WORKER_OPTIONS = ["--lease", "5", "--retry-base", "0.5", "--retry-max", "5", "--check-delay", "0.5"]
CHAOS_FAULT_RATE = 0.1


@dataclass(frozen=True)
class Config:
    database: str = "sqlite"  # "sqlite" or a sqlite: URL (a temp file either way), or a postgres:// server URL
    deliveries: int = 10_000
    workers: int = 2
    chaos: bool = False
    steady: float | None = None  # deliveries a second
    duration: float = 60.0  # seconds, with steady
    time_cap: float = 600.0  # seconds after the first due time
    kill_every: float = 1.0  # seconds, with chaos
    reactions: bool = False  # the Sandbox's audience simulation on each publish (STAMMTISCH_SANDBOX_REACTIONS)

    @property
    def vendor(self) -> str:
        return "sqlite" if self.database.startswith("sqlite") else "postgresql"

    @property
    def total(self) -> int:
        return round(self.steady * self.duration) if self.steady else self.deliveries


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deliveries", type=int, help="deliveries in a burst (default 10000)")
    parser.add_argument("--workers", type=int, help="worker processes (default 2 on SQLite, 4 on PostgreSQL)")
    parser.add_argument(
        "--database",
        help="'sqlite' (a temporary file, the default) or a PostgreSQL server URL such as "
        f"{DEFAULT_POSTGRES} (a temporary database is created on it and dropped afterwards)",
    )
    parser.add_argument(
        "--chaos", action="store_true", help="faults in 10%% of Sandbox calls, SIGKILL a worker a second"
    )
    parser.add_argument("--steady", type=float, metavar="RATE", help="deliveries due per second instead of a burst")
    parser.add_argument("--duration", type=float, help="seconds of steady load (default 60)")
    parser.add_argument("--time-cap", type=float, default=600.0, help="give up after this many seconds (default 600)")
    parser.add_argument(
        "--sandbox-reactions",
        action="store_true",
        help="let the Sandbox precompute its audience's reactions to every post (off by default: that is the "
        "simulated network's work, not the publisher's)",
    )


def configurations(options: argparse.Namespace) -> list[Config]:
    """The configuration the flags describe; with no flags at all (`stammtisch bench all`) the
    default set: docs/benchmarks.md."""
    given = [options.deliveries, options.workers, options.database, options.steady, options.duration]
    if any(value is not None for value in given) or options.chaos or options.sandbox_reactions:
        database = options.database or "sqlite"
        workers = options.workers or (2 if database.startswith("sqlite") else 4)
        return [
            Config(
                database=database,
                deliveries=options.deliveries or 10_000,
                workers=workers,
                chaos=options.chaos,
                steady=options.steady,
                duration=options.duration or 60.0,
                time_cap=options.time_cap,
                reactions=options.sandbox_reactions,
            )
        ]
    server = os.environ.get("STAMMTISCH_BENCH_POSTGRES", DEFAULT_POSTGRES)
    databases = [("sqlite", 2)] + ([(server, 4)] if postgres_answers(server) else [])
    suite = []
    for database, workers in databases:
        suite += [
            Config(database=database, deliveries=10_000, workers=workers),
            Config(database=database, workers=workers, steady=50, duration=20),
            Config(database=database, deliveries=2_000, workers=workers, chaos=True),
        ]
    return suite


def run(options: argparse.Namespace) -> Iterator[dict[str, Any]]:
    for config in configurations(options):
        yield measure(config)


def postgres_answers(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


# --- one run ----------------------------------------------------------------------------------


def measure(config: Config) -> dict[str, Any]:
    with temporary_database(config.database) as (url, data_dir):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "STAMMTISCH_DATA_DIR": data_dir,  # one secret and encryption key for all processes
            "STAMMTISCH_SANDBOX_FAULT_RATE": "0",
            "STAMMTISCH_SANDBOX_REACTIONS": "true" if config.reactions else "false",
            "STAMMTISCH_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        _python(["-m", "stammtisch.cli", "migrate", "-v0"], env)
        workspace = _step(["setup", str(config.total)], env)["workspace"]
        baseline_per_second = measure_baseline(url, config.workers, config.total, env)
        seconds, finished = run_workers(config, url, workspace, env)
        counted = _step(["count", str(workspace)], env)
    per_second = counted["deliveries"] / seconds if finished and seconds > 0 else 0.0
    return {
        "database": config.vendor,
        "deliveries": counted["deliveries"],
        "workers": config.workers,
        "published": counted["published"],
        "failed": counted["failed"],
        "duplicates": counted["duplicates"],
        "lost": counted["lost"],
        "seconds": round(seconds, 3),
        "per_second": round(per_second, 1),
        "lateness_p50_s": counted["lateness_p50_s"],
        "lateness_p99_s": counted["lateness_p99_s"],
        "baseline_per_second": round(baseline_per_second, 1),
        "ratio": round(per_second / baseline_per_second, 4) if baseline_per_second else None,
    }


def measure_baseline(url: str, workers: int, rows: int, env: dict[str, str]) -> float:
    baseline.prepare(url, rows, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    start = time.time() + 2.0  # every process is connected and waiting by then
    processes = [
        _popen([sys.executable, "-m", "stammtisch.publishing.benchmarks", "baseline", url, f"b{n}", str(start)], env)
        for n in range(workers)
    ]
    results = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"baseline process failed: {err}")
        results.append(json.loads(out))
    done = sum(result["done"] for result in results)
    seconds = max(result["finished"] for result in results) - start
    return done / seconds if seconds > 0 else 0.0


class Workers:
    """The worker processes of one run; `kill_one` is the chaos monkey."""

    def __init__(self, env: dict[str, str], options: list[str]) -> None:
        self.env = env
        self.options = options
        self.running: list[tuple[str, subprocess.Popen[str]]] = []
        self.started = 0
        self.ready: set[str] = set()
        self.log: deque[str] = deque(maxlen=200)
        self.lock = threading.Lock()

    def start(self) -> None:
        worker_id = f"bench-{self.started}"
        self.started += 1
        command = [sys.executable, "-m", "stammtisch.cli", "worker", "--id", worker_id, *self.options]
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.running.append((worker_id, process))
        threading.Thread(target=self._drain, args=(worker_id, process), daemon=True).start()

    def _drain(self, worker_id: str, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            with self.lock:
                if f"worker {worker_id} started" in line:
                    self.ready.add(worker_id)
                self.log.append(line.rstrip())

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(worker_id in self.ready for worker_id, _p in self.running):
            if time.monotonic() > deadline or any(p.poll() is not None for _w, p in self.running):
                raise RuntimeError("workers did not start:\n" + "\n".join(self.log))
            time.sleep(0.05)

    def kill_one(self, rng: random.Random) -> None:
        _worker_id, process = self.running.pop(rng.randrange(len(self.running)))
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.start()

    def stop(self) -> None:
        for _worker_id, process in self.running:
            process.send_signal(signal.SIGTERM)
        for _worker_id, process in self.running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running = []


def run_workers(config: Config, url: str, workspace: int, env: dict[str, str]) -> tuple[float, bool]:
    """Start the workers, make the deliveries due, wait until all are final. Returns (seconds
    from the first due time to the last final state, whether all became final in time)."""
    worker_env = dict(env)
    options: list[str] = []
    if config.chaos:
        worker_env["STAMMTISCH_SANDBOX_FAULT_RATE"] = str(CHAOS_FAULT_RATE)
        options = CHAOS_WORKER_OPTIONS
    workers = Workers(worker_env, options)
    rng = random.Random()
    try:
        for _n in range(config.workers):
            workers.start()
        workers.wait_ready()
        start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=WAKE_AHEAD)
        _step(["due", str(workspace), start.isoformat(), *([str(config.steady)] if config.steady else [])], env)
        start_epoch = start.timestamp()
        next_kill = start_epoch + config.kill_every
        with baseline.connect(url) as db:
            while True:
                time.sleep(POLL)
                now = time.time()
                if now >= start_epoch and _unfinished(db, url) == 0:
                    return now - start_epoch, True
                if now - start_epoch > config.time_cap:
                    return now - start_epoch, False
                if config.chaos and now >= next_kill:
                    workers.kill_one(rng)
                    next_kill += config.kill_every
    finally:
        workers.stop()


def _unfinished(db: Any, url: str) -> int:
    """How many deliveries are not final yet. Asked by state (`IN`, not `NOT IN`): the claim
    index (state, due_at, id) finds exactly those rows, so a look costs little even every
    POLL seconds, and the clock stops within POLL of the last delivery's end, as the
    baseline's stops at its last commit."""
    states = ", ".join(f"'{state}'" for state in UNFINISHED_STATES)
    query = f"SELECT count(*) FROM publishing_delivery WHERE state IN ({states})"  # noqa: S608 (constants)
    row = db.execute(query).fetchone()
    if not baseline.is_sqlite(url):
        db.commit()
    return int(row[0])


# --- processes and databases ------------------------------------------------------------------


def _popen(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603


def _python(args: list[str], env: dict[str, str]) -> str:
    process = _popen([sys.executable, *args], env)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err}")
    return out


def _step(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = _python(["-m", "stammtisch.publishing.benchmarks", *args], env)
    return json.loads(out.strip().splitlines()[-1])


@contextmanager
def temporary_database(database: str) -> Iterator[tuple[str, str]]:
    """Yields (DATABASE_URL of a new, empty database, a temporary data directory)."""
    with tempfile.TemporaryDirectory(prefix="stammtisch-bench-") as data_dir:
        if database.startswith("sqlite"):
            yield f"sqlite:///{data_dir}/bench.sqlite3", data_dir
            return
        parts = urlsplit(database)
        name = f"stammtisch_bench_{os.getpid()}"
        with psycopg.connect(database, autocommit=True) as server:
            server.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(parts._replace(path=f"/{name}")), data_dir
        finally:
            with psycopg.connect(database, autocommit=True) as server:
                server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
