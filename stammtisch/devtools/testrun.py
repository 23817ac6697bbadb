"""`make test`'s pytest step: the whole suite on SQLite, then on PostgreSQL when one is available.

PostgreSQL: STAMMTISCH_TEST_DATABASE_URL, else a server answering on 127.0.0.1:5432 (user
postgres, trust auth, as on a developer machine and in CI). STAMMTISCH_REQUIRE_POSTGRES=1 (set by
.ci/run) turns "no PostgreSQL" into a failure instead of a skip. Extra arguments go to pytest.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/stammtisch"


def postgres_url() -> str | None:
    url = os.environ.get("STAMMTISCH_TEST_DATABASE_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return DEFAULT_PG
    except OSError:
        return None


def run_suite(label: str, database_url: str, args: list[str]) -> int:
    print(f"\n=== pytest on {label} ===", flush=True)
    env = dict(os.environ, DATABASE_URL=database_url, STAMMTISCH_TEST_DATABASE=label)
    return subprocess.call([sys.executable, "-m", "pytest", *args], env=env)  # noqa: S603 (our own pytest)


def main() -> int:
    args = sys.argv[1:]
    results: list[tuple[str, int | None]] = []
    with tempfile.TemporaryDirectory(prefix="stammtisch-test-") as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'test.sqlite3'}"
        results.append(("SQLite", run_suite("sqlite", sqlite_url, args)))
    pg = postgres_url()
    if pg is None:
        if os.environ.get("STAMMTISCH_REQUIRE_POSTGRES") == "1":
            print("PostgreSQL is required (STAMMTISCH_REQUIRE_POSTGRES=1) but none answers.", file=sys.stderr)
            results.append(("PostgreSQL", 1))
        else:
            results.append(("PostgreSQL", None))
    else:
        results.append(("PostgreSQL", run_suite("postgresql", pg, args)))

    print("\n=== summary ===")
    for label, code in results:
        if code is None:
            print(f"{label}: SKIPPED (no server on 127.0.0.1:5432 and STAMMTISCH_TEST_DATABASE_URL unset)")
        else:
            print(f"{label}: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return 0 if all(code in (0, None) for _, code in results) else 1


if __name__ == "__main__":
    sys.exit(main())
