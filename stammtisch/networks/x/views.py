"""Connecting an X account: OAuth 2.0 Authorization Code flow with PKCE.

`connect` (owners and admins of a workspace) shows what Stammtisch asks for; its button keeps a
random `state` and the PKCE verifier in the user's session and sends the user to X. `callback` (the
one redirect URI, no workspace in it) accepts only a `state` this session issued in the last 15
minutes, exchanges the code with the verifier, reads the account and connects it to the workspace
the flow was started from, checking the user's permission there again.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from stammtisch.core.access import WorkspaceRequest, account_view, workspace_view
from stammtisch.core.actions import Actor
from stammtisch.core.roles import Perm
from stammtisch.networks import oauth_flow
from stammtisch.networks.base import NetworkError
from stammtisch.networks.oauth_views import ConnectFlow
from stammtisch.networks.x import oauth
from stammtisch.networks.x.actions import do_connect_x_channel

FLOW = ConnectFlow(
    network="x",
    session_key="x_oauth",
    switches=("x",),
    not_connected=gettext_lazy("X was not connected"),
    declined=gettext_lazy("X was not connected: the permission was not granted on X."),
    no_code=gettext_lazy("X sent no authorization code. Please start again."),
    switched_off=gettext_lazy("X is switched off on this server."),
    failed=gettext_lazy("X could not be connected: %(error)s"),
)


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def connect(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    if not FLOW.enabled():
        return FLOW.off(request, slug)
    if request.method == "POST":
        verifier, challenge = oauth_flow.pkce_pair()
        state = FLOW.start(request, {"workspace": slug, "verifier": verifier})
        return HttpResponseRedirect(oauth.authorization_url(state=state, challenge=challenge))
    return render(request, "x/connect.html", {"nav": "settings"})


@account_view
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    answer = FLOW.answer(request)
    if isinstance(answer, HttpResponse):
        return answer
    try:
        token = oauth.exchange_code(answer.code, str(answer.flow["verifier"]))
        user = oauth.me(str(token["access_token"]))
    except NetworkError as error:
        return FLOW.exchange_failed(request, answer.slug, error)
    channel = do_connect_x_channel(Actor.from_request(request), answer.membership.workspace, token=token, user=user)
    messages.success(request, _("X account “@%(handle)s” connected.") % {"handle": channel.handle})
    return redirect("networks:channels", slug=answer.slug)
