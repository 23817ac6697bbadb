"""Connecting a Bluesky account with an app password; the page also offers AT Protocol OAuth
("Sign in with Bluesky", oauth_views.py) when the server has a client key."""

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
from stammtisch.networks.bluesky.actions import do_connect_bluesky_channel
from stammtisch.networks.bluesky.forms import ConnectBlueskyForm
from stammtisch.networks.bluesky.oauth_views import connect_context


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def connect(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    if not settings.NETWORKS_ENABLED.get("bluesky", False):
        messages.error(request, _("Bluesky is switched off on this server."))
        return redirect("networks:channels", slug=slug)
    form = ConnectBlueskyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            channel = do_connect_bluesky_channel(
                Actor.from_request(request),
                request.workspace,
                identifier=form.cleaned_data["identifier"],
                app_password=form.cleaned_data["app_password"],
                pds=form.cleaned_data["pds_url"],
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Bluesky account “%(name)s” connected.") % {"name": channel.display_name})
            return redirect("networks:channels", slug=slug)
    return render(request, "bluesky/connect.html", {"form": form, "nav": "settings", **connect_context()})
