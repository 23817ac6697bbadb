"""Measure the shipped triage: dev-split quality on the public data, the labelled sample, speed.

Used by `stammtisch bench triage` and docs/triage.md; needs no scikit-learn (the scores are
computed here). The public data is read from `../shared/data/triage/` (absent in production).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import stammtisch.inbox.triage as api

from . import sources

SAMPLE = Path(__file__).resolve().parent / "data" / "sample.jsonl"


def macro_f1(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> float:
    labels = sorted(set(truth)) if labels is None else list(labels)
    scores = [per_label(truth, predicted, label)["f1"] for label in labels]
    return sum(scores) / len(scores) if scores else 0.0


def per_label(truth: Sequence[str], predicted: Sequence[str], label: str) -> dict[str, Any]:
    tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p == label)
    predicted_n = sum(1 for p in predicted if p == label)
    true_n = sum(1 for t in truth if t == label)
    precision = tp / predicted_n if predicted_n else 0.0
    recall = tp / true_n if true_n else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": true_n, "predicted": predicted_n}


def dev_scores(data_dir: Path) -> dict[str, Any]:
    """Sentiment macro-F1 per language and language accuracy of `triage()` on our dev split."""
    german = [example for example in sources.germeval(data_dir) if example.split == "dev"]
    english = [example for example in sources.tweeteval(data_dir) if example.split == "dev"]
    out: dict[str, Any] = {}
    language_right = language_total = 0
    for key, examples, expected in (("de", german, "de"), ("en", english, "en")):
        results = api.triage_batch(example.text for example in examples)
        out[f"macro_f1_{key}"] = round(macro_f1([e.label for e in examples], [r.sentiment for r in results]), 4)
        out[f"dev_texts_{key}"] = len(examples)
        language_right += sum(1 for result in results if result.language == expected)
        language_total += len(results)
    out["language_accuracy"] = round(language_right / language_total, 4) if language_total else 0.0
    return out


def sample_scores(path: Path = SAMPLE) -> dict[str, Any]:
    """Per-label precision and recall of the three fields on the hand-labelled sample."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = api.triage_batch(row["text"] for row in rows)
    out: dict[str, Any] = {"texts": len(rows)}
    for field, labels in (
        ("intent", api.INTENTS),
        ("sentiment", api.SENTIMENTS),
        ("language", api.LANGUAGES),
    ):
        truth = [row[field] for row in rows]
        predicted = [getattr(result, field) for result in results]
        out[field] = {
            "accuracy": round(sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(rows), 4),
            "macro_f1": round(macro_f1(truth, predicted, labels), 4),
            "labels": {label: per_label(truth, predicted, label) for label in labels},
        }
    out["errors"] = [
        {"id": row["id"], "text": row["text"], "expected": row["intent"], "got": result.intent}
        for row, result in zip(rows, results, strict=True)
        if row["intent"] != result.intent
    ]
    return out


def speed(texts: Sequence[str], minimum: int = 3000) -> float:
    """Texts per CPU second of `triage()` in this process (one core: triage is single-threaded)."""
    api.triage("warm up: loads the model")
    batch = list(texts)
    while len(batch) < minimum:
        batch += list(texts) or ["Was kostet ein Cappuccino?"]
    started = time.process_time()
    for text in batch:
        api.triage(text)
    elapsed = time.process_time() - started
    return len(batch) / elapsed if elapsed > 0 else float("inf")
