"""Connecting an X account: OAuth 2.0 Authorization Code flow with PKCE.

`connect` (owners and admins of a workspace) shows what Stammtisch asks for; its button keeps a
random `state` and the PKCE verifier in the user's session and sends the user to X. `callback` (the
one redirect URI, no workspace in it) accepts only a `state` this session issued in the last 15
minutes, exchanges the code with the verifier, reads the account and connects it to the workspace
the flow was started from, checking the user's permission there again.
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
from stammtisch.networks.x import oauth
from stammtisch.networks.x.actions import do_connect_x_channel

log = logging.getLogger(__name__)

SESSION_KEY = "x_oauth"


def _enabled() -> bool:
    return bool(settings.NETWORKS_ENABLED.get("x", False))


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def connect(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    if not _enabled():
        messages.error(request, _("X is switched off on this server."))
        return redirect("networks:channels", slug=slug)
    if request.method == "POST":
        return _start_flow(request, slug)
    return render(request, "x/connect.html", {"nav": "settings"})


def _start_flow(request: WorkspaceRequest, slug: str) -> HttpResponse:
    verifier, challenge = oauth_flow.pkce_pair()
    state = oauth_flow.start_flow(request.session, SESSION_KEY, {"workspace": slug, "verifier": verifier})
    return HttpResponseRedirect(oauth.authorization_url(state=state, challenge=challenge))


def _failed(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "x/callback_error.html", {"message": message}, status=400)


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
        messages.info(request, _("X was not connected: the permission was not granted on X."))
        return redirect("networks:channels", slug=slug)
    code = request.GET.get("code", "")
    if not code:
        return _failed(request, _("X sent no authorization code. Please start again."))
    if not _enabled():
        messages.error(request, _("X is switched off on this server."))
        return redirect("networks:channels", slug=slug)
    try:
        token = oauth.exchange_code(code, str(flow["verifier"]))
        user = oauth.me(str(token["access_token"]))
    except NetworkError as error:
        log.info("x: connecting failed: %s", error.message)
        messages.error(request, _("X could not be connected: %(error)s") % {"error": error.message})
        return redirect("x:connect", slug=slug)
    channel = do_connect_x_channel(Actor.from_request(request), membership.workspace, token=token, user=user)
    messages.success(request, _("X account “@%(handle)s” connected.") % {"handle": channel.handle})
    return redirect("networks:channels", slug=slug)
