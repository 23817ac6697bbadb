from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.networks.access import get_channel_for_member
from stammtisch.networks.actions import do_disconnect_channel
from stammtisch.networks.models import Channel
from stammtisch.networks.registry import CONNECTORS, NETWORK_NAMES, enabled_keys

# Names of the networks a channel can stand in for (the demo's Sandbox "Instagram"). Proper
# names, not translated. Connectors for these come with the networks issue.
HEALTH_BADGES: dict[str, str] = {
    Channel.Health.OK: "badge-ok",
    Channel.Health.NEEDS_RECONNECT: "badge-warn",
    Channel.Health.ERROR: "badge-danger",
    Channel.Health.DISCONNECTED: "",
}


@dataclass(frozen=True)
class ConnectOption:
    key: str
    label: str
    url: str | None  # None: the network's connect page is not available on this server yet


def connect_options(slug: str) -> list[ConnectOption]:
    """One entry per enabled network; each network package provides the URL `<key>:connect`."""
    options = []
    for key in enabled_keys():
        try:
            url: str | None = reverse(f"{key}:connect", kwargs={"slug": slug})
        except NoReverseMatch:
            url = None
        options.append(ConnectOption(key=key, label=str(CONNECTORS[key][0]), url=url))
    return options


@dataclass(frozen=True)
class ChannelRow:
    channel: Channel
    stands_in_for: str
    badge: str
    reconnect_url: str | None  # set when the channel needs it and its network can connect


@workspace_view(Perm.VIEW)
@require_GET
def channels(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    options = connect_options(workspace.slug)
    connect_urls = {option.key: option.url for option in options}
    rows = [
        ChannelRow(
            channel=channel,
            stands_in_for=channel.stands_in_for_label,
            badge=HEALTH_BADGES.get(channel.health, ""),
            reconnect_url=connect_urls.get(channel.network)
            if channel.health in (Channel.Health.NEEDS_RECONNECT, Channel.Health.ERROR)
            else None,
        )
        for channel in Channel.objects.filter(workspace=workspace).defer("credentials")
    ]
    return render(
        request,
        "networks/channels.html",
        {
            "nav": "settings",
            "tab": "channels",
            "active": [r for r in rows if r.channel.health != Channel.Health.DISCONNECTED],
            "disconnected": [r for r in rows if r.channel.health == Channel.Health.DISCONNECTED],
            "connect_options": options,
            "planned_networks": sorted(name for key, name in NETWORK_NAMES.items() if key not in CONNECTORS),
            "can_manage": request.membership.can(Perm.MANAGE),  # type: ignore[attr-defined]
        },
    )


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def channel_disconnect(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_channel_for_member(request, channel_id)
    slug = request.workspace.slug  # type: ignore[attr-defined]
    if request.method == "POST":
        try:
            do_disconnect_channel(Actor.from_request(request), channel)
        except ActionError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("“%(name)s” was disconnected.") % {"name": channel.display_name})
        return redirect("networks:channels", slug=slug)
    return render(
        request,
        "networks/channel_disconnect.html",
        {"nav": "settings", "tab": "channels", "channel": channel},
    )


@workspace_view(Perm.VIEW)
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """Connection health: each channel's status, token expiry, last sync and last error
    (networks/health.py)."""
    from django.utils import timezone

    from stammtisch.networks import health as channel_health

    workspace = request.workspace  # type: ignore[attr-defined]
    channels = list(Channel.objects.filter(workspace=workspace).select_related("workspace").defer("credentials"))
    rows = channel_health.health_rows(channels, timezone.now())
    return render(
        request,
        "networks/health.html",
        {
            "nav": "settings",
            "tab": "channels",
            "rows": [row for row in rows if row.status != channel_health.Status.DISCONNECTED],
            "disconnected": [row for row in rows if row.status == channel_health.Status.DISCONNECTED],
            "can_manage": request.membership.can(Perm.MANAGE),  # type: ignore[attr-defined]
        },
    )
