"""The client metadata document and JWKS that authorization servers fetch, and what happens
without a client key (the OAuth option is hidden; app passwords stay)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.test import Client
from django.urls import reverse

from stammtisch.core.tests.clients import english_client
from stammtisch.networks.bluesky.tests.oauth.conftest import (
    BASE_URL,
    CLIENT_ID,
    CLIENT_KEY,
    REDIRECT_URI,
    pem_of,
    public_key_of,
    thumbprint,
)

ROOT = Path(__file__).resolve().parents[5]


def test_the_client_metadata_is_served_at_its_own_url_the_client_id() -> None:
    response = Client().get("/bluesky/oauth/client-metadata.json")

    assert response.status_code == 200  # exactly 200, no redirect (atproto OAuth spec)
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response.json() == {
        "client_id": CLIENT_ID,
        "client_name": "Stammtisch",
        "client_uri": BASE_URL,
        "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT_URI],
        "scope": "atproto transition:generic",
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks_uri": f"{BASE_URL}/bluesky/oauth/jwks.json",
        "dpop_bound_access_tokens": True,
    }
    assert f"{BASE_URL}{reverse('bluesky:oauth_client_metadata')}" == CLIENT_ID
    assert f"{BASE_URL}{reverse('bluesky:oauth_callback')}" == REDIRECT_URI


def test_the_jwks_holds_only_the_public_half_of_the_client_key() -> None:
    response = Client().get("/bluesky/oauth/jwks.json")

    assert response.status_code == 200
    [jwk] = response.json()["keys"]
    assert "d" not in jwk
    assert (jwk["use"], jwk["alg"], jwk["kid"]) == ("sig", "ES256", thumbprint(jwk))
    assert public_key_of(jwk).public_numbers() == CLIENT_KEY.public_key().public_numbers()


def test_without_a_client_key_there_is_no_oauth_and_app_passwords_remain(cast, settings) -> None:
    settings.BLUESKY_OAUTH_KEY = ""
    client = english_client(cast.alice)

    assert Client().get("/bluesky/oauth/client-metadata.json").status_code == 404
    assert Client().get("/bluesky/oauth/jwks.json").status_code == 404
    page = client.get(reverse("bluesky:connect", kwargs={"slug": cast.workspace.slug})).content.decode()
    assert "Sign in with Bluesky" not in page and "App password" in page
    response = client.post(
        reverse("bluesky:oauth_start", kwargs={"slug": cast.workspace.slug}), {"account": "a.bsky.social"}, follow=True
    )
    assert "Signing in with Bluesky is not set up on this server" in response.content.decode()


def test_with_a_client_key_the_connect_page_offers_both(cast) -> None:
    page = english_client(cast.alice).get(reverse("bluesky:connect", kwargs={"slug": cast.workspace.slug}))
    text = page.content.decode()
    assert "Sign in with Bluesky (recommended)" in text and "Or with an app password" in text
    assert reverse("bluesky:oauth_start", kwargs={"slug": cast.workspace.slug}) in text


def _start_up(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("STAMMTISCH_", "DATABASE_URL"))
    }
    environment.update({"STAMMTISCH_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-c", "import stammtisch.settings"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_wrong_key_or_base_url_stops_start_up_naming_the_variable(tmp_path) -> None:
    key_file = tmp_path / "bluesky-oauth.pem"
    key_file.write_text(pem_of(CLIENT_KEY))

    good = _start_up(tmp_path, STAMMTISCH_BLUESKY_OAUTH_KEY_FILE=str(key_file), STAMMTISCH_BASE_URL=BASE_URL)
    garbage = _start_up(tmp_path, STAMMTISCH_BLUESKY_OAUTH_KEY="not a key", STAMMTISCH_BASE_URL=BASE_URL)
    plain_http = _start_up(
        tmp_path, STAMMTISCH_BLUESKY_OAUTH_KEY_FILE=str(key_file), STAMMTISCH_BASE_URL="http://127.0.0.1:8000"
    )

    assert good.returncode == 0, good.stderr
    assert garbage.returncode != 0 and "STAMMTISCH_BLUESKY_OAUTH_KEY: not an unencrypted PEM" in garbage.stderr
    assert plain_http.returncode != 0
    assert "STAMMTISCH_BLUESKY_OAUTH_KEY needs STAMMTISCH_BASE_URL to be a public https://" in plain_http.stderr
