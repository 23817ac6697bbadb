"""Writes for Mastodon: the per-instance app registration cache and connecting an account."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from stammtisch.core.actions import Actor
from stammtisch.core.models import Workspace
from stammtisch.networks.actions import do_connect_channel, https_avatar
from stammtisch.networks.mastodon import api, oauth
from stammtisch.networks.models import Channel, OAuthApp

NETWORK = "mastodon"


def redirect_uri() -> str:
    return str(settings.MASTODON_REDIRECT_URI)


def get_or_register_app(instance: str) -> OAuthApp:
    """Our app on `instance` for the configured redirect URI and the scopes the instance supports:
    from the cache, or registered now (POST /api/v1/apps) and cached. Not audited: it belongs to
    no workspace and holds nothing of a user."""
    info = oauth.server_info(instance)
    uri = redirect_uri()
    found = OAuthApp.objects.filter(network=NETWORK, server=instance, redirect_uri=uri, scopes=info.scopes).first()
    if found is not None:
        return found
    client_id, client_secret = oauth.register_app(instance, uri, info.scopes)
    try:
        with transaction.atomic():
            app = OAuthApp(network=NETWORK, server=instance, redirect_uri=uri, scopes=info.scopes, client_id=client_id)
            app.secrets = {"client_secret": client_secret}
            app.save()
            return app
    except IntegrityError:  # another request registered the same app a moment ago: use that one
        return OAuthApp.objects.get(network=NETWORK, server=instance, redirect_uri=uri, scopes=info.scopes)


def forget_app(app_id: int) -> None:
    """The instance no longer knows the app (`oauth.StaleApp`): the next connect registers anew."""
    OAuthApp.objects.filter(pk=app_id, network=NETWORK).delete()


def do_connect_mastodon_channel(
    actor: Actor, workspace: Workspace, *, instance: str, token: dict[str, Any], account: dict[str, Any]
) -> Channel:
    """Connect (or reconnect in place) the account the token belongs to. The handle is the full
    address `username@instance`, so the same name on two instances is two channels."""
    domain = api.instance_domain(instance)
    handle = f"{account['username']}@{domain}"
    return do_connect_channel(
        actor,
        workspace,
        network=NETWORK,
        handle=handle,
        display_name=str(account.get("display_name") or account["username"]),
        remote_account_id=str(account["id"]),
        credentials={"access_token": token["access_token"]},
        network_data={
            "instance": instance,
            "account_url": str(account.get("url") or ""),
            "scopes": str(token.get("scope") or ""),
        },
        avatar_url=https_avatar(account.get("avatar")),
    )
