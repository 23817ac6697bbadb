from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from stammtisch.core import crypto
from stammtisch.core.env import env_bool, env_int, env_secret
from stammtisch.networks.models import Channel


def test_credentials_are_encrypted_at_rest(cast) -> None:
    channel = Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle="cafe",
        display_name="Café",
        credentials={"token": "s3cr3t-token"},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM networks_channel WHERE id = %s", [channel.pk])
        stored = cursor.fetchone()[0]
    assert "s3cr3t" not in stored
    assert Channel.objects.get(pk=channel.pk).credentials == {"token": "s3cr3t-token"}


def test_old_keys_still_decrypt_after_rotation(settings) -> None:
    settings.ENCRYPTION_KEYS = ["old-key"]
    token = crypto.encrypt("hello")
    settings.ENCRYPTION_KEYS = ["new-key", "old-key"]
    assert crypto.decrypt(token) == "hello"
    settings.ENCRYPTION_KEYS = ["other-key"]
    with pytest.raises(ImproperlyConfigured, match="STAMMTISCH_ENCRYPTION_KEYS"):
        crypto.decrypt(token)


def test_a_wrong_setting_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("STAMMTISCH_X_ENABLED", "maybe")
    with pytest.raises(ImproperlyConfigured, match="STAMMTISCH_X_ENABLED"):
        env_bool("STAMMTISCH_X_ENABLED", True)
    monkeypatch.setenv("PORTISH", "80a")
    with pytest.raises(ImproperlyConfigured, match="PORTISH"):
        env_int("PORTISH", 1)


def test_secrets_can_come_from_a_file(monkeypatch, tmp_path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret_file))
    assert env_secret("SOME_SECRET") == "from-file"
