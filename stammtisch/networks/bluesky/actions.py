"""Writes for Bluesky: connecting an account with an app password and storing refreshed sessions."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.actions import do_connect_channel, https_avatar, merge_credentials
from stammtisch.networks.base import NetworkError
from stammtisch.networks.bluesky import api
from stammtisch.networks.bluesky.oauth_actions import forget_other_sign_in
from stammtisch.networks.models import Channel

NETWORK = "bluesky"


def session_data(session: dict[str, Any], pds: str) -> dict[str, Any]:
    refresh_expires = api.jwt_expiry(str(session.get("refreshJwt") or ""))
    return {"pds": pds, **({"refresh_expires_at": refresh_expires.isoformat()} if refresh_expires else {})}


def sign_in(pds: str, identifier: str, app_password: str) -> dict[str, Any]:
    """createSession; raises ActionError with a message for the user."""
    try:
        session = api.create_session(pds, identifier, app_password)
    except NetworkError as error:
        if "AuthFactorTokenRequired" in error.message:
            raise ActionError(
                _("This account asks for a sign-in code by e-mail. Please use an app password instead.")
            ) from None
        if error.permanent:  # auth included: 401 "Invalid identifier or password"
            raise ActionError(
                _("Bluesky does not accept this handle and app password. Check both and try again.")
            ) from None
        if error.retry_after and error.retry_after > 60:
            raise ActionError(_("Bluesky asks us to slow down. Please try again in a few minutes.")) from None
        raise ActionError(_("The Bluesky server cannot be reached right now. Please try again in a moment.")) from None
    if not session.get("did") or not session.get("accessJwt") or not session.get("refreshJwt"):
        raise ActionError(_("The Bluesky server gave an answer Stammtisch does not understand."))
    if session.get("active") is False:
        raise ActionError(
            _("This Bluesky account is not active (status: %(status)s).") % {"status": session.get("status") or "?"}
        )
    return session


def profile_of(pds: str, session: dict[str, Any]) -> dict[str, Any]:
    """The account's profile for its display name and avatar; empty when the AppView is slow."""
    try:
        with api.client(pds, str(session["accessJwt"])) as http:
            response = api.send(http, "GET", api.GET_PROFILE, "profile", params={"actor": session["did"]})
        return api.json_of(response, "profile")
    except NetworkError:
        return {}


def do_connect_bluesky_channel(
    actor: Actor, workspace: Workspace, *, identifier: str, app_password: str, pds: str
) -> Channel:
    """Sign in with the app password and connect the account, or reconnect it in place (matched by
    its DID, which survives a change of handle). The app password itself is not stored: the
    session's refresh token renews itself on every refresh."""
    require_perm(actor, workspace, Perm.MANAGE)
    session = sign_in(pds, identifier, app_password)
    profile = profile_of(pds, session)
    handle = str(session.get("handle") or profile.get("handle") or session["did"])
    with transaction.atomic():
        # A channel that was connected by OAuth before keeps nothing of that sign-in.
        forget_other_sign_in(workspace, did=str(session["did"]), handle=handle, keep="app_password")
        return do_connect_channel(
            actor,
            workspace,
            network=NETWORK,
            handle=handle,
            display_name=str(profile.get("displayName") or handle),
            remote_account_id=str(session["did"]),
            credentials=api.session_credentials(session),
            network_data=session_data(session, pds),
            avatar_url=https_avatar(profile.get("avatar")),
            # Must reconnect by: the refresh token's expiry (docs/networks/health.md).
            token_expires_at=api.jwt_expiry(str(session.get("refreshJwt") or "")),
            match_remote_id=True,
        )


def store_refreshed_session(channel: Channel, session: dict[str, Any]) -> None:
    """Keep a refreshed session (called with the channel row locked). Merged, so an answer without
    a refresh token never replaces the stored one. Not audited: no one acted."""
    channel.credentials = merge_credentials(channel.credentials, api.session_credentials(session))
    if session.get("refreshJwt"):  # a rotated refresh token moves the reconnect deadline
        channel.token_expires_at = api.jwt_expiry(str(session["refreshJwt"]))
    pds = str((channel.network_data or {}).get("pds") or api.DEFAULT_PDS)
    channel.network_data = {**(channel.network_data or {}), **session_data(session, pds)}
    fields = ["credentials", "token_expires_at", "network_data"]
    if session.get("handle") and session["handle"] != channel.handle:
        channel.handle = str(session["handle"])
        fields.append("handle")
    channel.save(update_fields=fields)
