"""Connecting Facebook Pages and Instagram professional accounts: Facebook Login, then a choice.

`facebook_connect` / `instagram_connect` (owners and admins) explain what Stammtisch asks for; the
button keeps a random `state` in the session and sends the user to Facebook's Login dialog.
`callback` (the one redirect URI) accepts only a `state` this session issued in the last 15
minutes, turns the code into a long-lived user token and lists the Pages the person granted with
their Instagram accounts. The list and the user token (encrypted) stay in the session for
`select`, where the person picks Pages and Instagram accounts: one channel each. On submit the
Page tokens are read again with the user token, so no Page token ever sits in the session.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from stammtisch.core.access import WorkspaceRequest, account_view, workspace_view
from stammtisch.core.actions import Actor
from stammtisch.core.crypto import decrypt, encrypt
from stammtisch.core.roles import Perm
from stammtisch.networks import oauth_flow
from stammtisch.networks.base import NetworkError
from stammtisch.networks.meta import oauth
from stammtisch.networks.meta.actions import do_connect_facebook_page, do_connect_instagram_account
from stammtisch.networks.oauth_views import ConnectFlow

log = logging.getLogger(__name__)

# One Facebook Login for both networks; the flow remembers which one it was started for.
FLOW = ConnectFlow(
    network="meta",
    session_key="meta_oauth",
    switches=("facebook", "instagram"),
    not_connected=gettext_lazy("Facebook was not connected"),
    declined=gettext_lazy("Nothing was connected: the permission was not granted on Facebook."),
    no_code=gettext_lazy("Facebook sent no authorization code. Please start again."),
    switched_off=gettext_lazy("Facebook and Instagram are switched off on this server."),
    failed=gettext_lazy("Facebook could not be connected: %(error)s"),
)
SELECT_KEY = "meta_select"


def _enabled(network: str) -> bool:
    return bool(settings.NETWORKS_ENABLED.get(network, False))


def _connect(request: WorkspaceRequest, network: str) -> HttpResponse:
    slug = request.workspace.slug
    if not _enabled(network):
        messages.error(request, _("%(network)s is switched off on this server.") % {"network": network.title()})
        return redirect("networks:channels", slug=slug)
    if request.method == "POST":
        state = FLOW.start(request, {"workspace": slug, "network": network})
        return HttpResponseRedirect(oauth.authorization_url(state=state))
    return render(
        request,
        "meta/connect.html",
        {
            "nav": "settings",
            "network": network,
            "facebook_on": _enabled("facebook"),
            "instagram_on": _enabled("instagram"),
        },
    )


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def facebook_connect(request: WorkspaceRequest) -> HttpResponse:
    return _connect(request, "facebook")


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def instagram_connect(request: WorkspaceRequest) -> HttpResponse:
    return _connect(request, "instagram")


def _candidate(page: dict[str, Any]) -> dict[str, Any]:
    """What the choice page shows of a Page (no token)."""
    account = page.get("instagram_business_account") or {}
    return {
        "id": str(page["id"]),
        "name": str(page.get("name") or page["id"]),
        "username": str(page.get("username") or ""),
        "can_post": "CREATE_CONTENT" in (page.get("tasks") or []) or not page.get("tasks"),
        "instagram": {"id": str(account["id"]), "username": str(account.get("username") or "")}
        if isinstance(account, dict) and account.get("id")
        else None,
    }


@account_view
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    answer = FLOW.answer(request)
    if isinstance(answer, HttpResponse):
        return answer
    network = str(answer.flow["network"])
    try:
        short = oauth.exchange_code(answer.code)
        token = oauth.long_lived(str(short["access_token"]))
        user = oauth.me(str(token["access_token"]))
        found = oauth.managed_pages(str(token["access_token"]))
    except NetworkError as error:
        return FLOW.exchange_failed(request, answer.slug, error, back=f"{network}:connect")
    choice = {
        "network": network,
        "user_id": str(user.get("id") or ""),
        "user_name": str(user.get("name") or ""),
        "token": encrypt(str(token["access_token"])),
        "candidates": [_candidate(page) for page in found],
    }
    oauth_flow.keep_choice(request.session, SELECT_KEY, answer.slug, choice)
    return redirect("meta:select", slug=answer.slug)


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def select(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    selection = oauth_flow.get_choice(request.session, SELECT_KEY, slug)
    if selection is None:
        messages.info(request, _("Please sign in with Facebook first to choose Pages and Instagram accounts."))
        return redirect("networks:channels", slug=slug)
    candidates: list[dict[str, Any]] = list(selection.get("candidates") or [])
    facebook_on, instagram_on = _enabled("facebook"), _enabled("instagram")
    context = {
        "nav": "settings",
        "candidates": candidates,
        "user_name": selection.get("user_name", ""),
        "network": selection.get("network", "facebook"),
        "facebook_on": facebook_on,
        "instagram_on": instagram_on,
    }
    if request.method == "GET":
        return render(request, "meta/select.html", context)
    chosen = set(request.POST.getlist("account"))
    known = {f"facebook:{c['id']}" for c in candidates if facebook_on} | {
        f"instagram:{c['instagram']['id']}" for c in candidates if instagram_on and c.get("instagram")
    }
    if not chosen or not chosen <= known:
        messages.error(request, _("Please choose at least one of the listed Pages or Instagram accounts."))
        return render(request, "meta/select.html", context, status=400)
    try:
        pages = {str(page["id"]): page for page in oauth.managed_pages(decrypt(str(selection["token"])))}
    except NetworkError as error:
        log.info("meta: reading Pages failed: %s", error.message)
        messages.error(request, _("Facebook could not be reached: %(error)s") % {"error": error.message})
        return render(request, "meta/select.html", context, status=502)
    actor, names = Actor.from_request(request), []
    for candidate in candidates:
        page = pages.get(candidate["id"])
        if page is None:
            continue  # the permission for this Page was withdrawn in the meantime
        if f"facebook:{candidate['id']}" in chosen:
            names.append(
                do_connect_facebook_page(actor, request.workspace, page=page, user_id=selection["user_id"]).display_name
            )
        account = page.get("instagram_business_account") or {}
        if candidate.get("instagram") and f"instagram:{candidate['instagram']['id']}" in chosen and account.get("id"):
            channel = do_connect_instagram_account(actor, request.workspace, page=page, user_id=selection["user_id"])
            names.append(f"@{channel.handle}")
    oauth_flow.forget_choice(request.session, SELECT_KEY, slug)
    if names:
        messages.success(request, _("Connected: %(names)s.") % {"names": ", ".join(names)})
    else:
        messages.error(request, _("Facebook no longer lists the chosen Pages. Please connect again."))
    return redirect("networks:channels", slug=slug)
