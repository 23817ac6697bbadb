"""`stammtisch bench ingest` prints exactly the issue's fields, with nothing stored twice."""

from __future__ import annotations

import json
import subprocess
import sys


def test_a_tiny_run_prints_one_json_line_with_exactly_the_issues_fields() -> None:
    command = [sys.executable, "-m", "stammtisch.cli", "bench", "ingest", "--database", "sqlite"]
    done = subprocess.run(
        [*command, "--channels", "1", "--posts", "2"], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == {"events", "per_second", "duplicates_stored"}
    assert result["events"] > 0 and result["per_second"] > 0
    assert result["duplicates_stored"] == 0  # every event was delivered twice
    assert "bench ingest on sqlite" in done.stderr  # the details go to stderr
