"""`stammtisch run`: what it refuses before it starts anything."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from stammtisch.core.management.commands.run import parse_port


@pytest.mark.parametrize("value", ["abc", "0", "65536", "-1", "80.5"])
def test_a_bad_port_stops_start_up_naming_port(value, monkeypatch, capsys):
    monkeypatch.setenv("PORT", value)

    with pytest.raises(SystemExit) as exit_info:
        call_command("run")

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "PORT=" in err and "1 to 65535" in err


def test_good_ports():
    assert parse_port(None) == 8000
    assert parse_port("") == 8000
    assert parse_port(" 8123 ") == 8123
    assert parse_port("65535") == 65535


@pytest.mark.enable_socket
def test_run_serves_the_app_and_stops_cleanly_on_sigterm(tmp_path):
    """The real thing, in a subprocess on its own SQLite file: serve, answer, stop with exit 0."""
    import os
    import selectors
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PORT": str(port),
        "STAMMTISCH_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "stammtisch.cli", "run", "--no-demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = ""
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in output and time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=1):
                output += process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in output, output

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert "Stopped." in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
