"""`stammtisch bench people`: what it prints and that it keeps its data (no timing assertions)."""

from __future__ import annotations

import io
import json

from django.core.management import call_command

FIELDS = ["people", "interactions", "profile_p95_ms", "list_p95_ms", "loyalty_updates_per_second"]
TINY = ["--database", "sqlite", "--people", "200", "--interactions", "2000", "--renders", "5"]


def test_a_tiny_run_prints_one_json_line_and_a_rerun_reuses_the_kept_data(settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path
    first = io.StringIO()

    call_command("bench", "people", *TINY, stdout=first)

    [line] = first.getvalue().splitlines()
    result = json.loads(line)
    assert list(result) == FIELDS
    assert (result["people"], result["interactions"]) == (200, 2000)
    assert result["profile_p95_ms"] > 0
    assert result["list_p95_ms"] > 0
    assert result["loyalty_updates_per_second"] > 0
    assert (tmp_path / "bench" / "people-200-2000.sqlite3").exists()
    assert "generated in" in capsys.readouterr().err

    again = io.StringIO()
    call_command("bench", "people", *TINY, stdout=again)

    assert "reusing the kept data" in capsys.readouterr().err
    rerun = json.loads(again.getvalue())
    # The events fed to the loyalty job were taken out again: the kept data is as generated.
    assert (rerun["people"], rerun["interactions"]) == (200, 2000)
