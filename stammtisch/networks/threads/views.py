"""Connecting a Threads profile through the Authorization Window of the Threads use case.

`connect` (owners and admins of a workspace) shows what Stammtisch asks for; its button keeps a
random `state` in the user's session and sends the user to Threads. `callback` (the one redirect
URI, no workspace in it) accepts only a `state` this session issued in the last 15 minutes, turns
the code into a short-lived and then a long-lived token, reads the profile and connects it to the
workspace the flow was started from, checking the user's permission there again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from stammtisch.core.access import WorkspaceRequest, account_view, get_membership, workspace_view
from stammtisch.core.actions import Actor
from stammtisch.core.roles import Perm
from stammtisch.networks import oauth_flow
from stammtisch.networks.base import NetworkError
from stammtisch.networks.threads import oauth
from stammtisch.networks.threads.actions import do_connect_threads_channel

log = logging.getLogger(__name__)

SESSION_KEY = "threads_oauth"


def _enabled() -> bool:
    return bool(settings.NETWORKS_ENABLED.get("threads", False))


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def connect(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    if not _enabled():
        messages.error(request, _("Threads is switched off on this server."))
        return redirect("networks:channels", slug=slug)
    if request.method == "POST":
        state = oauth_flow.start_flow(request.session, SESSION_KEY, {"workspace": slug})
        return HttpResponseRedirect(oauth.authorization_url(state=state))
    return render(request, "threads/connect.html", {"nav": "settings"})


def _failed(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "threads/callback_error.html", {"message": message}, status=400)


@account_view
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    flow = oauth_flow.take_flow(request.session, SESSION_KEY, request.GET.get("state", ""))
    if flow is None:
        return _failed(
            request,
            _(
                "This sign-in answer does not belong to a connection you started here, or it is too old. "
                "Please start again."
            ),
        )
    slug = str(flow["workspace"])
    membership = get_membership(request, slug, Perm.MANAGE)  # still allowed? 404/403 otherwise
    if request.GET.get("error"):
        messages.info(request, _("Threads was not connected: the permission was not granted on Threads."))
        return redirect("networks:channels", slug=slug)
    code = request.GET.get("code", "")
    if not code:
        return _failed(request, _("Threads sent no authorization code. Please start again."))
    if not _enabled():
        messages.error(request, _("Threads is switched off on this server."))
        return redirect("networks:channels", slug=slug)
    try:
        short = oauth.exchange_code(code)
        token = oauth.long_lived(str(short["access_token"]))
        user = oauth.me(str(token["access_token"]))
    except NetworkError as error:
        log.info("threads: connecting failed: %s", error.message)
        messages.error(request, _("Threads could not be connected: %(error)s") % {"error": error.message})
        return redirect("threads:connect", slug=slug)
    channel = do_connect_threads_channel(Actor.from_request(request), membership.workspace, token=token, user=user)
    messages.success(request, _("Threads profile “@%(handle)s” connected.") % {"handle": channel.handle})
    return redirect("networks:channels", slug=slug)
