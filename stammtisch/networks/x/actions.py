"""Writes for X: connecting an account and storing refreshed tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from stammtisch.core.actions import Actor
from stammtisch.core.models import Workspace
from stammtisch.networks.actions import do_connect_channel, https_avatar, merge_credentials
from stammtisch.networks.models import Channel

NETWORK = "x"


def expires_at(token: dict[str, Any]) -> str:
    """When the access token runs out (ISO 8601), or "" when X did not say."""
    try:
        seconds = int(token.get("expires_in") or 0)
    except (TypeError, ValueError):
        return ""
    return (timezone.now() + dt.timedelta(seconds=seconds)).isoformat() if seconds > 0 else ""


def token_credentials(token: dict[str, Any]) -> dict[str, Any]:
    """The credentials kept from a token answer. The access token's expiry travels with it in the
    credentials, not in `Channel.token_expires_at`: that field means "the user must reconnect by
    then", which for X (refresh tokens, offline.access) is never while the channel is in use."""
    return {
        "access_token": token.get("access_token"),
        "refresh_token": token.get("refresh_token"),
        "expires_at": expires_at(token),
    }


def do_connect_x_channel(actor: Actor, workspace: Workspace, *, token: dict[str, Any], user: dict[str, Any]) -> Channel:
    """Connect (or reconnect in place) the account the token belongs to. X's user ids are global
    and stable while the @username can change, so the channel is matched by id first."""
    return do_connect_channel(
        actor,
        workspace,
        network=NETWORK,
        handle=str(user["username"]),
        display_name=str(user.get("name") or user["username"]),
        remote_account_id=str(user["id"]),
        credentials=token_credentials(token),
        network_data={"scopes": str(token.get("scope") or "")},
        avatar_url=https_avatar(user.get("profile_image_url")),
        match_remote_id=True,
    )


def store_refreshed_token(channel: Channel, token: dict[str, Any]) -> None:
    """Keep a refreshed token (called with the channel row locked). Merged, so an answer without a
    new refresh token keeps the stored one. Not audited: no one acted, nothing changed in meaning."""
    channel.credentials = merge_credentials(channel.credentials, token_credentials(token))
    channel.save(update_fields=["credentials"])
