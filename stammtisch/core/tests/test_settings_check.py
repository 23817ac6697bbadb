"""The documented production settings pass Django's deployment checks; bad values name the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PRODUCTION = {
    "SECRET_KEY": "x" * 20 + "-production-secret-key-of-sufficient-length-0123456789",
    "STAMMTISCH_SECURE": "true",
    "STAMMTISCH_BASE_URL": "https://social.example.org",
    "ALLOWED_HOSTS": "social.example.org",
    "STAMMTISCH_BEHIND_PROXY": "true",
    "STAMMTISCH_HSTS_PRELOAD": "true",
}


def _stammtisch(args: list[str], env: dict[str, str], tmp_path) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "STAMMTISCH_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "stammtisch.cli", *args], env=full_env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path) -> None:
    result = _stammtisch(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STAMMTISCH_SIGNUP_ENABLED", "perhaps"),
        ("STAMMTISCH_LOGIN_FAILURE_LIMIT", "five"),
        ("STAMMTISCH_TIME_ZONE", "Mars/Olympus"),
        ("STAMMTISCH_LANGUAGE", "fr"),
        ("DATABASE_URL", "mysql://nobody@localhost/x"),
        ("STAMMTISCH_BASE_URL", "social.example.org"),
    ],
)
def test_a_wrong_setting_stops_start_up_naming_the_variable(tmp_path, name: str, value: str) -> None:
    result = _stammtisch(["check"], {name: value}, tmp_path)
    assert result.returncode != 0
    assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_the_embedded_default_generates_its_secret_once(tmp_path) -> None:
    assert _stammtisch(["check"], {}, tmp_path).returncode == 0
    first = (tmp_path / "secret_key").read_text()
    assert _stammtisch(["check"], {}, tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == first
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
