"""Who a Bluesky account is and which servers speak for it, for AT Protocol OAuth.

handle → DID → DID document → PDS → its authorization server (the OAuth "issuer") → the
issuer's metadata. References: https://atproto.com/specs/handle (resolution and the bidirectional
check), https://atproto.com/specs/did (did:plc at the PLC directory, did:web at
/.well-known/did.json, the `#atproto_pds` service), https://atproto.com/specs/oauth ("Identity
Authentication", "Authorization Servers") and https://docs.bsky.app/docs/advanced-guides/oauth-client.

Handles are resolved over HTTPS only: first `https://<handle>/.well-known/atproto-did`, then
`com.atproto.identity.resolveHandle` at bsky.social, which also reads DNS TXT records (Stammtisch
has no DNS client of its own). Either way the DID document must claim the handle back.

Every address that comes from a user or from another server's answer (a handle's domain, a
did:web host, the PDS, the authorization server) goes through `core.http.guarded_client`: public
addresses only, no redirects (the metadata documents must answer 200 directly). Only the PLC
directory and bsky.social, fixed here, are trusted without the guard. Answers are read up to
`MAX_BYTES`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.utils.translation import gettext as _

from stammtisch.core.http import UnsafeURL, guarded_client, make_client
from stammtisch.networks.bluesky import api

PLC_DIRECTORY = "https://plc.directory"
ENTRYWAY = api.DEFAULT_PDS  # resolves any handle (DNS TXT included) for us
TRUSTED = (PLC_DIRECTORY, ENTRYWAY)
MAX_BYTES = 100_000  # a DID document or server metadata is a few kilobytes

HANDLE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DID_PLC = re.compile(r"^did:plc:[a-z2-7]{24}$")
DID_WEB = re.compile(r"^did:web:([a-z0-9.-]+)$")  # atproto allows hostname-level did:web only
PDS_SERVICE_TYPE = "AtprotoPersonalDataServer"


class ResolveError(Exception):
    """An account or server that cannot be resolved, with a message for the user. `transient`: a
    server did not answer (trying again later may help)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


@dataclass(frozen=True)
class DidDocument:
    did: str
    handles: list[str] = field(default_factory=list)  # from alsoKnownAs at://..., unverified
    pds: str = ""


@dataclass(frozen=True)
class Account:
    """A resolved account: its DID, verified handle ("" if none), PDS and authorization server."""

    did: str
    handle: str
    pds: str
    issuer: str
    metadata: dict[str, Any]


def is_did(value: str) -> bool:
    if DID_PLC.match(value):
        return True
    web = DID_WEB.match(value)
    return bool(web and HANDLE.match(web[1]))


def parse_identifier(text: str) -> tuple[str, str]:
    """("handle" | "did" | "server", value) of what the user typed; raises ResolveError."""
    value = (text or "").strip().removeprefix("@")
    if value.startswith("did:"):
        if is_did(value):
            return "did", value
        raise ResolveError(_("Stammtisch can resolve did:plc and did:web accounts only. Please check the DID."))
    if "://" in value:
        try:
            return "server", api.normalize_pds(value)
        except ValueError:
            raise ResolveError(_("Please give the server as https://host, without a path.")) from None
    handle = value.lower()
    if len(handle) <= 253 and HANDLE.match(handle):
        return "handle", handle
    raise ResolveError(
        _("Please give your handle (for example name.bsky.social), your DID or the https:// address of your server.")
    )


def origin(url: str) -> str | None:
    """`https://host[:port]` of an https URL that is an origin and nothing more (a trailing slash
    is tolerated); None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except (ValueError, TypeError):
        return None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or port == 443:
        return None
    host = parts.hostname.lower()
    return f"https://{host}:{port}" if port else f"https://{host}"


def is_https_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme == "https" and bool(urlsplit(value).hostname)


# --- fetching -----------------------------------------------------------------------------------


def client_for(url: str) -> httpx.Client:
    """A client for `url`: guarded unless the host is one of ours to trust; never redirects."""
    trusted = any(url == base or url.startswith(f"{base}/") for base in TRUSTED)
    http = make_client() if trusted else guarded_client()
    http.follow_redirects = False
    return http


def unreachable(exc: httpx.HTTPError, host: str) -> ResolveError:
    if isinstance(exc.__cause__, UnsafeURL):
        return ResolveError(
            _("%(host)s cannot be used: %(reason)s") % {"host": host, "reason": str(exc.__cause__)}, transient=False
        )
    return ResolveError(
        _("%(host)s cannot be reached right now. Please try again in a moment.") % {"host": host}, transient=True
    )


def fetch(url: httpx.URL | str) -> tuple[int, bytes]:
    """GET `url`: (status, body), the body read up to MAX_BYTES."""
    url = httpx.URL(url)
    try:
        with client_for(str(url)) as http, http.stream("GET", url, headers={"Accept": "application/json"}) as answer:
            body = bytearray()
            for chunk in answer.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BYTES:
                    raise ResolveError(_("%(host)s sent a much larger answer than expected.") % {"host": url.host})
            return answer.status_code, bytes(body)
    except httpx.HTTPError as exc:
        raise unreachable(exc, url.host) from None


def json_object(status: int, body: bytes, host: str) -> dict[str, Any]:
    """The JSON object of a 200 answer (not 2xx, not a redirect: the specs ask for exactly 200)."""
    if status != 200:
        raise ResolveError(
            _("%(host)s answered with HTTP %(status)s.") % {"host": host, "status": status},
            transient=status >= 500 or status == 429,
        )
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ResolveError(_("%(host)s gave an answer Stammtisch does not understand.") % {"host": host})
    return data


# --- handle and DID -----------------------------------------------------------------------------


def resolve_handle(handle: str) -> str:
    """The DID a handle points to (not yet verified against the DID document)."""
    try:
        status, body = fetch(f"https://{handle}/.well-known/atproto-did")
    except ResolveError:
        status, body = 0, b""
    if status == 200:
        words = body.decode("utf-8", "replace").split()
        if words and is_did(words[0]):
            return words[0]
    url = httpx.URL(f"{ENTRYWAY}/xrpc/{api.RESOLVE_HANDLE}", params={"handle": handle})
    status, body = fetch(url)
    if status == 400:  # "Unable to resolve handle"
        raise ResolveError(_("The handle %(handle)s does not belong to any Bluesky account.") % {"handle": handle})
    did = str(json_object(status, body, url.host).get("did") or "")
    if not is_did(did):
        raise ResolveError(_("The handle %(handle)s does not belong to any Bluesky account.") % {"handle": handle})
    return did


def resolve_did(did: str) -> DidDocument:
    """The DID document of `did`: its claimed handles and its PDS."""
    if not is_did(did):
        raise ResolveError(_("Stammtisch can resolve did:plc and did:web accounts only. Please check the DID."))
    web = DID_WEB.match(did)
    url = f"https://{web[1]}/.well-known/did.json" if web else f"{PLC_DIRECTORY}/{did}"
    status, body = fetch(url)
    if status in (404, 410):
        raise ResolveError(_("The account %(did)s does not exist (any more).") % {"did": did})
    document = json_object(status, body, httpx.URL(url).host)
    if document.get("id") != did:
        raise ResolveError(_("The identity document of %(did)s is not about that account.") % {"did": did})
    handles = [
        aka.removeprefix("at://").lower()
        for aka in document.get("alsoKnownAs") or []
        if isinstance(aka, str) and aka.startswith("at://")
    ]
    pds = ""
    for service in document.get("service") or []:
        if (
            isinstance(service, dict)
            and service.get("id") in ("#atproto_pds", f"{did}#atproto_pds")
            and service.get("type") == PDS_SERVICE_TYPE
            and isinstance(service.get("serviceEndpoint"), str)
        ):
            try:
                pds = api.normalize_pds(service["serviceEndpoint"])
            except ValueError:
                pds = ""
            break
    if not pds:
        raise ResolveError(_("The account %(did)s names no usable data server (PDS).") % {"did": did})
    return DidDocument(did=did, handles=handles, pds=pds)


def verified_handle(document: DidDocument) -> str:
    """The document's (first) handle if it points back to the DID, else "" (a broken handle)."""
    handle = document.handles[0] if document.handles else ""
    if not HANDLE.match(handle):
        return ""
    try:
        return handle if resolve_handle(handle) == document.did else ""
    except ResolveError:
        return ""


# --- servers ------------------------------------------------------------------------------------


def authorization_server_of(pds: str) -> str:
    """The issuer a PDS names in /.well-known/oauth-protected-resource."""
    status, body = fetch(f"{pds}/.well-known/oauth-protected-resource")
    host = httpx.URL(pds).host
    servers = json_object(status, body, host).get("authorization_servers")
    issuer = origin(servers[0]) if isinstance(servers, list) and servers and isinstance(servers[0], str) else None
    if issuer is None:
        raise ResolveError(_("%(host)s names no usable sign-in server.") % {"host": host})
    return issuer


# (field, value it must contain or be) per https://atproto.com/specs/oauth "Server Metadata".
REQUIRED_METADATA: tuple[tuple[str, Any], ...] = (
    ("response_types_supported", "code"),
    ("grant_types_supported", "authorization_code"),
    ("grant_types_supported", "refresh_token"),
    ("code_challenge_methods_supported", "S256"),
    ("token_endpoint_auth_methods_supported", "private_key_jwt"),
    ("token_endpoint_auth_signing_alg_values_supported", "ES256"),
    ("dpop_signing_alg_values_supported", "ES256"),
    ("scopes_supported", "atproto"),
    ("authorization_response_iss_parameter_supported", True),
    ("client_id_metadata_document_supported", True),
)
ENDPOINTS = ("pushed_authorization_request_endpoint", "authorization_endpoint", "token_endpoint")


def authorization_server_metadata(issuer: str) -> dict[str, Any]:
    """The issuer's /.well-known/oauth-authorization-server, checked against the atproto profile."""
    status, body = fetch(f"{issuer}/.well-known/oauth-authorization-server")
    host = httpx.URL(issuer).host
    metadata = json_object(status, body, host)
    if origin(str(metadata.get("issuer") or "")) != issuer:
        raise ResolveError(_("%(host)s describes a different sign-in server than itself.") % {"host": host})
    missing = [
        name
        for name, wanted in REQUIRED_METADATA
        if not (metadata.get(name) is True if wanted is True else wanted in (metadata.get(name) or []))
    ]
    missing += [name for name in ENDPOINTS if not is_https_url(metadata.get(name))]
    if missing:
        raise ResolveError(
            _("%(host)s does not offer AT Protocol OAuth as Stammtisch needs it (%(missing)s).")
            % {"host": host, "missing": ", ".join(sorted(set(missing)))}
        )
    return {**metadata, "issuer": issuer}


# --- the whole way --------------------------------------------------------------------------------


def resolve_account(kind: str, value: str) -> Account:
    """A handle or DID, resolved to its account and its authorization server. A handle must be
    claimed back by the DID document (bidirectional check)."""
    did = value if kind == "did" else resolve_handle(value)
    document = resolve_did(did)
    if kind == "handle":
        if value not in document.handles:
            raise ResolveError(
                _("The handle %(handle)s is not confirmed by its account, so Stammtisch cannot trust it.")
                % {"handle": value}
            )
        handle = value
    else:
        handle = verified_handle(document)
    issuer = authorization_server_of(document.pds)
    return Account(did, handle, document.pds, issuer, authorization_server_metadata(issuer))


def resolve_server(url: str) -> tuple[str, dict[str, Any]]:
    """(issuer, metadata) for a server address: a PDS that names its authorization server, or
    an authorization server (entryway) itself."""
    try:
        issuer = authorization_server_of(url)
    except ResolveError as error:
        if error.transient:
            raise
        issuer = url
    return issuer, authorization_server_metadata(issuer)


def confirm_account(did: str, issuer: str, *, handle: str = "") -> Account:
    """The account `did` as it is now, checked to be served by `issuer`: its DID document names a
    PDS whose authorization server is `issuer` (and that server says so about itself). Without
    this check a server could sign in any account it likes (https://atproto.com/specs/oauth)."""
    document = resolve_did(did)
    if authorization_server_of(document.pds) != issuer:
        raise ResolveError(
            _(
                "The server that signed you in (%(issuer)s) does not speak for the account %(did)s. "
                "Nothing was connected."
            )
            % {"issuer": issuer, "did": did}
        )
    metadata = authorization_server_metadata(issuer)
    known = handle if handle and handle in document.handles else verified_handle(document)
    return Account(did, known, document.pds, issuer, metadata)
