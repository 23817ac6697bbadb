"""`stammtisch validate --network NAME`: text on stdin, one JSON object out, exit 0, 1 or 2."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command


def run_validate(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    """The real console command, as a person or a script runs it."""
    return subprocess.run(
        [sys.executable, "-m", "stammtisch.cli", "validate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "stammtisch.settings"},
        timeout=60,
        check=False,
    )


def validate(network: str, text: str, monkeypatch) -> tuple[dict, int]:  # type: ignore[no-untyped-def]
    """The command in this process: its JSON and its exit code."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    out = io.StringIO()
    code = 0
    try:
        call_command("validate", "--network", network, "--language", "en", stdout=out)
    except SystemExit as exit:
        code = int(exit.code or 0)
    return json.loads(out.getvalue()), code


def test_it_prints_the_count_and_exits_0_when_the_text_fits(monkeypatch):
    result, code = validate("x", "Heute gibt es Apfelkuchen: https://cafe-koenigsbau.de/karte\n", monkeypatch)
    assert code == 0
    assert result == {"network": "x", "length": 50, "max": 280, "ok": True, "problems": []}


def test_it_lists_the_problems_and_exits_1_when_not(monkeypatch):
    result, code = validate("x", "a" * 295, monkeypatch)
    assert code == 1
    assert result == {
        "network": "x",
        "length": 295,
        "max": 280,
        "ok": False,
        "problems": ["Too long for X: 295 of 280 characters"],
    }


def test_instagram_without_media_is_not_ok(monkeypatch):
    hashtags = " ".join(f"#tag{n}" for n in range(34))
    result, code = validate("instagram", hashtags, monkeypatch)
    assert code == 1
    assert result["problems"] == [
        "Instagram allows at most 30 hashtags (this has 34)",
        "Instagram needs at least one image or video",
    ]


def test_bluesky_counts_graphemes(monkeypatch):
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    result, code = validate("bluesky", family * 3, monkeypatch)
    assert (result["length"], result["max"], code) == (3, 300, 0)


def test_the_console_command_exits_0_1_and_2():
    ok = run_validate("--network", "mastodon", "--language", "en", stdin="Hallo https://example.com/" + "x" * 600)
    assert (ok.returncode, json.loads(ok.stdout)["length"]) == (0, 29)

    too_long = run_validate("--network", "threads", "--language", "en", stdin="ü" * 501)
    assert too_long.returncode == 1
    assert json.loads(too_long.stdout)["problems"] == ["Too long for Threads: 501 of 500 characters"]

    unknown = run_validate("--network", "myspace", stdin="hello")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert "unknown network 'myspace'" in unknown.stderr
    assert "mastodon" in unknown.stderr  # says which ones exist

    missing = run_validate(stdin="hello")
    assert missing.returncode == 2
    assert "--network" in missing.stderr


@pytest.mark.parametrize("network", ["sandbox", "telegram", "xing"])
def test_an_empty_text_is_not_ok(network, monkeypatch):
    result, code = validate(network, "", monkeypatch)
    assert (result["ok"], code) == (False, 1)
