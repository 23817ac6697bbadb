"""ES256 keys, signed JWTs and DPoP proofs for AT Protocol OAuth, built on `cryptography`.

* Keys are NIST P-256 keys used with ES256, the one algorithm every atproto server must support
  (https://atproto.com/specs/oauth, "DPoP" and "Confidential Client Authentication").
* `sign_jwt` makes a compact JWS (RFC 7515) whose signature is the 64-byte r||s of RFC 7518 §3.4
  (`cryptography` returns DER, which JOSE does not use).
* `proof` makes a DPoP proof (RFC 9449 §4.2): header `typ: dpop+jwt`, `alg: ES256` and the public
  `jwk`; claims `jti` (random, per request), `htm`, `htu` (the URL without query and fragment),
  `iat`, the server's `nonce` once known and, towards the PDS, `ath` (base64url SHA-256 of the
  access token).
* `DPoPAuth` puts a fresh proof (and `Authorization: DPoP <token>`) on every request of an httpx
  client, and repeats a request once when the server asks for a new nonce: `use_dpop_nonce` as a
  JSON error from the authorization server (400) or in `WWW-Authenticate` from the PDS (401),
  with the nonce in the `DPoP-Nonce` header (https://docs.bsky.app/docs/advanced-guides/oauth-client).

This module imports no Django: settings.py uses `load_pem_key` to check the configured key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Generator
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALG = "ES256"
CURVE_BYTES = 32  # P-256 coordinates and scalars


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- keys -------------------------------------------------------------------------------------


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key (one per OAuth session for DPoP)."""
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(CURVE_BYTES, "big")),
        "y": b64url(numbers.y.to_bytes(CURVE_BYTES, "big")),
    }


def private_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The key as a private JWK (with `d`): how a channel keeps its DPoP key, encrypted."""
    d = key.private_numbers().private_value.to_bytes(CURVE_BYTES, "big")
    return {**public_jwk(key), "d": b64url(d)}


def key_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePrivateKey:
    """The private key of a JWK made by `private_jwk`; raises ValueError for anything else."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or not jwk.get("d"):
        raise ValueError("not a private P-256 JWK")
    try:
        key = ec.derive_private_key(int.from_bytes(b64url_decode(str(jwk["d"])), "big"), ec.SECP256R1())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a private P-256 JWK: {exc}") from None
    if public_jwk(key) != {k: jwk.get(k) for k in ("kty", "crv", "x", "y")}:
        raise ValueError("the JWK's public part does not belong to its private key")
    return key


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of an EC public key: our client key's `kid`."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    return b64url(hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest())


def load_pem_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """The client key from PEM text (PKCS #8 or SEC 1 "EC PRIVATE KEY", unencrypted). A value
    from an environment variable may carry its line breaks as literal `\\n`. Raises ValueError
    with a message for the operator."""
    text = pem.strip().replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise ValueError(
            f"not an unencrypted PEM private key ({exc}); create one with "
            "`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the key must be an elliptic-curve key on P-256 (prime256v1), for ES256")
    return key


# --- JWS --------------------------------------------------------------------------------------


def sign_jwt(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A compact ES256 JWS of `claims` (`alg` is set here)."""
    signing_input = f"{b64url(_compact_json({**header, 'alg': ALG}))}.{b64url(_compact_json(claims))}"
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64url(r.to_bytes(CURVE_BYTES, 'big') + s.to_bytes(CURVE_BYTES, 'big'))}"


def jti() -> str:
    return secrets.token_urlsafe(16)


def access_token_hash(token: str) -> str:
    """`ath`: base64url SHA-256 of the access token (the same transform as PKCE S256)."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def htu(url: httpx.URL | str) -> str:
    """The request URL as DPoP wants it: without query and fragment (RFC 9449 §4.2)."""
    return str(httpx.URL(url).copy_with(query=None, fragment=None))


def proof(
    key: ec.EllipticCurvePrivateKey, method: str, url: httpx.URL | str, *, nonce: str = "", access_token: str = ""
) -> str:
    claims: dict[str, Any] = {"jti": jti(), "htm": method.upper(), "htu": htu(url), "iat": int(time.time())}
    if nonce:
        claims["nonce"] = nonce
    if access_token:
        claims["ath"] = access_token_hash(access_token)
    return sign_jwt(key, {"typ": "dpop+jwt", "jwk": public_jwk(key)}, claims)


# --- the httpx side -----------------------------------------------------------------------------


def wants_new_nonce(response: httpx.Response) -> bool:
    """Did the server refuse the proof for its nonce (`use_dpop_nonce`)?"""
    if response.status_code == 401 and "use_dpop_nonce" in response.headers.get("WWW-Authenticate", ""):
        return True
    if response.status_code not in (400, 401):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "use_dpop_nonce"


class DPoPAuth(httpx.Auth):
    """Signs each request with a DPoP proof; with `access_token`, also sends it as
    `Authorization: DPoP <token>` and binds the proof to it (`ath`). `nonce` is the server's
    latest DPoP nonce: it is read from every answer, so the owner can keep it for next time."""

    requires_request_body = True  # a request may have to be sent twice
    requires_response_body = True  # the authorization server's nonce error is in the JSON body

    def __init__(self, key: ec.EllipticCurvePrivateKey, *, nonce: str = "", access_token: str = "") -> None:
        self.key = key
        self.nonce = nonce
        self.access_token = access_token

    def _sign(self, request: httpx.Request) -> None:
        if self.access_token:
            request.headers["Authorization"] = f"DPoP {self.access_token}"
        request.headers["DPoP"] = proof(
            self.key, request.method, request.url, nonce=self.nonce, access_token=self.access_token
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent_with = self.nonce
        self._sign(request)
        response = yield request
        fresh = response.headers.get("DPoP-Nonce", "")
        if fresh:
            self.nonce = fresh
        if fresh and fresh != sent_with and wants_new_nonce(response):
            self._sign(request)  # once: a second refusal is the caller's to handle
            response = yield request
            self.nonce = response.headers.get("DPoP-Nonce", "") or self.nonce
