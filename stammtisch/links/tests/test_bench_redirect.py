"""`stammtisch bench redirect` prints exactly the issue's fields and loses no click."""

from __future__ import annotations

import json
import subprocess
import sys


def test_a_tiny_run_prints_one_json_line_with_exactly_the_issues_fields() -> None:
    command = [sys.executable, "-m", "stammtisch.cli", "bench", "redirect", "--database", "sqlite"]
    done = subprocess.run(
        [*command, "--requests", "100", "--concurrency", "4"], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == {
        "database",
        "requests",
        "per_second",
        "p50_ms",
        "p99_ms",
        "lost",
        "baseline_per_second",
        "ratio",
    }
    assert result["database"] == "sqlite" and result["requests"] == 100
    assert result["lost"] == 0
    assert result["ratio"] > 0
