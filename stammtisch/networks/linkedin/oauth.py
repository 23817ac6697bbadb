"""LinkedIn's OAuth 2.0 Authorization Code flow (3-legged), for a confidential web app.

1. `authorization_url` with `state` (bound to the user's session by the view) at
   https://www.linkedin.com/oauth/v2/authorization. LinkedIn's standard flow for web apps with a
   client secret takes no PKCE challenge, so the `state` check is what ties the answer to the
   browser that started the flow.
2. `exchange_code` at POST https://www.linkedin.com/oauth/v2/accessToken with the client id and
   secret in the form. The answer has the access token (60 days), for apps LinkedIn allows
   programmatic refresh also a refresh token (365 days from the first sign-in, never extended)
   and the granted scopes, comma-separated.
3. `refresh` with the refresh token: a new access token, the same refresh token (LinkedIn may
   leave it out of the answer: keep the stored one).

Then `userinfo` (OpenID Connect) names the member, and `administered_organizations` lists the
pages the member may post for (organizationAcls + organizations).

https://learn.microsoft.com/linkedin/shared/authentication/authorization-code-flow,
https://learn.microsoft.com/linkedin/shared/authentication/programmatic-refresh-tokens,
https://learn.microsoft.com/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2,
https://learn.microsoft.com/linkedin/marketing/community-management/organizations/organization-access-control-by-role
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from stammtisch.networks.base import NetworkError
from stammtisch.networks.linkedin import api

# "Sign In with LinkedIn using OpenID Connect" (openid, profile) and "Share on LinkedIn"
# (w_member_social): every app can have these.
MEMBER_SCOPES = ("openid", "profile", "w_member_social")
# The "Community Management API" product (LinkedIn reviews the app): company pages (post, read
# comments and statistics, list the pages a member administers) and the member's own post and
# follower statistics.
PAGES_SCOPES = (
    *MEMBER_SCOPES,
    "r_organization_social",
    "w_organization_social",
    "rw_organization_admin",
    "r_member_postAnalytics",
    "r_member_profileAnalytics",
)
# Page roles that may publish organic posts for a page (organizationAcls `role`).
POSTING_ROLES = ("ADMINISTRATOR", "CONTENT_ADMINISTRATOR")
ACL_PAGE = 100
ACL_PAGES = 5


def authorization_url(*, state: str, pages: bool) -> str:
    query = {
        "response_type": "code",
        "client_id": settings.LINKEDIN_CLIENT_ID,
        "redirect_uri": settings.LINKEDIN_REDIRECT_URI,
        "state": state,
        "scope": " ".join(PAGES_SCOPES if pages else MEMBER_SCOPES),
    }
    return f"{api.AUTHORIZE_URL}?{urlencode(query)}"


def scopes_of(token: dict[str, Any]) -> list[str]:
    """The granted scopes: LinkedIn separates them with commas (some answers use spaces)."""
    return sorted({scope for scope in re.split(r"[,\s]+", str(token.get("scope") or "")) if scope})


def _token_request(form: dict[str, str], what: str) -> dict[str, Any]:
    """POST /oauth/v2/accessToken as a confidential client. An unusable code or refresh token (400
    invalid_request / invalid_grant) is an `auth` error: the user must connect again. A rejected
    client (401 invalid_client) is a server misconfiguration, permanent but not the channel's fault."""
    form = {**form, "client_id": settings.LINKEDIN_CLIENT_ID, "client_secret": settings.LINKEDIN_CLIENT_SECRET}
    with api.client(versioned=False) as http:
        response = api.send(http, "POST", api.TOKEN_URL, what, data=form)
    if response.status_code == 400:
        raise NetworkError(f"LinkedIn {what}: {api.error_text(response) or 'HTTP 400'}", auth=True)
    if response.status_code == 401:
        raise NetworkError(
            f"LinkedIn {what}: the server's LinkedIn client id or secret was rejected "
            f"({api.error_text(response) or 'HTTP 401'})",
            permanent=True,
        )
    body = api.json_of(api.check(response, what), what)
    if not body.get("access_token"):
        raise NetworkError(f"LinkedIn {what}: no access token in the answer", permanent=True)
    return body


def exchange_code(code: str) -> dict[str, Any]:
    return _token_request(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": settings.LINKEDIN_REDIRECT_URI},
        "token",
    )


def refresh(refresh_token: str) -> dict[str, Any]:
    return _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token}, "token refresh")


def userinfo(token: str) -> dict[str, Any]:
    """GET /v2/userinfo: the member the token belongs to (`sub` is the person id)."""
    with api.client(token, versioned=False) as http:
        body = api.json_of(api.call(http, "GET", api.USERINFO, "profile"), "profile")
    if not body.get("sub"):
        raise NetworkError("LinkedIn profile: unexpected answer", permanent=True)
    return body


def administered_organizations(token: str) -> list[dict[str, Any]]:
    """The pages the member may post for, as {"id", "name", "vanity_name", "role"}, one per
    page (the strongest role wins), in LinkedIn's order."""
    roles: dict[str, str] = {}
    with api.client(token) as http:
        start = 0
        for _page in range(ACL_PAGES):
            params = api.query(q="roleAssignee", state="APPROVED", start=start, count=ACL_PAGE)
            body = api.json_of(api.call(http, "GET", f"{api.ORGANIZATION_ACLS}?{params}", "page roles"), "page roles")
            found = api.elements(body)
            for acl in found:
                urn = str(acl.get("organization") or acl.get("organizationalTarget") or "")
                role = str(acl.get("role") or "")
                if api.is_organization(urn) and role in POSTING_ROLES:
                    organization_id = urn.rsplit(":", 1)[-1]
                    if roles.get(organization_id) != "ADMINISTRATOR":
                        roles[organization_id] = role
            if not api.has_more(body, start, ACL_PAGE, len(found)):
                break
            start += len(found)
        organizations = []
        for organization_id, role in roles.items():
            details = api.json_of(
                api.call(http, "GET", api.ORGANIZATION.format(id=api.enc(organization_id)), "page"), "page"
            )
            organizations.append(
                {
                    "id": organization_id,
                    "name": str(details.get("localizedName") or organization_id),
                    "vanity_name": str(details.get("vanityName") or ""),
                    "role": role,
                }
            )
    return organizations
