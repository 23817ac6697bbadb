"""Connecting a Mastodon account: OAuth 2 authorization code flow with PKCE on any instance.

`connect` (owners and admins of a workspace) registers or reuses our app on the instance, keeps a
random `state` and the PKCE verifier in the user's session, and sends the user to the instance.
`callback` (the one redirect URI, no workspace in it) accepts only a `state` this session issued in
the last 15 minutes, exchanges the code with the verifier, reads the account and connects it to
the workspace the flow was started from, checking the user's permission there again.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from stammtisch.core.access import WorkspaceRequest, account_view, workspace_view
from stammtisch.core.actions import Actor
from stammtisch.core.roles import Perm
from stammtisch.networks import oauth_flow
from stammtisch.networks.base import NetworkError
from stammtisch.networks.mastodon import oauth
from stammtisch.networks.mastodon.actions import do_connect_mastodon_channel, forget_app, get_or_register_app
from stammtisch.networks.mastodon.forms import ConnectMastodonForm
from stammtisch.networks.models import OAuthApp
from stammtisch.networks.oauth_views import ConnectFlow

log = logging.getLogger(__name__)

FLOW = ConnectFlow(
    network="mastodon",
    session_key="mastodon_oauth",
    switches=("mastodon",),
    not_connected=gettext_lazy("Mastodon was not connected"),
    declined=gettext_lazy("Mastodon was not connected: the permission was not granted on the instance."),
    no_code=gettext_lazy("The instance sent no authorization code. Please start again."),
    switched_off=gettext_lazy("Mastodon is switched off on this server."),
    failed=gettext_lazy("Mastodon could not be connected: %(error)s"),
)


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def connect(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    if not FLOW.enabled():
        return FLOW.off(request, slug)
    form = ConnectMastodonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        instance = form.cleaned_data["instance"]
        try:
            app = get_or_register_app(instance)
        except NetworkError as error:
            log.info("mastodon: cannot register with %s: %s", instance, error.message)
            form.add_error(
                "instance",
                _("Stammtisch could not register with this instance. Is it a Mastodon server? (%(error)s)")
                % {"error": error.message},
            )
        else:
            return _start_flow(request, app, slug)
    return render(request, "mastodon/connect.html", {"form": form, "nav": "settings"})


def _start_flow(request: WorkspaceRequest, app: OAuthApp, slug: str) -> HttpResponse:
    verifier, challenge = oauth_flow.pkce_pair()
    state = FLOW.start(request, {"workspace": slug, "instance": app.server, "app": app.pk, "verifier": verifier})
    url = oauth.authorization_url(
        app.server,
        client_id=app.client_id,
        redirect_uri=app.redirect_uri,
        scopes=app.scopes,
        state=state,
        challenge=challenge,
        lang=(get_language() or "")[:2],
    )
    return HttpResponseRedirect(url)


@account_view
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    answer = FLOW.answer(request)  # a flow begun before Mastodon was switched off does not connect
    if isinstance(answer, HttpResponse):
        return answer
    slug = answer.slug
    app = OAuthApp.objects.filter(pk=answer.flow["app"], network="mastodon").first()
    if app is None:
        return FLOW.error_page(request, FLOW.no_code)
    try:
        token = oauth.exchange_code(
            app.server,
            client_id=app.client_id,
            client_secret=str(app.secrets.get("client_secret", "")),
            redirect_uri=app.redirect_uri,
            code=answer.code,
            verifier=str(answer.flow["verifier"]),
        )
        account = oauth.verify_account(app.server, str(token["access_token"]))
    except oauth.StaleApp:
        forget_app(app.pk)
        messages.error(request, _("The instance no longer knew Stammtisch's registration. Please connect again."))
        return redirect("mastodon:connect", slug=slug)
    except NetworkError as error:
        return FLOW.exchange_failed(request, slug, error)
    channel = do_connect_mastodon_channel(
        Actor.from_request(request), answer.membership.workspace, instance=app.server, token=token, account=account
    )
    messages.success(request, _("Mastodon account “%(handle)s” connected.") % {"handle": channel.handle})
    return redirect("networks:channels", slug=slug)
