"""Connecting a Threads profile through the Authorization Window of the Threads use case.

`connect` (owners and admins of a workspace) shows what Stammtisch asks for; its button keeps a
random `state` in the user's session and sends the user to Threads. `callback` (the one redirect
URI, no workspace in it) accepts only a `state` this session issued in the last 15 minutes, turns
the code into a short-lived and then a long-lived token, reads the profile and connects it to the
workspace the flow was started from, checking the user's permission there again.
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
from stammtisch.networks.base import NetworkError
from stammtisch.networks.oauth_views import ConnectFlow
from stammtisch.networks.threads import oauth
from stammtisch.networks.threads.actions import do_connect_threads_channel

FLOW = ConnectFlow(
    network="threads",
    session_key="threads_oauth",
    switches=("threads",),
    not_connected=gettext_lazy("Threads was not connected"),
    declined=gettext_lazy("Threads was not connected: the permission was not granted on Threads."),
    no_code=gettext_lazy("Threads sent no authorization code. Please start again."),
    switched_off=gettext_lazy("Threads is switched off on this server."),
    failed=gettext_lazy("Threads could not be connected: %(error)s"),
)


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def connect(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    if not FLOW.enabled():
        return FLOW.off(request, slug)
    if request.method == "POST":
        state = FLOW.start(request, {"workspace": slug})
        return HttpResponseRedirect(oauth.authorization_url(state=state))
    return render(request, "threads/connect.html", {"nav": "settings"})


@account_view
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    answer = FLOW.answer(request)
    if isinstance(answer, HttpResponse):
        return answer
    try:
        short = oauth.exchange_code(answer.code)
        token = oauth.long_lived(str(short["access_token"]))
        user = oauth.me(str(token["access_token"]))
    except NetworkError as error:
        return FLOW.exchange_failed(request, answer.slug, error)
    workspace = answer.membership.workspace
    channel = do_connect_threads_channel(Actor.from_request(request), workspace, token=token, user=user)
    messages.success(request, _("Threads profile “@%(handle)s” connected.") % {"handle": channel.handle})
    return redirect("networks:channels", slug=answer.slug)
