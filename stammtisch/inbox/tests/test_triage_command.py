"""`stammtisch triage` (JSON lines in and out) and `stammtisch triage train`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stammtisch.inbox.triage import train


def run(lines: str) -> tuple[list[dict], str, CommandError | None]:
    stdout, stderr = io.StringIO(), io.StringIO()
    error = None
    try:
        call_command("triage", stdin=io.StringIO(lines), stdout=stdout, stderr=stderr)
    except CommandError as exc:
        error = exc
    return [json.loads(line) for line in stdout.getvalue().splitlines()], stderr.getvalue(), error


def test_it_writes_one_line_per_input() -> None:
    out, err, error = run(
        '{"id": 1, "text": "Was kostet ein Stück Käsekuchen?"}\n'
        '{"id": "b-2", "text": "Thank you, the brunch was amazing!"}\n'
        '{"id": null, "text": ""}\n'
    )
    assert error is None and err == ""
    assert [item["id"] for item in out] == [1, "b-2", None]
    assert set(out[0]) == {"id", "language", "sentiment", "intent", "confidence"}
    assert (out[0]["language"], out[0]["intent"]) == ("de", "purchase_interest")
    assert (out[1]["language"], out[1]["sentiment"], out[1]["intent"]) == ("en", "positive", "praise")
    assert 0.0 <= out[2]["confidence"] <= 1.0


def test_bad_lines_are_reported_and_the_rest_is_triaged() -> None:
    out, err, error = run('not json\n\n{"id": 2, "text": "Hallo"}\n[1, 2]\n{"id": 4, "text": 5}\n{"id": 5}\n')
    assert [item["id"] for item in out] == [2]
    assert "line 1: not JSON" in err
    assert "line 4:" in err and "line 5:" in err and "line 6:" in err
    assert "line 2" not in err  # blank lines are skipped
    assert error is not None and error.returncode == 1


def test_the_console_command_exits_1_after_a_bad_line() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "stammtisch.settings"}
    done = subprocess.run(
        [sys.executable, "-m", "stammtisch.cli", "triage"],
        input='{"id": 1, "text": "Habt ihr am Montag geöffnet?"}\n{oops\n'.encode(),
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout.decode().splitlines()[0])["intent"] == "purchase_interest"
    assert b"line 2: not JSON" in done.stderr


def test_train_needs_data() -> None:
    with pytest.raises(CommandError) as caught:
        call_command("triage", "train")
    assert caught.value.returncode == 2


def test_train_without_scikit_learn_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("germeval2017", "tweeteval_sentiment", "complaints", "youtube_spam"):
        (tmp_path / name).mkdir()

    def missing() -> None:
        raise train.MissingScikitLearn("training needs scikit-learn: pip install -e '.[train]'")

    monkeypatch.setattr(train, "_sklearn", missing)
    with pytest.raises(CommandError) as caught:
        call_command("triage", "train", "--data", str(tmp_path), "--out", str(tmp_path / "out"))
    assert caught.value.returncode == 2
    assert "scikit-learn" in str(caught.value)
    assert not (tmp_path / "out").exists()
