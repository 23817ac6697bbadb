"""`stammtisch worker`: publish due deliveries and run periodic jobs until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from stammtisch.core.worker import Worker, default_worker_id


class Command(BaseCommand):
    help = "Publish due posts and run periodic jobs (any number of workers may run at once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit (tests, cron).")
        parser.add_argument("--id", default="", help="Worker id shown in leases and logs (default host:pid).")

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = (options["id"] or default_worker_id())[:64]
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
