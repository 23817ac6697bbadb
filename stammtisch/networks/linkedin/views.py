"""Connecting LinkedIn: the member's profile, and company pages the member administers.

`connect` (owners and admins) explains what Stammtisch asks for and offers two buttons: the
profile alone (products every app has), or profile and company pages (the Community Management
API, which LinkedIn must approve for the app). The button keeps a random `state` in the user's
session and sends the user to LinkedIn. `callback` (the one redirect URL) accepts only a `state`
this session issued in the last 15 minutes, exchanges the code and reads the member's profile. A
profile-only flow connects the profile at once; a pages flow lists the pages the member
administers and keeps the list and the token (encrypted) in the session for `select`, where the
person picks the profile and/or pages: one channel each.
"""

from __future__ import annotations

import json
import logging
from typing import Any

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
from stammtisch.networks.linkedin import oauth
from stammtisch.networks.linkedin.actions import do_connect_linkedin_member, do_connect_linkedin_organization
from stammtisch.networks.oauth_views import ConnectFlow

log = logging.getLogger(__name__)

FLOW = ConnectFlow(
    network="linkedin",
    session_key="linkedin_oauth",
    switches=("linkedin",),
    not_connected=gettext_lazy("LinkedIn was not connected"),
    declined=gettext_lazy("LinkedIn was not connected: the sign-in was cancelled on LinkedIn."),
    no_code=gettext_lazy("LinkedIn sent no authorization code. Please start again."),
    switched_off=gettext_lazy("LinkedIn is switched off on this server."),
    failed=gettext_lazy("LinkedIn could not be connected: %(error)s"),
)
SELECT_KEY = "linkedin_select"
MODES = ("member", "pages")
# What LinkedIn sends back as `error` when the person said no (docs: authorization code flow,
# "Member declined authorization").
DECLINED = ("user_cancelled_login", "user_cancelled_authorize", "access_denied")


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def connect(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    if not FLOW.enabled():
        return FLOW.off(request, slug)
    if request.method == "POST":
        mode = request.POST.get("mode", "member")
        if mode not in MODES:
            mode = "member"
        state = FLOW.start(request, {"workspace": slug, "mode": mode})
        return HttpResponseRedirect(oauth.authorization_url(state=state, pages=mode == "pages"))
    return render(request, "linkedin/connect.html", {"nav": "settings"})


def _refused(request: HttpRequest, slug: str, error: str) -> HttpResponse:
    """LinkedIn answered with `error`: cancelled, products missing, or something else."""
    if error in DECLINED:
        messages.info(request, FLOW.declined)
    elif error == "unauthorized_scope_error":
        messages.error(
            request,
            _(
                "LinkedIn refused the permissions Stammtisch asked for: this server's LinkedIn app does not "
                "have the needed products yet (company pages need the Community Management API). "
                "Connect your profile alone, or ask your administrator."
            ),
        )
    else:
        log.info("linkedin: sign-in answered with error %s", error)
        messages.error(request, _("LinkedIn was not connected: LinkedIn answered “%(error)s”.") % {"error": error})
    return redirect("networks:channels", slug=slug)


@account_view
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    answer = FLOW.answer(request, refused=_refused)
    if isinstance(answer, HttpResponse):
        return answer
    slug, pages = answer.slug, answer.flow.get("mode") == "pages"
    try:
        token = oauth.exchange_code(answer.code)
        member = oauth.userinfo(str(token["access_token"]))
        organizations = oauth.administered_organizations(str(token["access_token"])) if pages else []
    except NetworkError as error:
        return FLOW.exchange_failed(request, slug, error)
    if not pages:
        channel = do_connect_linkedin_member(
            Actor.from_request(request), answer.membership.workspace, token=token, member=member
        )
        messages.success(request, _("LinkedIn profile “%(name)s” connected.") % {"name": channel.display_name})
        return redirect("networks:channels", slug=slug)
    choice = {
        "token": encrypt(json.dumps(token)),
        "member": {"sub": str(member["sub"]), "name": str(member.get("name") or ""), "picture": member.get("picture")},
        "organizations": organizations,
    }
    oauth_flow.keep_choice(request.session, SELECT_KEY, slug, choice)
    return redirect("linkedin:select", slug=slug)


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def select(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    selection = oauth_flow.get_choice(request.session, SELECT_KEY, slug)
    if selection is None:
        messages.info(request, _("Please sign in with LinkedIn first to choose your profile and pages."))
        return redirect("networks:channels", slug=slug)
    member: dict[str, Any] = dict(selection.get("member") or {})
    organizations: list[dict[str, Any]] = list(selection.get("organizations") or [])
    context = {"nav": "settings", "member": member, "organizations": organizations}
    if request.method == "GET":
        return render(request, "linkedin/select.html", context)
    chosen = set(request.POST.getlist("account"))
    known = {"member"} | {f"organization:{organization['id']}" for organization in organizations}
    if not chosen or not chosen <= known:
        messages.error(request, _("Please choose your profile or at least one of the listed pages."))
        return render(request, "linkedin/select.html", context, status=400)
    if not FLOW.enabled():
        return FLOW.off(request, slug)
    token = json.loads(decrypt(str(selection["token"])))
    actor, names = Actor.from_request(request), []
    if "member" in chosen:
        channel = do_connect_linkedin_member(actor, request.workspace, token=token, member=member)
        names.append(channel.display_name)
    for organization in organizations:
        if f"organization:{organization['id']}" in chosen:
            channel = do_connect_linkedin_organization(
                actor, request.workspace, token=token, member_id=str(member.get("sub") or ""), organization=organization
            )
            names.append(channel.display_name)
    oauth_flow.forget_choice(request.session, SELECT_KEY, slug)
    messages.success(request, _("Connected: %(names)s.") % {"names": ", ".join(names)})
    return redirect("networks:channels", slug=slug)
