"""`stammtisch bench triage`: speed and sentiment quality of the shipped triage model.

    stammtisch bench triage [--data DIR] [--texts N] [--model default|e5]

One JSON line: `texts_per_cpu_s` (the chosen model, `default` unless --model e5 is given, in this
process, timed with `time.process_time()` over N dev texts of both languages, 4,000 by default and
400 for the much slower e5 model), `macro_f1_de` and
`macro_f1_en` (sentiment of `triage()` on our dev split of GermEval 2017 and TweetEval, see
`sources.py`). The public data must be present
(`../shared/data/triage`, or --data); without it the benchmark stops with exit code 2, because
a figure on other texts would not be comparable.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from . import e5, evaluate, sources

DEFAULT_TEXTS = {"default": 4_000, "e5": 400}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="the public data folder (default: ../shared/data/triage)")
    parser.add_argument("--texts", type=int, help="texts timed for the speed (4,000; e5: 400)")
    parser.add_argument(
        "--model", choices=e5.MODELS, default="default", help="the triage model to measure (default: the shipped one)"
    )


def run(options: argparse.Namespace) -> Iterator[dict[str, Any]]:
    data_dir = Path(options.data) if options.data else sources.default_data_dir()
    missing = sources.missing_parts(data_dir)
    if missing:
        raise CommandError(
            f"bench triage: the public data is missing ({', '.join(missing)} not in {data_dir}); "
            "pass --data DIR or set STAMMTISCH_SHARED_DIR",
            returncode=2,
        )
    texts = [
        example.text
        for examples in (sources.germeval(data_dir), sources.tweeteval(data_dir))
        for example in examples
        if example.split == "dev"
    ]
    if options.model == "e5" and not e5.available():
        raise CommandError(f"bench triage --model e5: {e5.missing_message()}", returncode=2)
    count = options.texts or DEFAULT_TEXTS[options.model]
    with e5.selected(options.model):
        speed = evaluate.speed(texts[:count] if len(texts) > count else texts, minimum=count)
        quality = evaluate.dev_scores(data_dir)
    yield {
        "texts_per_cpu_s": round(speed, 1),
        "macro_f1_de": quality["macro_f1_de"],
        "macro_f1_en": quality["macro_f1_en"],
    }
