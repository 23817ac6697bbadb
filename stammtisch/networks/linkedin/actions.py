"""Writes for LinkedIn: connecting a member profile or a company page, storing refreshed tokens.

Every channel keeps its own copy of the member's tokens (a page is reached with the token of the
admin who connected it). `Channel.remote_account_id` is the author URN (`urn:li:person:…` or
`urn:li:organization:…`), so a member and a page can never be mistaken for one another.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stammtisch.core.actions import Actor
from stammtisch.core.models import Workspace
from stammtisch.networks.actions import do_connect_channel, https_avatar, merge_credentials
from stammtisch.networks.linkedin import api, oauth
from stammtisch.networks.models import Channel

NETWORK = "linkedin"
MEMBER = "member"
ORGANIZATION = "organization"


def _in_seconds(value: Any) -> str:
    """Now + `value` seconds (ISO 8601), or "" when LinkedIn did not say."""
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return ""
    return (timezone.now() + dt.timedelta(seconds=seconds)).isoformat() if seconds > 0 else ""


def token_credentials(token: dict[str, Any]) -> dict[str, Any]:
    """The credentials kept from a token answer: both tokens and when each runs out."""
    return {
        "access_token": token.get("access_token"),
        "refresh_token": token.get("refresh_token"),
        "expires_at": _in_seconds(token.get("expires_in")),
        "refresh_expires_at": _in_seconds(token.get("refresh_token_expires_in")),
    }


def reconnect_by(credentials: dict[str, Any]) -> dt.datetime | None:
    """`Channel.token_expires_at` ("the user must reconnect by then"): the refresh token's end
    when there is one (refreshing never extends it), else the access token's."""
    key = "refresh_expires_at" if credentials.get("refresh_token") else "expires_at"
    when = parse_datetime(str(credentials.get(key) or ""))
    return when if when is not None and timezone.is_aware(when) else None


def do_connect_linkedin_member(
    actor: Actor, workspace: Workspace, *, token: dict[str, Any], member: dict[str, Any]
) -> Channel:
    """Connect (or reconnect in place) the member's own profile. LinkedIn's OpenID profile has no
    public handle, so the handle is the member id (`sub`); the channel is matched by its URN."""
    member_id = str(member["sub"])
    credentials = token_credentials(token)
    return do_connect_channel(
        actor,
        workspace,
        network=NETWORK,
        handle=member_id,
        display_name=str(member.get("name") or member_id),
        remote_account_id=api.person_urn(member_id),
        credentials=credentials,
        network_data={"kind": MEMBER, "scopes": oauth.scopes_of(token), "connected_by": member_id},
        avatar_url=https_avatar(member.get("picture")),
        token_expires_at=reconnect_by(credentials),
        match_remote_id=True,
    )


def do_connect_linkedin_organization(
    actor: Actor, workspace: Workspace, *, token: dict[str, Any], member_id: str, organization: dict[str, Any]
) -> Channel:
    """Connect (or reconnect in place) a company page the member administers, with the member's
    token. The handle is the page's public name (its id when it has none)."""
    organization_id = str(organization["id"])
    credentials = token_credentials(token)
    return do_connect_channel(
        actor,
        workspace,
        network=NETWORK,
        handle=str(organization.get("vanity_name") or organization_id),
        display_name=str(organization.get("name") or organization_id),
        remote_account_id=api.organization_urn(organization_id),
        credentials=credentials,
        network_data={
            "kind": ORGANIZATION,
            "scopes": oauth.scopes_of(token),
            "connected_by": member_id,
            "role": str(organization.get("role") or ""),
        },
        token_expires_at=reconnect_by(credentials),
        match_remote_id=True,
    )


def store_refreshed_token(channel: Channel, token: dict[str, Any]) -> None:
    """Keep a refreshed token (called with the channel row locked). Merged, so an answer without
    a refresh token keeps the stored one and its expiry. Not audited: no one acted."""
    channel.credentials = merge_credentials(channel.credentials, token_credentials(token))
    channel.token_expires_at = reconnect_by(channel.credentials) or channel.token_expires_at
    channel.save(update_fields=["credentials", "token_expires_at"])
