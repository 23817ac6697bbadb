"""Writes for Threads: connecting a profile and storing refreshed tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from stammtisch.core.actions import Actor
from stammtisch.core.models import Workspace
from stammtisch.networks.actions import do_connect_channel, https_avatar, merge_credentials
from stammtisch.networks.models import Channel

NETWORK = "threads"


def expires_at(token: dict[str, Any]) -> dt.datetime | None:
    """When a long-lived token runs out (60 days), or None when Threads did not say."""
    try:
        seconds = int(token.get("expires_in") or 0)
    except (TypeError, ValueError):
        return None
    return timezone.now() + dt.timedelta(seconds=seconds) if seconds > 0 else None


def token_credentials(token: dict[str, Any]) -> dict[str, Any]:
    """The credentials kept from a token answer. `issued_at` is kept because Threads refreshes only
    tokens at least 24 hours old. The token's expiry is `Channel.token_expires_at` ("reconnect by",
    docs/networks/health.md): a Threads token cannot be renewed once it has run out."""
    return {"access_token": token.get("access_token"), "issued_at": timezone.now().isoformat()}


def do_connect_threads_channel(
    actor: Actor, workspace: Workspace, *, token: dict[str, Any], user: dict[str, Any]
) -> Channel:
    """Connect (or reconnect in place) the profile the token belongs to. Threads user ids are
    stable while the username can change, so the channel is matched by id first."""
    return do_connect_channel(
        actor,
        workspace,
        network=NETWORK,
        handle=str(user["username"]),
        display_name=str(user.get("name") or user["username"]),
        remote_account_id=str(user["id"]),
        credentials=token_credentials(token),
        avatar_url=https_avatar(user.get("threads_profile_picture_url")),
        token_expires_at=expires_at(token),
        match_remote_id=True,
    )


def store_refreshed_token(channel: Channel, token: dict[str, Any]) -> None:
    """Keep a refreshed token (called with the channel row locked) and move the reconnect deadline.
    Merged, so an answer without a token never empties the stored one. Not audited: no one acted."""
    channel.credentials = merge_credentials(channel.credentials, token_credentials(token))
    fields = ["credentials"]
    expires = expires_at(token)
    if expires is not None:
        channel.token_expires_at = expires
        fields.append("token_expires_at")
    channel.save(update_fields=fields)
