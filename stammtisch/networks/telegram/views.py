"""Connecting a Telegram channel with a bot token (no OAuth: Telegram bots have none)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from stammtisch.core.access import WorkspaceRequest, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.networks.telegram.actions import do_connect_telegram_channel
from stammtisch.networks.telegram.forms import ConnectTelegramForm


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def connect(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    if not settings.NETWORKS_ENABLED.get("telegram", False):
        messages.error(request, _("Telegram is switched off on this server."))
        return redirect("networks:channels", slug=slug)
    form = ConnectTelegramForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            channel = do_connect_telegram_channel(
                Actor.from_request(request),
                request.workspace,
                token=form.cleaned_data["bot_token"],
                channel=form.cleaned_data["channel"],
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Telegram channel “%(name)s” connected.") % {"name": channel.display_name})
            if channel.network_data.get("linked_chat_id") and not channel.network_data.get("can_read_discussion"):
                messages.warning(
                    request,
                    _(
                        "The bot is not a member of the channel's discussion group, so comments cannot be read. "
                        "Add the bot to the group as an administrator to see them in Stammtisch."
                    ),
                )
            return redirect("networks:channels", slug=slug)
    return render(request, "telegram/connect.html", {"form": form, "nav": "settings"})
