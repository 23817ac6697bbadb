"""Connecting a Bluesky account by AT Protocol OAuth ("Sign in with Bluesky"), beside the
app-password form (views.py). See oauth.py for the protocol and docs/networks/bluesky.md.

* `client_metadata` and `jwks` (public): the documents authorization servers fetch; our
  client_id is the URL of the first. 404 while no client key is configured.
* `start` (owners and admins, POST from the connect page): resolves the handle (or server) to
  its authorization server, makes a DPoP key and a PKCE pair, keeps them with a random `state`
  in the user's session (the DPoP key encrypted), pushes the authorization request (PAR) and
  sends the browser to the authorization endpoint.
* `callback` (the one redirect URI): accepts only a `state` this session issued in the last 15
  minutes, checks `iss`, exchanges the code, checks that the token's `sub` is the account that was
  asked for and that the issuer speaks for it, then connects the channel in the workspace the
  flow began in (the user's permission there is checked again). Anything that goes wrong leads
  back to the channel page with a message; nothing is connected.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.contrib import messages
from django.contrib.sessions.backends.base import SessionBase
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from stammtisch.core import crypto
from stammtisch.core.access import WorkspaceRequest, account_view, get_membership, public_view, workspace_view
from stammtisch.core.actions import Actor
from stammtisch.core.roles import Perm
from stammtisch.networks import oauth_flow
from stammtisch.networks.base import NetworkError
from stammtisch.networks.bluesky import dpop, identity, oauth
from stammtisch.networks.bluesky.forms import ConnectBlueskyForm, ConnectBlueskyOAuthForm
from stammtisch.networks.bluesky.oauth_actions import do_connect_bluesky_oauth_channel, profile_of

log = logging.getLogger(__name__)

SESSION_KEY = "bluesky_oauth"
METADATA_MAX_AGE = 300  # seconds servers may cache our metadata documents


def connect_context(oauth_form: ConnectBlueskyOAuthForm | None = None) -> dict[str, Any]:
    """What the connect page needs to offer "Sign in with Bluesky" (nothing when not set up)."""
    return {"oauth_form": oauth_form or ConnectBlueskyOAuthForm()} if oauth.enabled() else {}


def _document(data: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(data)
    response["Cache-Control"] = f"public, max-age={METADATA_MAX_AGE}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@public_view
@require_GET
def client_metadata(request: HttpRequest) -> HttpResponse:
    if not oauth.configured():
        raise Http404
    return _document(oauth.client_metadata())


@public_view
@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    if not oauth.configured():
        raise Http404
    return _document(oauth.jwks())


# --- starting ---------------------------------------------------------------------------------


@workspace_view(Perm.MANAGE)
@require_POST
def start(request: WorkspaceRequest) -> HttpResponse:
    slug = request.workspace.slug
    if not oauth.enabled():
        messages.error(request, _("Signing in with Bluesky is not set up on this server. Please use an app password."))
        return redirect("bluesky:connect", slug=slug)
    form = ConnectBlueskyOAuthForm(request.POST)
    if form.is_valid():
        kind, value = form.cleaned_data["account"]
        try:
            return HttpResponseRedirect(_begin(request, slug, kind, value))
        except identity.ResolveError as error:
            form.add_error("account", error.message)
        except NetworkError as error:
            log.info("bluesky oauth: starting failed: %s", error.message)
            form.add_error(None, _("Bluesky could not start the sign-in: %(error)s") % {"error": error.message})
    context = {"form": ConnectBlueskyForm(), "nav": "settings", **connect_context(form)}
    return render(request, "bluesky/connect.html", context)


def _begin(request: WorkspaceRequest, slug: str, kind: str, value: str) -> str:
    """Resolve, push the authorization request and remember the flow; returns where to go."""
    if kind == "server":
        issuer, metadata = identity.resolve_server(value)
        did = handle = login_hint = ""
    else:
        account = identity.resolve_account(kind, value)
        issuer, metadata, did, handle, login_hint = account.issuer, account.metadata, account.did, account.handle, value
    key = dpop.new_key()
    verifier, challenge = oauth_flow.pkce_pair()
    flow = {
        "workspace": slug,
        "verifier": verifier,
        "dpop_key": crypto.encrypt(json.dumps(dpop.private_jwk(key))),
        "issuer": issuer,
        "token_endpoint": str(metadata["token_endpoint"]),
        "did": did,
        "handle": handle,
    }
    state = oauth_flow.start_flow(request.session, SESSION_KEY, flow)
    try:
        request_uri, nonce = oauth.push_authorization_request(
            metadata, key=key, state=state, challenge=challenge, login_hint=login_hint
        )
    except NetworkError:
        oauth_flow.take_flow(request.session, SESSION_KEY, state)
        raise
    pending = dict(request.session.get(SESSION_KEY) or {})
    pending[state] = {**pending[state], "as_nonce": nonce}
    request.session[SESSION_KEY] = pending
    return oauth.authorization_url(metadata, request_uri)


# --- coming back ----------------------------------------------------------------------------------


def _back(request: HttpRequest, slug: str, message: str, *, level: int = messages.ERROR) -> HttpResponse:
    messages.add_message(request, level, message)
    return redirect("networks:channels", slug=slug)


def _pending(session: SessionBase) -> dict[str, Any]:
    pending = session.get(SESSION_KEY)
    return pending if isinstance(pending, dict) else {}


def _lost(request: HttpRequest, expired: dict[str, Any] | None) -> HttpResponse:
    """No usable flow for this `state`: too old, or not one this browser started."""
    if expired is not None:
        return _back(
            request,
            str(expired["workspace"]),
            _("The sign-in on Bluesky took too long. Nothing was connected; please start again."),
        )
    message = _("This sign-in answer does not belong to a connection you started here. Nothing was connected.")
    newest = sorted(_pending(request.session).values(), key=lambda flow: str(flow.get("started")))
    if newest:  # the workspace this browser was connecting to most recently
        return _back(request, str(newest[-1]["workspace"]), message)
    context = {"title": _("Bluesky was not connected"), "message": message}
    return render(request, "networks/callback_error.html", context, status=400)


@account_view
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    started = _pending(request.session).get(state) if state else None
    flow = oauth_flow.take_flow(request.session, SESSION_KEY, state)
    if flow is None:
        return _lost(request, started)
    slug = str(flow["workspace"])
    membership = get_membership(request, slug, Perm.MANAGE)  # still allowed? 404/403 otherwise
    issuer, error = request.GET.get("iss"), request.GET.get("error", "")
    if issuer != flow["issuer"] and not (issuer is None and error):  # RFC 9207; an error may come without iss
        log.warning("bluesky oauth: callback from %r, expected %r", issuer, flow["issuer"])
        return _back(
            request,
            slug,
            _("This sign-in answer did not come from the server Stammtisch asked. Nothing was connected."),
        )
    if error == "access_denied":
        return _back(
            request, slug, _("Bluesky was not connected: access was not granted on Bluesky."), level=messages.INFO
        )
    if error:
        detail = (request.GET.get("error_description") or error)[:200]
        return _back(
            request, slug, _("Bluesky refused the sign-in (%(error)s). Nothing was connected.") % {"error": detail}
        )
    code = request.GET.get("code", "")
    if not code:
        return _back(request, slug, _("Bluesky sent no authorization code. Nothing was connected; please start again."))
    if not oauth.enabled():
        return _back(request, slug, _("Signing in with Bluesky is not set up on this server."))
    try:
        key = dpop.key_from_jwk(json.loads(crypto.decrypt(str(flow["dpop_key"]))))
        token, as_nonce = oauth.exchange_code(
            str(flow["token_endpoint"]),
            str(flow["issuer"]),
            key=key,
            nonce=str(flow.get("as_nonce") or ""),
            code=code,
            verifier=str(flow["verifier"]),
        )
        sub = oauth.check_token(token, "sign-in")
        if flow["did"] and sub != flow["did"]:
            raise identity.ResolveError(
                _(
                    "Bluesky signed in another account (%(signed_in)s) than the one you named (%(asked)s). "
                    "Nothing was connected."
                )
                % {"signed_in": sub, "asked": flow["handle"] or flow["did"]}
            )
        account = identity.confirm_account(sub, str(flow["issuer"]), handle=str(flow.get("handle") or ""))
    except identity.ResolveError as failure:
        log.warning("bluesky oauth: account check failed: %s", failure.message)
        return _back(request, slug, failure.message)
    except NetworkError as failure:
        log.info("bluesky oauth: connecting failed: %s", failure.message)
        return _back(request, slug, _("Bluesky could not be connected: %(error)s") % {"error": failure.message})
    profile, pds_nonce = profile_of(account, str(token["access_token"]), key)
    channel = do_connect_bluesky_oauth_channel(
        Actor.from_request(request),
        membership.workspace,
        account=account,
        token=token,
        key=key,
        as_nonce=as_nonce,
        pds_nonce=pds_nonce,
        profile=profile,
    )
    return _back(
        request,
        slug,
        _("Bluesky account “%(name)s” connected.") % {"name": channel.display_name},
        level=messages.SUCCESS,
    )
