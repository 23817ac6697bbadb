"""The local AT network's orphan reaper (stammtisch/devtools/atproto/network.py): a network whose
owner died without stopping it (SIGKILL of pytest) is cleaned up at the next start, and only that."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stammtisch.devtools.atproto import network


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _program(marker: str) -> subprocess.Popen[bytes]:
    # argv carries the marker the reaper looks for in /proc/<pid>/cmdline
    code = "import time; time.sleep(60)"
    return subprocess.Popen([sys.executable, "-c", code, marker], start_new_session=True)


@pytest.fixture
def running_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "running"
    monkeypatch.setattr(network, "RUNNING", folder)
    return folder


def test_an_orphan_is_killed_and_its_folder_removed(running_dir: Path, tmp_path: Path) -> None:
    node = _program("network.mjs")
    stranger = _program("something-else")
    leftover = tmp_path / "pds-data"
    leftover.mkdir()
    state = running_dir / "orphan.json"
    network._record(state, owner=_dead_pid(), groups=[node.pid, stranger.pid], tmp=str(leftover))
    try:
        assert network.reap_orphans() == ["orphan"]
        assert node.wait(timeout=10) != 0  # killed
        assert stranger.poll() is None  # not ours by its command line: left alone
        assert not leftover.exists()
        assert not state.exists()
    finally:
        for process in (node, stranger):
            process.kill()
            process.wait()


def test_a_live_owners_network_is_left_alone(running_dir: Path) -> None:
    node = _program("network.mjs")
    state = running_dir / "alive.json"
    network._record(state, owner=network.os.getpid(), groups=[node.pid])
    try:
        assert network.reap_orphans() == []
        assert node.poll() is None
        assert json.loads(state.read_text())["groups"] == [node.pid]
    finally:
        node.kill()
        node.wait()


def test_an_unreadable_state_file_is_removed(running_dir: Path) -> None:
    running_dir.mkdir()
    (running_dir / "broken.json").write_text("{not json")
    assert network.reap_orphans() == ["broken"]
    assert not (running_dir / "broken.json").exists()
