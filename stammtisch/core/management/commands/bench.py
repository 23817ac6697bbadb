"""`stammtisch bench NAME [options]`, `stammtisch bench all`: benchmarks printing JSON lines.

Each benchmark is a module with `add_arguments(parser)` and `run(options) -> Iterable[dict]`,
registered in BENCHMARKS; every dict it yields is printed as one JSON line (one per
configuration), with the field names its issue gives. Figures belong in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

# name: dotted module path. The publishing issue adds "publish" and "calendar".
BENCHMARKS: dict[str, str] = {
    "publish": "stammtisch.publishing.benchmarks.publish",
    "calendar": "stammtisch.publishing.bench_calendar",
    "triage": "stammtisch.inbox.triage.bench",
    "ingest": "stammtisch.inbox.bench_ingest",
    "redirect": "stammtisch.links.bench_redirect",
    "people": "stammtisch.audience.bench_people",
    "dashboard": "stammtisch.analytics.bench_dashboard",
}


class Command(BaseCommand):
    help = "Run a benchmark (or all of them) and print one JSON line per configuration."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="benchmark name, or 'all'")
        parser.add_argument("rest", nargs=argparse.REMAINDER, help="options of the benchmark")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        if name == "all":
            if not BENCHMARKS:
                sys.stderr.write("stammtisch bench: no benchmarks are registered yet.\n")
            for each in BENCHMARKS:
                self._run(each, [])
            return
        if name not in BENCHMARKS:
            known = ", ".join(["all", *BENCHMARKS]) or "all"
            raise CommandError(f"unknown benchmark {name!r}; known: {known}", returncode=2)
        self._run(name, options["rest"])

    def _run(self, name: str, argv: list[str]) -> None:
        module = importlib.import_module(BENCHMARKS[name])
        parser = argparse.ArgumentParser(prog=f"stammtisch bench {name}")
        module.add_arguments(parser)
        for line in module.run(parser.parse_args(argv)):
            self.stdout.write(json.dumps(line, sort_keys=False))
