"""AT Protocol OAuth for Bluesky, with Stammtisch as a confidential client.

https://atproto.com/specs/oauth is the authority; https://docs.bsky.app/docs/advanced-guides/oauth-client
explains it. In short:

* Our `client_id` is the URL of our client metadata document (`client_metadata`, served at
  /bluesky/oauth/client-metadata.json under STAMMTISCH_BASE_URL). We authenticate with
  `private_key_jwt`: a short-lived ES256 JWT signed with the key in STAMMTISCH_BLUESKY_OAUTH_KEY,
  whose public half is published at /bluesky/oauth/jwks.json. There is no client secret.
* Each connection gets its own DPoP key; every request to the authorization server and to the PDS
  carries a DPoP proof made with it (`dpop.DPoPAuth`, which also handles the servers' nonces).
* The flow: a pushed authorization request (PAR) with PKCE S256, `state` and `login_hint`;
  the browser goes to the authorization endpoint with only `client_id` and `request_uri`; the
  callback exchanges the code (with the PKCE verifier and a client assertion) for DPoP-bound
  tokens, whose `sub` is the account's DID. The views check `state`, `iss` and `sub`, and
  `identity.confirm_account` checks that the issuer really speaks for that DID.
* Refresh: `grant_type=refresh_token` at the same issuer, with the same DPoP key and a new client
  assertion. Refresh tokens are single-use: each answer brings the next one.

Token lifetimes are the authorization server's choice and are not announced; `REFRESH_LIFETIME`
and `SESSION_LIFETIME` are those of Bluesky's own server (packages/oauth/oauth-provider/src/
constants.ts in github.com/bluesky-social/atproto: a confidential client's refresh token lasts one
month, its session one year), used to plan when a channel must be reconnected.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from stammtisch.core.http import UnsafeURL, network_error_from, retry_after_seconds
from stammtisch.networks.base import NetworkError
from stammtisch.networks.bluesky import dpop, identity

# What we ask for: the atproto profile and the transitional scope with the rights of an app
# password (post, upload, read through the PDS; no direct messages, no account settings).
SCOPE = "atproto transition:generic"
REQUIRED_SCOPES = ("atproto", "transition:generic")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60  # seconds; Bluesky's server accepts assertions up to a minute old
REFRESH_LIFETIME = dt.timedelta(days=30)
SESSION_LIFETIME = dt.timedelta(days=365)
CLIENT_NAME = "Stammtisch"


def configured() -> bool:
    """A client key is set: the metadata documents are served (also while the network is off,
    so that existing sessions are not revoked by servers that re-read them)."""
    return bool(getattr(settings, "BLUESKY_OAUTH_KEY", ""))


def enabled() -> bool:
    """Connecting by OAuth is offered: a client key is set and Bluesky is switched on."""
    return configured() and bool(settings.NETWORKS_ENABLED.get("bluesky", False))


@functools.lru_cache(maxsize=2)
def _load_key(pem: str) -> ec.EllipticCurvePrivateKey:
    return dpop.load_pem_key(pem)


def client_key() -> ec.EllipticCurvePrivateKey:
    return _load_key(settings.BLUESKY_OAUTH_KEY)


def client_public_jwk() -> dict[str, str]:
    jwk = dpop.public_jwk(client_key())
    return {**jwk, "kid": dpop.thumbprint(jwk), "use": "sig", "alg": dpop.ALG}


def _absolute(name: str) -> str:
    return f"{settings.BASE_URL}{reverse(name)}"


def client_id() -> str:
    return _absolute("bluesky:oauth_client_metadata")


def redirect_uri() -> str:
    return _absolute("bluesky:oauth_callback")


def client_metadata() -> dict[str, Any]:
    """The client metadata document; its URL is our client_id (https://atproto.com/specs/oauth,
    "Client ID Metadata Document")."""
    return {
        "client_id": client_id(),
        "client_name": CLIENT_NAME,
        "client_uri": settings.BASE_URL,
        "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [redirect_uri()],
        "scope": SCOPE,
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": dpop.ALG,
        "jwks_uri": _absolute("bluesky:oauth_jwks"),
        "dpop_bound_access_tokens": True,
    }


def jwks() -> dict[str, Any]:
    return {"keys": [client_public_jwk()]}


def client_assertion(issuer: str) -> str:
    """A fresh client assertion for the authorization server `issuer` (RFC 7523)."""
    now = int(time.time())
    cid = client_id()
    return dpop.sign_jwt(
        client_key(),
        {"kid": client_public_jwk()["kid"]},
        {"iss": cid, "sub": cid, "aud": issuer, "jti": dpop.jti(), "iat": now, "exp": now + ASSERTION_LIFETIME},
    )


def _client_auth(issuer: str) -> dict[str, str]:
    return {
        "client_id": client_id(),
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(issuer),
    }


# --- talking to the authorization server ----------------------------------------------------------


def error_from(response: httpx.Response, what: str) -> NetworkError:
    """An OAuth error answer ({"error", "error_description"}, RFC 6749 §5.2) as a NetworkError.
    `invalid_grant` (a used, expired or revoked code or refresh token) means the channel must be
    connected again; a refused client (`invalid_client`) is the server's configuration, permanent
    but not the channel's fault."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    error = str(body.get("error") or "")[:100]
    description = str(body.get("error_description") or "")[:300]
    status = response.status_code
    text = (
        f"Bluesky {what}: HTTP {status}" + (f" {error}" if error else "") + (f": {description}" if description else "")
    )
    if status == 429:
        return NetworkError(text, retry_after=retry_after_seconds(response) or 60.0)
    if status >= 500 or status == 408:
        return NetworkError(text, retry_after=retry_after_seconds(response))
    if error == "invalid_grant":
        return NetworkError(text, auth=True)
    return NetworkError(text, permanent=True)


def _post(url: str, form: dict[str, str], auth: dpop.DPoPAuth, what: str) -> dict[str, Any]:
    try:
        with identity.client_for(url) as http:
            response = http.post(url, data=form, auth=auth)
    except httpx.HTTPError as exc:
        if isinstance(exc.__cause__, UnsafeURL):
            raise NetworkError(f"Bluesky {what}: {exc.__cause__}", permanent=True) from None
        raise network_error_from(exc, f"Bluesky {what}") from None
    if not response.is_success:
        raise error_from(response, what)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise NetworkError(f"Bluesky {what}: the answer is not a JSON object", permanent=True)
    return body


def push_authorization_request(
    metadata: dict[str, Any], *, key: ec.EllipticCurvePrivateKey, state: str, challenge: str, login_hint: str = ""
) -> tuple[str, str]:
    """PAR (RFC 9126) with PKCE and DPoP: returns (request_uri, the server's DPoP nonce)."""
    form = {
        "response_type": "code",
        "redirect_uri": redirect_uri(),
        "scope": SCOPE,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **({"login_hint": login_hint} if login_hint else {}),
        **_client_auth(str(metadata["issuer"])),
    }
    auth = dpop.DPoPAuth(key)
    body = _post(str(metadata["pushed_authorization_request_endpoint"]), form, auth, "sign-in request")
    request_uri = body.get("request_uri")
    if not isinstance(request_uri, str) or not request_uri:
        raise NetworkError("Bluesky sign-in request: no request_uri in the answer", permanent=True)
    return request_uri, auth.nonce


def authorization_url(metadata: dict[str, Any], request_uri: str) -> str:
    """Where the browser goes: the authorization endpoint with only client_id and request_uri."""
    url = httpx.URL(str(metadata["authorization_endpoint"]))
    return str(url.copy_merge_params({"client_id": client_id(), "request_uri": request_uri}))


def exchange_code(
    token_endpoint: str, issuer: str, *, key: ec.EllipticCurvePrivateKey, nonce: str, code: str, verifier: str
) -> tuple[dict[str, Any], str]:
    """The first token request: (token answer, the server's DPoP nonce)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(),
        "code_verifier": verifier,
        **_client_auth(issuer),
    }
    auth = dpop.DPoPAuth(key, nonce=nonce)
    return _post(token_endpoint, form, auth, "token"), auth.nonce


def refresh(
    metadata: dict[str, Any], *, key: ec.EllipticCurvePrivateKey, nonce: str, refresh_token: str
) -> tuple[dict[str, Any], str]:
    """A refresh token request: (token answer, the server's DPoP nonce)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **_client_auth(str(metadata["issuer"]))}
    auth = dpop.DPoPAuth(key, nonce=nonce)
    return _post(str(metadata["token_endpoint"]), form, auth, "token refresh"), auth.nonce


def check_token(token: dict[str, Any], what: str) -> str:
    """The account DID (`sub`) of a token answer after checking what the atproto profile requires:
    a DPoP access token, the granted scopes (always returned) including ours, and a DID."""
    scopes = str(token.get("scope") or "").split()
    if not token.get("access_token") or str(token.get("token_type") or "").lower() != "dpop":
        raise NetworkError(f"Bluesky {what}: the answer holds no DPoP access token", permanent=True)
    missing = [scope for scope in REQUIRED_SCOPES if scope not in scopes]
    if missing:
        raise NetworkError(f"Bluesky {what}: the access granted lacks {', '.join(missing)}", permanent=True)
    sub = str(token.get("sub") or "")
    if not identity.is_did(sub):
        raise NetworkError(f"Bluesky {what}: the answer names no account (sub)", permanent=True)
    return sub


def expires_at(token: dict[str, Any]) -> str:
    """When the access token runs out (ISO 8601), or "" when the server did not say."""
    try:
        seconds = int(token.get("expires_in") or 0)
    except (TypeError, ValueError):
        return ""
    return (timezone.now() + dt.timedelta(seconds=seconds)).isoformat() if seconds > 0 else ""


def reconnect_by(session_started: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When the user must connect again if nothing refreshes the session before: the current
    refresh token's end, at the latest the session's end."""
    return min(now + REFRESH_LIFETIME, session_started + SESSION_LIFETIME)
