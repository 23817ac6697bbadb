"""`stammtisch bench redirect [--database URL] [--requests N] [--concurrency C]`.

The redirector under concurrent load, with a baseline from the same run (docs/benchmarks.md):

1. A throwaway database (a temporary SQLite file, or a temporary database on the PostgreSQL
   server of `--database`), migrated, with a workspace and two short links (warm-up, measured).
2. The server as `make run` starts it: `stammtisch run --no-demo` (waitress, 8 threads, and its
   worker beside it) on a free loopback port, with STAMMTISCH_BENCH_BASELINE_VIEW on, which
   routes `/l-baseline/<code>`: a bare 302 through the same middleware.
3. A second process (`python -m stammtisch.links.bench_redirect load ...`) sends the requests
   over C keep-alive connections (raw HTTP/1.1 on asyncio streams, so the load generator stays
   light on a small machine): a warm-up, then baseline and redirector in 4 alternating rounds,
   N requests each in all, and reports throughput and latencies.
4. `lost` = measured requests sent minus clicks of the measured link in the database once the
   server's worker imported the click spool (links/spool.py; the benchmark waits for that, at
   most DRAIN_SECONDS, and reports the wait on stderr). `ratio` = per_second /
   baseline_per_second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from stammtisch.publishing.benchmarks.publish import DEFAULT_POSTGRES, postgres_answers, temporary_database

WARMUP = 500
ROUNDS = 4
DRAIN_SECONDS = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        help="'sqlite' (a temporary file, the default) or a PostgreSQL server URL such as "
        f"{DEFAULT_POSTGRES} (a temporary database is created on it and dropped afterwards)",
    )
    parser.add_argument("--requests", type=int, default=5000, help="requests per measurement (default 5000)")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel connections (default 16)")


def run(options: argparse.Namespace) -> Iterator[dict[str, Any]]:
    if options.database:
        databases = [options.database]
    else:
        server = os.environ.get("STAMMTISCH_BENCH_POSTGRES", DEFAULT_POSTGRES)
        databases = ["sqlite"] + ([server] if postgres_answers(server) else [])
    for database in databases:
        yield measure(database, options.requests, options.concurrency)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _python(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def _wait_up(url: str, server: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (our own loopback server)
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer in time")


def measure(database: str, requests: int, concurrency: int) -> dict[str, Any]:
    vendor = "sqlite" if database.startswith("sqlite") else "postgresql"
    with temporary_database(database) as (url, data_dir):
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "STAMMTISCH_DATA_DIR": data_dir,
            "STAMMTISCH_BENCH_BASELINE_VIEW": "true",
            "STAMMTISCH_LOG_LEVEL": "WARNING",
            "STAMMTISCH_BASE_URL": f"http://127.0.0.1:{port}",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("REDIS_URL", None)
        _python(["-m", "stammtisch.cli", "migrate", "-v0"], env)
        codes = _python(["-m", "stammtisch.links.bench_redirect", "setup"], env)
        server = subprocess.Popen(
            [sys.executable, "-m", "stammtisch.cli", "run", "--no-demo"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_up(f"http://127.0.0.1:{port}/healthz", server)
            load = _python(
                [
                    "-m",
                    "stammtisch.links.bench_redirect",
                    "load",
                    str(port),
                    codes["warmup"],
                    codes["measured"],
                    str(requests),
                    str(concurrency),
                ],
                env,
            )
            # The clicks are spooled; the server's worker imports them ("click import", every
            # second). Wait for that (at most DRAIN_SECONDS) with server and worker running.
            counted = _python(
                [
                    "-m",
                    "stammtisch.links.bench_redirect",
                    "count",
                    codes["measured"],
                    str(load["sent"]),
                    str(DRAIN_SECONDS),
                ],
                env,
            )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    per_second = load["per_second"]
    baseline = load["baseline_per_second"]
    print(
        f"bench redirect on {vendor}: the clicks were imported {counted['waited_s']} s after the load", file=sys.stderr
    )
    return {
        "database": vendor,
        "requests": load["sent"],
        "per_second": round(per_second, 1),
        "p50_ms": load["p50_ms"],
        "p99_ms": load["p99_ms"],
        "lost": load["sent"] - counted["clicks"],
        "baseline_per_second": round(baseline, 1),
        "ratio": round(per_second / baseline, 3) if baseline else None,
    }


# --- the steps in their own processes --------------------------------------------------------------


async def _connection(port: int, path: str, count: int, latencies: list[float], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0\r\nReferer: https://social.example/\r\n\r\n"
    ).encode()
    try:
        for _n in range(count):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(int(head.split(b" ", 2)[1]))
    finally:
        writer.close()


async def _round(port: int, path: str, total: int, concurrency: int) -> tuple[float, list[float], list[int]]:
    latencies: list[float] = []
    statuses: list[int] = []
    shares = [total // concurrency + (1 if n < total % concurrency else 0) for n in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, path, share, latencies, statuses) for share in shares if share))
    return time.perf_counter() - started, latencies, statuses


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def load(port: int, warmup: str, measured: str, requests: int, concurrency: int) -> dict[str, Any]:
    """Warm-up, then ROUNDS alternating rounds of baseline and redirector (so a passing load
    spike of the machine hits both alike), requests/ROUNDS each."""
    asyncio.run(_round(port, f"/l/{warmup}", WARMUP, concurrency))
    asyncio.run(_round(port, f"/l-baseline/{warmup}", WARMUP, concurrency))
    base_seconds = seconds = 0.0
    latencies: list[float] = []
    statuses: list[int] = []
    base_statuses: list[int] = []
    for n in range(ROUNDS):
        share = requests // ROUNDS + (1 if n < requests % ROUNDS else 0)
        spent, _latencies, answers = asyncio.run(_round(port, f"/l-baseline/{measured}", share, concurrency))
        base_seconds += spent
        base_statuses += answers
        spent, measured_latencies, answers = asyncio.run(_round(port, f"/l/{measured}", share, concurrency))
        seconds += spent
        latencies += measured_latencies
        statuses += answers
    if set(statuses) != {302} or set(base_statuses) != {302}:
        raise RuntimeError(f"unexpected answers: {sorted(set(statuses) | set(base_statuses))}")
    return {
        "sent": len(statuses),
        "per_second": len(statuses) / seconds,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "baseline_per_second": len(base_statuses) / base_seconds,
    }


def main(argv: list[str]) -> None:
    step, args = argv[0], argv[1:]
    if step == "load":  # no Django: the load generator only
        port, warmup, measured, requests, concurrency = int(args[0]), args[1], args[2], int(args[3]), int(args[4])
        print(json.dumps(load(port, warmup, measured, requests, concurrency)))
        return
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stammtisch.settings")
    django.setup()
    from stammtisch.core.models import Workspace
    from stammtisch.links.models import Click, ShortLink

    if step == "setup":
        workspace = Workspace.objects.create(name="Bench", slug="bench")
        made = {
            name: ShortLink.objects.create(
                workspace=workspace, target="https://example.org/menu", utm_source="bench", utm_medium="social"
            ).code
            for name in ("warmup", "measured")
        }
        print(json.dumps(made))
    elif step == "count":  # count <code> <expected> <timeout>: wait until the importer has them all
        expected, timeout = int(args[1]), float(args[2])
        started = time.monotonic()
        clicks = Click.objects.filter(link__code=args[0]).count()
        while clicks < expected and time.monotonic() - started < timeout:
            time.sleep(0.1)
            clicks = Click.objects.filter(link__code=args[0]).count()
        print(json.dumps({"clicks": clicks, "waited_s": round(time.monotonic() - started, 1)}))
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
