"""Writes for Facebook and Instagram: connecting the Pages and Instagram accounts a person picked."""

from __future__ import annotations

from typing import Any

from stammtisch.core.actions import Actor
from stammtisch.core.models import Workspace
from stammtisch.networks.actions import do_connect_channel, https_avatar
from stammtisch.networks.models import Channel


def do_connect_facebook_page(actor: Actor, workspace: Workspace, *, page: dict[str, Any], user_id: str) -> Channel:
    """Connect (or reconnect in place) one Page. Page ids are global and stable while the Page's
    @username can change or be missing, so the channel is matched by id. The Page token derived
    from a long-lived user token does not expire: `token_expires_at` stays None."""
    page_id = str(page["id"])
    return do_connect_channel(
        actor,
        workspace,
        network="facebook",
        handle=str(page.get("username") or page_id),
        display_name=str(page.get("name") or page_id),
        remote_account_id=page_id,
        credentials={"access_token": str(page["access_token"])},
        network_data={"page_id": page_id, "tasks": list(page.get("tasks") or []), "connected_by": user_id},
        avatar_url=https_avatar(((page.get("picture") or {}).get("data") or {}).get("url")),
        token_expires_at=None,
        match_remote_id=True,
    )


def do_connect_instagram_account(actor: Actor, workspace: Workspace, *, page: dict[str, Any], user_id: str) -> Channel:
    """Connect (or reconnect in place) the Instagram professional account linked to `page`. Calls
    go through graph.facebook.com with the Page's token (Instagram API with Facebook Login)."""
    account = page["instagram_business_account"]
    ig_id = str(account["id"])
    return do_connect_channel(
        actor,
        workspace,
        network="instagram",
        handle=str(account.get("username") or ig_id),
        display_name=str(account.get("name") or account.get("username") or ig_id),
        remote_account_id=ig_id,
        credentials={"access_token": str(page["access_token"])},
        network_data={"page_id": str(page["id"]), "page_name": str(page.get("name") or ""), "connected_by": user_id},
        avatar_url=https_avatar(account.get("profile_picture_url")),
        token_expires_at=None,
        match_remote_id=True,
    )
