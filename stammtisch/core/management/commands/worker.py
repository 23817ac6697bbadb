"""`stammtisch worker`: publish due deliveries and run periodic jobs until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stammtisch.core.worker import Worker, default_worker_id
from stammtisch.publishing import publisher


class Command(BaseCommand):
    help = "Publish due posts and run periodic jobs (any number of workers may run at once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit (tests, cron).")
        parser.add_argument("--id", default="", help="Worker id shown in leases and logs (default host:pid).")
        # Timings in seconds; the defaults suit production. Benchmarks and tests shorten them.
        parser.add_argument(
            "--lease",
            type=float,
            help="How long a claim lasts before another worker may take it over (default 300). Keep it far "
            "above the longest network call.",
        )
        parser.add_argument("--retry-base", type=float, help="First retry delay after an error (default 30).")
        parser.add_argument("--retry-max", type=float, help="Longest retry delay (default 3600).")
        parser.add_argument("--check-delay", type=float, help="Wait before checking an unknown outcome (default 10).")

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = (options["id"] or default_worker_id())[:64]
        try:
            publisher.configure(
                lease=options["lease"],
                retry_base=options["retry_base"],
                retry_max=options["retry_max"],
                check_delay=options["check_delay"],
            )
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        worker = Worker(worker_id=worker_id)
        if options["once"]:
            processed = worker.tick()
            self.stdout.write(f"worker {worker_id}: processed {processed} deliveries")
            return
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO)
        # Finish the item at hand, give back the rest of the batch, exit 0.
        signal.signal(signal.SIGTERM, worker.request_stop)
        signal.signal(signal.SIGINT, worker.request_stop)
        worker.run_forever()
