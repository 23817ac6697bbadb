"""The shipped linear model, evaluated with numpy only (training is `train.py`, with scikit-learn).

`data/model.npz` holds the vocabulary (UTF-8, one token a line), the idf of each token and one
weight column per class of every head (float16); `data/model.json` the head names, labels and the
dev scores of the training run. Loaded once per process, on first use.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .text import normalise, word_features, words

DATA_DIR = Path(__file__).resolve().parent / "data"
MODEL_VERSION = 1

# head: its classes, in the order of the weight columns.
HEADS: dict[str, list[str]] = {
    "sentiment_de": ["negative", "neutral", "positive"],
    "sentiment_en": ["negative", "neutral", "positive"],
    "language": ["de", "en"],
    "complaint": ["no", "complaint"],
    "spam": ["no", "spam"],
}


class Model:
    def __init__(self, directory: Path = DATA_DIR) -> None:
        with np.load(directory / "model.npz") as arrays:
            vocabulary = arrays["vocabulary"].tobytes().decode("utf-8").split("\n")
            self.idf = arrays["idf"].astype(np.float32)
            self.weights = arrays["weights"].astype(np.float32)
            self.biases = arrays["biases"].astype(np.float32)
        self.meta: dict[str, Any] = json.loads((directory / "model.json").read_text(encoding="utf-8"))
        self.index = {token: position for position, token in enumerate(vocabulary)}
        self.labels: dict[str, list[str]] = {head["name"]: head["labels"] for head in self.meta["heads"]}
        self.slices: dict[str, slice] = {}
        start = 0
        for head, labels in self.labels.items():
            self.slices[head] = slice(start, start + len(labels))
            start += len(labels)
        self.word_positions = functools.lru_cache(maxsize=200_000)(self._word_positions)
        if start != self.weights.shape[1] or len(vocabulary) != self.weights.shape[0]:
            raise ValueError(f"triage model in {directory} is inconsistent")

    def counts(self, text: str) -> Counter[int]:
        """How often each vocabulary entry occurs in `text.features(text)`, with per-word caching."""
        tokens = words(normalise(text))
        counts: Counter[int] = Counter()
        for first, second in itertools.pairwise(tokens):
            if (position := self.index.get(f"b:{first} {second}")) is not None:
                counts[position] += 1
        for token in tokens:
            counts.update(self.word_positions(token))
        return counts

    def _word_positions(self, token: str) -> tuple[int, ...]:
        return tuple(position for feature in word_features(token) if (position := self.index.get(feature)) is not None)

    def scores(self, text: str) -> dict[str, dict[str, float]]:
        """Probability of each class of every head for one cleaned text."""
        counts = self.counts(text)
        logits = self.biases.copy()
        if counts:
            positions = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            values = (1.0 + np.log(values)) * self.idf[positions]
            values /= float(np.sqrt(values @ values))
            logits += values @ self.weights[positions]
        out: dict[str, dict[str, float]] = {}
        for head, part in self.slices.items():
            exp = np.exp(logits[part] - logits[part].max())
            probabilities = exp / exp.sum()
            out[head] = {label: float(p) for label, p in zip(self.labels[head], probabilities, strict=True)}
        return out


@functools.cache
def default_model() -> Model:
    return Model()
