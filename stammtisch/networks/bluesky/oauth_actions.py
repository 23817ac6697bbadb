"""Writes for Bluesky channels connected by AT Protocol OAuth: connecting, storing refreshed
tokens and the servers' DPoP nonces. Everything secret (tokens, the DPoP key, nonces) is kept in
`Channel.credentials`, which is encrypted at rest; `network_data` holds the PDS, the issuer and
when the OAuth session began."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stammtisch.core.actions import Actor, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.actions import do_connect_channel, https_avatar, merge_credentials
from stammtisch.networks.base import NetworkError
from stammtisch.networks.bluesky import api, auth, dpop, identity, oauth
from stammtisch.networks.models import Channel

NETWORK = "bluesky"
# network_data keys that belong to one way of signing in (dropped when a channel switches).
APP_PASSWORD_DATA = ("refresh_expires_at",)
OAUTH_DATA = ("issuer", "scope", "oauth_started_at")


def token_credentials(
    token: dict[str, Any], *, dpop_jwk: dict[str, str] | None = None, as_nonce: str = "", pds_nonce: str = ""
) -> dict[str, Any]:
    """The credentials kept from a token answer. Empty values are left out by `merge_credentials`,
    so an answer without a refresh token keeps the stored one; the DPoP key is only given at
    connect time and then kept."""
    return {
        "auth": auth.OAUTH,
        "access_token": token.get("access_token") or "",
        "refresh_token": token.get("refresh_token") or "",
        "expires_at": oauth.expires_at(token),
        "dpop_nonce_as": as_nonce,
        "dpop_nonce_pds": pds_nonce,
        **({"dpop_jwk": dpop_jwk} if dpop_jwk else {}),
    }


def profile_of(
    account: identity.Account, access_token: str, key: ec.EllipticCurvePrivateKey
) -> tuple[dict[str, Any], str]:
    """(profile, the PDS's DPoP nonce): the account's display name and avatar, read through its
    PDS with the new token; an empty profile when the AppView is slow."""
    signer = dpop.DPoPAuth(key, access_token=access_token)
    try:
        with api.client(account.pds) as http:
            http.auth = signer
            response = api.send(http, "GET", api.GET_PROFILE, "profile", params={"actor": account.did})
        return api.json_of(response, "profile"), signer.nonce
    except NetworkError:
        return {}, signer.nonce


def forget_other_sign_in(workspace: Workspace, *, did: str, handle: str, keep: str) -> None:
    """Before a (re)connect: if the account's channel was signed in the other way (app password
    vs. OAuth), drop those credentials, so that nothing of the old way is merged into the new one.
    `keep`: "oauth" or "app_password". Call within the connect's transaction."""
    channels = Channel.objects.select_for_update().filter(workspace=workspace, network=NETWORK)
    for channel in channels.filter(Q(remote_account_id=did) | Q(handle=handle)):
        if auth.uses_oauth(channel.credentials) == (keep == auth.OAUTH) or not channel.credentials:
            continue
        stale = APP_PASSWORD_DATA if keep == auth.OAUTH else OAUTH_DATA
        channel.credentials = {}
        channel.network_data = {k: v for k, v in (channel.network_data or {}).items() if k not in stale}
        channel.save(update_fields=["credentials", "network_data"])


@transaction.atomic
def do_connect_bluesky_oauth_channel(
    actor: Actor,
    workspace: Workspace,
    *,
    account: identity.Account,
    token: dict[str, Any],
    key: ec.EllipticCurvePrivateKey,
    as_nonce: str,
    pds_nonce: str,
    profile: dict[str, Any],
) -> Channel:
    """Connect the account the token belongs to, or reconnect its channel in place (matched by
    DID, which survives a change of handle), keeping its posts and history."""
    require_perm(actor, workspace, Perm.MANAGE)
    handle = account.handle or account.did
    forget_other_sign_in(workspace, did=account.did, handle=handle, keep=auth.OAUTH)
    now = timezone.now()
    return do_connect_channel(
        actor,
        workspace,
        network=NETWORK,
        handle=handle,
        display_name=str(profile.get("displayName") or handle),
        remote_account_id=account.did,
        credentials=token_credentials(token, dpop_jwk=dpop.private_jwk(key), as_nonce=as_nonce, pds_nonce=pds_nonce),
        network_data={
            "pds": account.pds,
            "issuer": account.issuer,
            "scope": str(token.get("scope") or ""),
            "oauth_started_at": now.isoformat(),
        },
        avatar_url=https_avatar(profile.get("avatar")),
        # Must reconnect by: the refresh token's (estimated) end (docs/networks/health.md).
        token_expires_at=oauth.reconnect_by(now, now),
        match_remote_id=True,
    )


def _started(channel: Channel, now: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str((channel.network_data or {}).get("oauth_started_at") or ""))
    except ValueError:
        return now


def refresh_oauth_session(channel: Channel) -> None:
    """Refresh the tokens of an OAuth channel and store them at once (refresh tokens are used up
    by the request). Call with the channel row locked. The issuer must still be an atproto
    authorization server and must answer for the same account; a refused refresh token is an
    `auth` error (reconnect), a server that does not answer a transient one."""
    credentials = channel.credentials or {}
    refresh_token = credentials.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise NetworkError("Bluesky: the channel has no refresh token; please reconnect it", auth=True)
    key = auth.dpop_key(credentials)
    issuer = str((channel.network_data or {}).get("issuer") or "")
    try:
        metadata = identity.authorization_server_metadata(issuer)
    except identity.ResolveError as error:
        if error.transient:
            raise NetworkError(f"Bluesky token refresh: {error.message}", retry_after=300) from None
        raise NetworkError(f"Bluesky token refresh: {error.message}", permanent=True) from None
    token, as_nonce = oauth.refresh(
        metadata, key=key, nonce=str(credentials.get("dpop_nonce_as") or ""), refresh_token=refresh_token
    )
    sub = oauth.check_token(token, "token refresh")
    if sub != channel.remote_account_id:
        raise NetworkError("Bluesky token refresh: the server answered for another account", auth=True)
    store_refreshed_token(channel, token, as_nonce)


def store_refreshed_token(channel: Channel, token: dict[str, Any], as_nonce: str) -> None:
    """Keep a refreshed token (channel row locked). Merged: an answer without a refresh token
    keeps the stored one. A new refresh token moves the reconnect deadline. Not audited."""
    now = timezone.now()
    channel.credentials = merge_credentials(channel.credentials, token_credentials(token, as_nonce=as_nonce))
    # The old expiry never outlives its token (an answer without expires_in: unknown, "").
    channel.credentials["expires_at"] = oauth.expires_at(token)
    fields = ["credentials"]
    if token.get("refresh_token"):
        channel.token_expires_at = oauth.reconnect_by(_started(channel, now), now)
        fields.append("token_expires_at")
    if token.get("scope"):
        channel.network_data = {**(channel.network_data or {}), "scope": str(token["scope"])}
        fields.append("network_data")
    channel.save(update_fields=fields)


def keep_pds_nonce(channel: Channel, http: httpx.Client) -> None:
    """Remember the PDS's latest DPoP nonce for the channel's next calls (only when it changed;
    only the nonce is written, so tokens stored meanwhile by a refresh are kept)."""
    nonce = auth.pds_nonce(http)
    if not nonce or nonce == (channel.credentials or {}).get("dpop_nonce_pds"):
        return
    with transaction.atomic():
        locked = Channel.objects.select_for_update().filter(pk=channel.pk).first()
        if locked is None or not auth.uses_oauth(locked.credentials):
            return
        locked.credentials = {**locked.credentials, "dpop_nonce_pds": nonce}
        locked.save(update_fields=["credentials"])
    channel.credentials = {**(channel.credentials or {}), "dpop_nonce_pds": nonce}
