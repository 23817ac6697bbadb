"""`stammtisch run` (what `make run` calls): migrate, create the demo on first start, then serve
the web app with waitress and run one worker process beside it until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any, NoReturn

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from stammtisch.core.management.commands.demo import DEMO_USERNAME, ensure_demo

WORKER_STOP_SECONDS = 15


def parse_port(value: str | None) -> int:
    """PORT from the environment: a whole number from 1 to 65535 (default 8000)."""
    if value is None or value.strip() == "":
        return 8000
    try:
        port = int(value.strip())
    except ValueError:
        raise ValueError(f"PORT={value!r} is not a whole number (use 1 to 65535).") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"PORT={port} is out of range (use 1 to 65535).")
    return port


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"stammtisch run: {message}", file=sys.stderr)
    sys.exit(code)


class WorkerProcess:
    """The one worker beside the web server; restarted if it dies on its own."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "stammtisch.cli", "worker"])
        if not self.watcher.is_alive():
            self.watcher.start()

    def _watch(self) -> None:
        while not self.stopping.wait(1.0):
            if self.process is not None and self.process.poll() is not None and not self.stopping.is_set():
                print(
                    f"stammtisch run: the worker exited with {self.process.returncode}; restarting it.",
                    file=sys.stderr,
                )
                self.stopping.wait(2.0)
                if not self.stopping.is_set():
                    self.start()

    def stop(self) -> None:
        self.stopping.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: it finishes the delivery at hand and gives back its leases
        try:
            process.wait(WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Command(BaseCommand):
    help = "Serve Stammtisch with one worker (HOST, PORT from the environment); Ctrl-C stops both."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo workspace.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            port = parse_port(os.environ.get("PORT"))
        except ValueError as exc:
            fail(str(exc))
        host = os.environ.get("HOST", "").strip() or "127.0.0.1"
        shown_host = f"[{host}]" if ":" in host else host
        if not os.environ.get("STAMMTISCH_BASE_URL"):
            # Links the app writes (Sandbox post URLs, e-mails) point where we actually listen;
            # the worker process inherits it through the environment.
            base_url = f"http://{shown_host}:{port}"
            os.environ["STAMMTISCH_BASE_URL"] = base_url
            settings.BASE_URL = base_url

        call_command("migrate", verbosity=0, interactive=False)
        password = None
        if not options["no_demo"]:
            created, password = ensure_demo(log=lambda line: self.stdout.write(line))
            if created:
                self.stdout.write("Demo workspace created.")

        from waitress.server import create_server

        from stammtisch.wsgi import application

        try:
            server = create_server(application, host=host, port=port, ident="Stammtisch", threads=8)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port} ({exc.strerror or exc}); set PORT or HOST.", code=1)

        self.stdout.write("")
        self.stdout.write(f"Stammtisch is running at http://{shown_host}:{port}/")
        if password is not None:
            self.stdout.write(f"Demo login: {DEMO_USERNAME} / {password}")
        elif not options["no_demo"]:
            self.stdout.write(f"Demo login: {DEMO_USERNAME} (password set earlier; `stammtisch demo --reset`)")
        self.stdout.write("Press Ctrl-C to stop.")
        self.stdout.flush()

        worker = WorkerProcess()

        def stop(signum: int, _frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        worker.start()
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.stdout.write("Stopping ...")
            worker.stop()
            server.close()
        self.stdout.write("Stopped.")
