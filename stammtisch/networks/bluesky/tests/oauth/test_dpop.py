"""ES256 keys, JWS and DPoP proofs (dpop.py), checked with `cryptography` directly."""

from __future__ import annotations

import time

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from stammtisch.networks.bluesky import dpop
from stammtisch.networks.bluesky.tests.oauth.conftest import ath, dpop_of, pem_of, public_key_of, verified


def test_a_signed_jwt_verifies_with_the_public_key_and_not_with_another() -> None:
    key = dpop.new_key()
    token = dpop.sign_jwt(key, {"kid": "k1"}, {"iss": "me", "n": 1})

    header, claims = verified(token, key.public_key())

    assert header == {"kid": "k1", "alg": "ES256"}
    assert claims == {"iss": "me", "n": 1}
    with pytest.raises(InvalidSignature):
        verified(token, ec.generate_private_key(ec.SECP256R1()).public_key())
    head, body, signature = token.split(".")
    with pytest.raises(InvalidSignature):
        verified(f"{head}.{body[:-2]}xx.{signature}", key.public_key())


def test_a_private_jwk_round_trips_and_the_public_one_has_no_secret() -> None:
    key = dpop.new_key()
    jwk = dpop.private_jwk(key)

    again = dpop.key_from_jwk(jwk)

    assert again.private_numbers() == key.private_numbers()
    assert "d" not in dpop.public_jwk(key)
    assert public_key_of(dpop.public_jwk(key)).public_numbers() == key.public_key().public_numbers()
    with pytest.raises(ValueError):
        dpop.key_from_jwk({**jwk, "x": dpop.public_jwk(dpop.new_key())["x"]})
    with pytest.raises(ValueError):
        dpop.key_from_jwk({"kty": "RSA"})


def test_the_thumbprint_follows_rfc_7638() -> None:
    # The DPoP key of RFC 9449's examples (§4.1) and its thumbprint, the `jkt` of §6.1.
    jwk = {
        "kty": "EC",
        "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        "crv": "P-256",
    }
    assert dpop.thumbprint(jwk) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def test_the_access_token_hash_follows_rfc_9449() -> None:
    # RFC 9449 §7.1: the access token of the example and the `ath` of its proof.
    assert dpop.access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


def test_a_proof_carries_method_url_without_query_nonce_and_token_hash() -> None:
    key = dpop.new_key()
    before = int(time.time())

    proof = dpop.proof(
        key, "get", "https://pds.example.de/xrpc/app.bsky.feed.getPosts?uris=a#x", nonce="n1", access_token="tok"
    )

    header, claims = verified(proof, key.public_key())
    assert header["typ"] == "dpop+jwt" and header["jwk"] == dpop.public_jwk(key)
    assert claims["htm"] == "GET"
    assert claims["htu"] == "https://pds.example.de/xrpc/app.bsky.feed.getPosts"
    assert claims["nonce"] == "n1" and claims["ath"] == ath("tok")
    assert before <= claims["iat"] <= int(time.time()) and len(claims["jti"]) >= 16
    bare = verified(dpop.proof(key, "POST", "https://bsky.social/oauth/par"), key.public_key())[1]
    assert "nonce" not in bare and "ath" not in bare and bare["jti"] != claims["jti"]


def test_the_auth_retries_once_with_the_nonce_the_server_asks_for() -> None:
    key = dpop.new_key()
    seen: list[tuple[dict, bytes]] = []  # (proof claims, body) as each request went out

    def server(request: httpx.Request) -> httpx.Response:
        seen.append((dpop_of(request)[1], request.read()))
        if dpop_of(request)[1].get("nonce") != "fresh":
            return httpx.Response(400, json={"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": "fresh"})
        return httpx.Response(200, json={"ok": True}, headers={"DPoP-Nonce": "fresh"})

    auth = dpop.DPoPAuth(key, nonce="stale")
    with httpx.Client(transport=httpx.MockTransport(server)) as http:
        response = http.post("https://bsky.social/oauth/token", data={"a": "b"}, auth=auth)

    assert response.status_code == 200 and auth.nonce == "fresh"
    assert [claims.get("nonce") for claims, _body in seen] == ["stale", "fresh"]
    assert [body for _claims, body in seen] == [b"a=b", b"a=b"]  # the body is sent again
    assert seen[0][0]["jti"] != seen[1][0]["jti"]


def test_the_auth_does_not_loop_when_the_server_keeps_refusing() -> None:
    key = dpop.new_key()
    calls: list[str] = []  # the Authorization header of each request

    def server(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["Authorization"])
        return httpx.Response(
            401, headers={"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": f"n{len(calls)}"}
        )

    with httpx.Client(transport=httpx.MockTransport(server)) as http:
        response = http.get("https://pds.example.de/xrpc/x", auth=dpop.DPoPAuth(key, access_token="tok"))

    assert response.status_code == 401 and len(calls) == 2
    assert calls == ["DPoP tok", "DPoP tok"]


def test_a_pem_key_is_checked_for_p256() -> None:
    key = dpop.new_key()
    sec1 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()

    assert dpop.load_pem_key(pem_of(key)).private_numbers() == key.private_numbers()
    assert dpop.load_pem_key(sec1.replace("\n", "\\n")).private_numbers() == key.private_numbers()
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        dpop.load_pem_key("nonsense")
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="P-256"):
        dpop.load_pem_key(rsa_pem.decode())
    with pytest.raises(ValueError, match="P-256"):
        dpop.load_pem_key(pem_of(ec.generate_private_key(ec.SECP384R1())))
