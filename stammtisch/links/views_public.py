"""Public endpoints: the redirector, the website snippet and conversion reports, the
link-in-bio page and the website embeds. None of them needs a session or sets a cookie."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_page
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.core.access import public_view
from stammtisch.core.models import Workspace
from stammtisch.links import conversions, embeds, tracking
from stammtisch.links.actions import conversion_secret, settings_for
from stammtisch.links.models import Conversion, LinkSettings

log = logging.getLogger(__name__)

CODE = re.compile(r"^[a-z0-9]{1,16}$")
PUBLIC_CACHE_SECONDS = 120
# The smallest transparent GIF: the answer to the website's pixel.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "links/not_found.html", status=404)


@public_view
@require_http_methods(["GET", "HEAD"])
def go(request: HttpRequest, code: str) -> HttpResponse:
    """The redirector: a 302 to the link's stored target (never to anything the request names),
    after the click is in the spool (tracking.record_click). Unknown and expired codes get a
    friendly 404 page."""
    resolved = tracking.resolve(code) if CODE.match(code) else None
    if resolved is None or resolved.expired(time.time()):
        return _not_found(request)
    meta = request.META
    click_uid = tracking.record_click(
        resolved,
        ip=meta.get("REMOTE_ADDR", ""),
        user_agent=meta.get("HTTP_USER_AGENT", "")[:1000],
        referrer=meta.get("HTTP_REFERER", ""),
        via_qr=request.GET.get("qr") == "1",
        head=request.method == "HEAD",
    )
    # The target was checked (http/https) when it was stored: no second parse on the hot path.
    response = HttpResponse(status=302)
    response["Location"] = tracking.target_for(resolved, click_uid)
    response["Cache-Control"] = "no-store"  # every visit reaches us, so every click is counted
    return response


@public_view
def bench_baseline(request: HttpRequest, code: str) -> HttpResponse:
    """`stammtisch bench redirect` only (STAMMTISCH_BENCH_BASELINE_VIEW): a bare 302 through the
    same middleware, the redirector's upper bound. Never routed otherwise."""
    response = HttpResponseRedirect("https://example.org/")
    response["Cache-Control"] = "no-store"
    return response


# --- the website snippet and conversion reports ---------------------------------------------------


def _settings_by_key(site_key: str) -> LinkSettings:
    return get_object_or_404(LinkSettings.objects.select_related("workspace"), site_key=site_key)


SNIPPET = """(function () {
  var script = document.currentScript, base = script.src.replace(/\\.js(\\?.*)?$/, "/hit");
  var click = new URLSearchParams(location.search).get("stm_click") || "";
  function send(kind, options) {
    options = options || {};
    // The page's address without its query or fragment (they may hold personal data).
    var query = new URLSearchParams({k: kind, c: click, p: location.origin + location.pathname});
    ["value", "currency", "name", "id"].forEach(function (key) {
      if (options[key] !== undefined && options[key] !== null) query.set(key, options[key]);
    });
    new Image().src = base + "?" + query.toString();
  }
  window.stammtisch = {conversion: send};
  send("visit");
})();
"""


@public_view
@require_GET
def snippet(request: HttpRequest, site_key: str) -> HttpResponse:
    """The first-party script for the company's website (docs/links.md)."""
    _settings_by_key(site_key)
    response = HttpResponse(SNIPPET, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@public_view
@require_GET
def hit(request: HttpRequest, site_key: str) -> HttpResponse:
    """The snippet's (and the <noscript> pixel's) report. A visit is stored only when it came
    from a short link (it is attributed) and once per click; other kinds always. Bots: nothing."""
    link_settings = _settings_by_key(site_key)
    workspace = link_settings.workspace
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:1000]
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    if tracking.is_bot(user_agent):
        return response
    params = request.GET
    try:
        kind = conversions.parse_kind(params.get("k") or "visit")
        value, currency = conversions.parse_value(params.get("value"), params.get("currency"))
    except conversions.BadReport:
        return response
    visitor = tracking.visitor_hash(workspace.pk, request.META.get("REMOTE_ADDR", ""), user_agent)
    now = timezone.now()
    click = tracking.click_of(params.get("c", ""), workspace.pk)
    if kind == Conversion.Kind.VISIT:
        attributed = conversions.attribute(workspace, visitor_hash=visitor, click=click, occurred_at=now)
        if attributed is None or Conversion.objects.filter(click=attributed, kind=Conversion.Kind.VISIT).exists():
            return response
        click = attributed
    conversions.record(
        workspace,
        kind=kind,
        source=Conversion.Source.SNIPPET,
        name=params.get("name", "")[:100],
        value=value,
        currency=currency,
        visitor_hash=visitor,
        click=click,
        occurred_at=now,
        external_id=params.get("id", "")[:100],
        page=params.get("p", "")[:2000],
    )
    return response


def _json_error(status: int, error: str, detail: str = "") -> JsonResponse:
    return JsonResponse({"error": error, "detail": detail}, status=status)


@public_view
@csrf_exempt  # signed with the workspace's secret instead (HMAC-SHA256 over time stamp and body)
@require_POST
def server_conversion(request: HttpRequest, site_key: str) -> HttpResponse:
    """A conversion reported by the company's web server (docs/links.md): 201 with the
    attribution; 403 for a bad or old signature (nothing is stored); 400 for a bad body."""
    link_settings = LinkSettings.objects.select_related("workspace").filter(site_key=site_key).first()
    timestamp = request.headers.get(conversions.TIMESTAMP_HEADER, "")
    signature = request.headers.get(conversions.SIGNATURE_HEADER, "")
    secret = conversion_secret(link_settings) if link_settings is not None else ""
    if link_settings is None or not conversions.signature_ok(secret, timestamp, request.body, signature):
        log.warning("conversion report refused: bad or missing signature (site key %s)", site_key[:32])
        return _json_error(
            403, "bad_signature", "The signature does not match, or the time stamp is older than 5 minutes."
        )
    workspace = link_settings.workspace
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise conversions.BadReport(_("The body must be a JSON object."))
        kind = conversions.parse_kind(body.get("kind"))
        value, currency = conversions.parse_value(body.get("value"), body.get("currency"))
        occurred_at = conversions.parse_time(body.get("occurred_at"), timezone.now())
        page = conversions.parse_page(body.get("page"))
        visitor = body.get("visitor") or {}
        if not isinstance(visitor, dict):
            raise conversions.BadReport(_("visitor must be an object with ip and user_agent."))
        email = conversions.parse_email(body.get("email"))
        referral = conversions.parse_referral(body.get("referral"))
    except (ValueError, conversions.BadReport) as exc:
        return _json_error(400, "bad_report", str(exc))
    visitor_hash = ""
    if visitor.get("ip"):
        visitor_hash = tracking.visitor_hash(
            workspace.pk, str(visitor["ip"]), str(visitor.get("user_agent", ""))[:1000]
        )
    conversion = conversions.record(
        workspace,
        kind=kind,
        source=Conversion.Source.SERVER,
        name=str(body.get("name") or "")[:100],
        value=value,
        currency=currency,
        visitor_hash=visitor_hash,
        click_token=str(body.get("click") or ""),
        occurred_at=occurred_at,
        external_id=str(body.get("id") or "")[:100],
        page=page[:2000],
        email=email,
        referral=referral,
    )
    return JsonResponse(
        {
            "id": conversion.pk,
            "attributed": conversion.click_id is not None,
            "link": conversion.link_id,
            "post": conversion.post_id,
            "channel": conversion.channel_id,
            "goal": conversion.post.goal_id if conversion.post is not None else None,
        },
        status=201,
    )


# --- link-in-bio and embeds ------------------------------------------------------------------------


def _public_workspace(slug: str) -> tuple[Workspace, LinkSettings]:
    workspace = get_object_or_404(Workspace, slug=slug)
    link_settings = settings_for(workspace)
    if not link_settings.bio_public:
        raise Http404
    return workspace, link_settings


def _page_context(workspace: Workspace, link_settings: LinkSettings) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "link_settings": link_settings,
        "title": link_settings.bio_title or workspace.name,
        "bio_url": settings.BASE_URL + reverse("links:bio", kwargs={"slug": workspace.slug}),
    }


@public_view
@require_GET
@cache_page(PUBLIC_CACHE_SECONDS)
def bio(request: HttpRequest, slug: str) -> HttpResponse:
    workspace, link_settings = _public_workspace(slug)
    context = _page_context(workspace, link_settings)
    context.update(
        links=embeds.bio_links(workspace),
        posts=embeds.latest_posts(workspace),
        follow=embeds.follow_items(workspace, campaign="bio"),
    )
    return render(request, "links/bio.html", context)


def _block(request: HttpRequest, slug: str, which: str) -> tuple[str, dict[str, Any]]:
    workspace, link_settings = _public_workspace(slug)
    context = _page_context(workspace, link_settings)
    if which == "follow":
        context["follow"] = embeds.follow_items(workspace)
    else:
        context["items"] = embeds.promo_items(workspace)
    return f"links/_embed_{which}.html", context


def _embed_page(request: HttpRequest, slug: str, which: str) -> HttpResponse:
    template, context = _block(request, slug, which)
    context["embed_html"] = render_to_string(template, context, request=request)
    return render(request, "links/embed_page.html", context)


def _embed_script(request: HttpRequest, slug: str, which: str) -> HttpResponse:
    template, context = _block(request, slug, which)
    html = render_to_string(template, context, request=request)
    script = (
        "(function () { var s = document.currentScript; "
        f"s.insertAdjacentHTML('beforebegin', {json.dumps(html)}); }})();\n"
    )
    return HttpResponse(script, content_type="text/javascript; charset=utf-8")


@public_view
@require_GET
@xframe_options_exempt
@cache_page(PUBLIC_CACHE_SECONDS)
def embed_follow(request: HttpRequest, slug: str) -> HttpResponse:
    return _embed_page(request, slug, "follow")


@public_view
@require_GET
@cache_page(PUBLIC_CACHE_SECONDS)
def embed_follow_js(request: HttpRequest, slug: str) -> HttpResponse:
    return _embed_script(request, slug, "follow")


@public_view
@require_GET
@xframe_options_exempt
@cache_page(PUBLIC_CACHE_SECONDS)
def embed_promo(request: HttpRequest, slug: str) -> HttpResponse:
    return _embed_page(request, slug, "promo")


@public_view
@require_GET
@cache_page(PUBLIC_CACHE_SECONDS)
def embed_promo_js(request: HttpRequest, slug: str) -> HttpResponse:
    return _embed_script(request, slug, "promo")
