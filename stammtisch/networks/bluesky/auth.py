"""How a Bluesky channel signs its XRPC calls to its PDS; the connector asks here.

Two ways to sign in, marked in `Channel.credentials["auth"]`:

* app password (no marker, the original way): `{"access_jwt", "refresh_jwt"}` from
  createSession; calls carry `Authorization: Bearer <accessJwt>`; the access token's expiry is
  read from the JWT.
* AT Protocol OAuth (`"auth": "oauth"`): `{"access_token", "refresh_token", "expires_at",
  "dpop_jwk", "dpop_nonce_as", "dpop_nonce_pds"}`; calls carry `Authorization: DPoP <token>` and
  a DPoP proof bound to the token (`ath`) made with the channel's own key, and learn the PDS's
  nonce as they go (`dpop.DPoPAuth`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from stammtisch.networks.base import NetworkError
from stammtisch.networks.bluesky import api, dpop
from stammtisch.networks.models import Channel

OAUTH = "oauth"


def uses_oauth(credentials: dict[str, Any] | None) -> bool:
    return (credentials or {}).get("auth") == OAUTH


def access_token(credentials: dict[str, Any] | None) -> str:
    credentials = credentials or {}
    token = credentials.get("access_token" if uses_oauth(credentials) else "access_jwt")
    return token if isinstance(token, str) else ""


def access_expiry(credentials: dict[str, Any] | None) -> dt.datetime | None:
    """When the access token runs out; None when unknown (then it is used until refused)."""
    if not uses_oauth(credentials):
        return api.jwt_expiry(access_token(credentials))
    try:
        return dt.datetime.fromisoformat(str((credentials or {}).get("expires_at") or ""))
    except ValueError:
        return None


def dpop_key(credentials: dict[str, Any]) -> ec.EllipticCurvePrivateKey:
    try:
        return dpop.key_from_jwk(credentials.get("dpop_jwk") or {})
    except ValueError:
        raise NetworkError("Bluesky: the channel's DPoP key is missing; please reconnect it", auth=True) from None


def pds_client(channel: Channel, token: str) -> httpx.Client:
    """A client for the channel's PDS that signs every call as the channel's account."""
    pds = str((channel.network_data or {}).get("pds") or api.DEFAULT_PDS)
    credentials = channel.credentials or {}
    if not uses_oauth(credentials):
        return api.client(pds, token)
    http = api.client(pds)
    http.auth = dpop.DPoPAuth(
        dpop_key(credentials), nonce=str(credentials.get("dpop_nonce_pds") or ""), access_token=token
    )
    return http


def set_token(http: httpx.Client, token: str) -> None:
    """Use a refreshed access token for the client's next calls."""
    if isinstance(http.auth, dpop.DPoPAuth):
        http.auth.access_token = token
    else:
        http.headers["Authorization"] = f"Bearer {token}"


def pds_nonce(http: httpx.Client) -> str:
    """The PDS's latest DPoP nonce seen by this client ("" for app-password clients)."""
    return http.auth.nonce if isinstance(http.auth, dpop.DPoPAuth) else ""
