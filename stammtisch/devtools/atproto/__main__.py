"""`python -m stammtisch.devtools.atproto install|status|run` (network.py says what each does)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from stammtisch.devtools.atproto import network


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stammtisch.devtools.atproto", description=__doc__)
    parser.add_argument(
        "command",
        choices=["install", "status", "run"],
        help="install Node 22 and @atproto/dev-env into .atproto/; say whether it can run; run it until Ctrl-C",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            network.install()
            return 0
        if args.command == "status":
            reason = network.missing()
            print(reason or "ready: Node 22 and @atproto/dev-env are installed")
            return 1 if reason else 0
        server = network.postgres_server()
        if server is None:
            print("no PostgreSQL server answers (set STAMMTISCH_TEST_DATABASE_URL)", file=sys.stderr)
            return 1
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with network.running(server) as running:
            print(network.describe(running), flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        return 0
    except network.SetupError as error:
        print(f"atproto: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
