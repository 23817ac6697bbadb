"""`stammtisch validate --network NAME`: check a text from standard input against a network's rules.

Prints one JSON object, `{"network", "length", "max", "ok", "problems": [messages]}`, and exits 0
when the text may be posted, 1 when not, 2 on bad usage (no or an unknown `--network`). The rules
are those of the composer and the publisher (`stammtisch/networks/rules.py`); media cannot be given
here, so a network that needs media (Instagram) reports that.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from stammtisch.networks import rules


class Command(BaseCommand):
    help = "Check a text read from standard input against a network's rules and print one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", required=True, help=f"one of: {', '.join(rules.RULES)}")
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=settings.LANGUAGE_CODE,
            help="language of the problem messages (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        network = options["network"]
        if network not in rules.RULES:
            known = ", ".join(rules.RULES)
            raise CommandError(f"unknown network {network!r}; known: {known}", returncode=2)
        text = sys.stdin.read()
        if text.endswith("\n"):  # `echo text | stammtisch validate` adds a line break nobody typed
            text = text[:-1]
        with translation.override(options["language"]):
            result = rules.validate(network, text)
            output = {
                "network": result.network,
                "length": result.length,
                "max": result.max,
                "ok": result.ok,
                "problems": [problem.message for problem in result.problems],
            }
        self.stdout.write(json.dumps(output, ensure_ascii=False))
        self.stdout.flush()
        if not result.ok:
            sys.exit(1)
