"""`stammtisch triage`: triage JSON lines from stdin; `stammtisch triage train --data DIR`: rebuild the model.

    echo '{"id": 1, "text": "Was kostet ein Cappuccino?"}' | stammtisch triage
    {"id": 1, "language": "de", "sentiment": "neutral", "intent": "purchase_interest", "confidence": 0.61}

Each input line is an object with "id" (any JSON value, echoed back) and "text" (a string). A line
that is not such an object is reported on stderr with its line number and skipped; the others are
still triaged, and the command then exits with code 1. Blank lines are ignored.

`train` needs scikit-learn (`pip install -e '.[train]'`); without it the command exits with code 2.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Triage JSON lines {id, text} from stdin into {id, language, sentiment, intent, confidence}."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=["train"], help="'train' rebuilds the shipped model")
        parser.add_argument("--data", help="train: the folder of the public data (../shared/data/triage)")
        parser.add_argument("--out", help="train: where to write model.npz and model.json (default: the shipped ones)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "train":
            self.train(options["data"], options["out"])
            return
        stdin = options.get("stdin") or io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        bad = self.triage_lines(stdin)
        if bad:
            raise CommandError(
                f"{bad} input line(s) could not be read (see above); the others were triaged", returncode=1
            )

    def triage_lines(self, stdin: IO[str]) -> int:
        from stammtisch.inbox.triage import triage

        bad = 0
        for number, line in enumerate(stdin, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                bad += 1
                self.stderr.write(f"triage: line {number}: not JSON ({exc.msg})")
                continue
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                bad += 1
                self.stderr.write(f'triage: line {number}: expected an object with a string "text"')
                continue
            result = triage(item["text"])
            out = {
                "id": item.get("id"),
                "language": result.language,
                "sentiment": result.sentiment,
                "intent": result.intent,
                "confidence": result.confidence,
            }
            self.stdout.write(json.dumps(out, ensure_ascii=False))
        return bad

    def train(self, data: str | None, out: str | None) -> None:
        from stammtisch.inbox.triage import train
        from stammtisch.inbox.triage.model import DATA_DIR
        from stammtisch.inbox.triage.sources import missing_parts

        if not data:
            raise CommandError("train needs --data DIR (the folder of ../shared/data/triage)", returncode=2)
        data_dir = Path(data)
        missing = missing_parts(data_dir)
        if missing:
            raise CommandError(f"{data_dir} lacks {', '.join(missing)}", returncode=2)
        try:
            train.train(data_dir, Path(out) if out else DATA_DIR, log=self.stdout.write)
        except train.MissingScikitLearn as exc:
            raise CommandError(str(exc), returncode=2) from exc
