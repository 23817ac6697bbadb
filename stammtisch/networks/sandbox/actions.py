"""Writes on the Stammtisch side of the Sandbox: connecting a workspace to a Sandbox account."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from stammtisch.core.actions import Actor, audit
from stammtisch.core.models import Workspace
from stammtisch.networks.actions import announce_connected
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import NETWORK_NAMES
from stammtisch.networks.sandbox import simulation
from stammtisch.networks.sandbox.models import SandboxAccount

# What a Sandbox channel may stand in for (a label only; it changes nothing in the simulation).
STANDS_IN_FOR = [("", _("Nothing in particular")), *NETWORK_NAMES.items()]


class HandleTaken(ValueError):
    """The Sandbox handle belongs to another workspace."""


def account_taken(handle: str, workspace: Workspace) -> bool:
    return (
        SandboxAccount.objects.filter(handle=handle)
        .exclude(workspace__isnull=True)
        .exclude(workspace=workspace)
        .exists()
    )


@transaction.atomic
def do_connect_sandbox_channel(
    actor: Actor, workspace: Workspace, handle: str, display_name: str, stands_in_for: str = ""
) -> Channel:
    """Create the Sandbox account `handle` if needed and connect the workspace to it with a new
    token. Connecting again (a reconnect) gives the existing channel a new token."""
    if account_taken(handle, workspace):
        raise HandleTaken(handle)
    account = SandboxAccount.objects.filter(handle=handle).first()
    if account is None:
        account = simulation.create_account(handle, display_name, workspace=workspace)
    token = simulation.issue_token(account)
    channel, created = Channel.objects.update_or_create(
        workspace=workspace,
        network="sandbox",
        handle=handle,
        defaults={
            "display_name": display_name,
            "stands_in_for": stands_in_for,
            "remote_account_id": account.remote_id,
            "credentials": {"token": token},
            "health": Channel.Health.OK,
            "health_message": "",
        },
    )
    audit(
        actor,
        "channel.connect" if created else "channel.reconnect",
        workspace=workspace,
        obj=channel,
        summary=f"Sandbox @{handle}",
        data={"network": "sandbox", "handle": handle, "stands_in_for": stands_in_for},
    )
    announce_connected(channel, created=created)
    return channel
