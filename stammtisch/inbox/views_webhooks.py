"""The webhook endpoints (docs/inbox.md "Webhooks"). Public and CSRF-exempt: Meta's requests are
checked by their X-Hub-Signature-256, Telegram's by the X-Telegram-Bot-Api-Secret-Token header.
A bad or missing signature is answered 403 and logged; nothing is stored."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from stammtisch.core.access import public_view
from stammtisch.inbox import webhooks
from stammtisch.networks.models import Channel

log = logging.getLogger(__name__)

MAX_BODY = 2_000_000  # Meta batches up to 1,000 changes; far below this


def _client(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "?")


def _verify(request: HttpRequest, what: str) -> HttpResponse:
    """Meta's subscription check: echo hub.challenge when hub.verify_token is ours."""
    expected = settings.STAMMTISCH_META_WEBHOOK_VERIFY_TOKEN
    token = request.GET.get("hub.verify_token", "")
    if request.GET.get("hub.mode") == "subscribe" and expected and webhooks.hmac.compare_digest(token, expected):
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
    log.warning(
        "%s webhook: verification refused (mode %r) from %s", what, request.GET.get("hub.mode"), _client(request)
    )
    return HttpResponseForbidden("verification failed", content_type="text/plain")


def _receive(request: HttpRequest, what: str, secret: str, *, threads: bool) -> HttpResponse:
    body = request.body
    if not webhooks.signature_ok(body, request.headers.get("X-Hub-Signature-256"), secret):
        log.warning(
            "%s webhook: %s signature from %s, refused",
            what,
            "bad" if request.headers.get("X-Hub-Signature-256") else "missing",
            _client(request),
        )
        return HttpResponseForbidden("bad signature", content_type="text/plain")
    if len(body) > MAX_BODY:
        return HttpResponse("too large", status=413, content_type="text/plain")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        log.warning("%s webhook: signed body is not JSON, ignored", what)
        return HttpResponse(status=400)
    outcome = webhooks.store_meta(payload, timezone.now(), threads=threads)
    return JsonResponse({"items": outcome.items, "stored": outcome.stored})


@public_view
@csrf_exempt
@require_http_methods(["GET", "POST"])
def meta(request: HttpRequest) -> HttpResponse:
    """Facebook Pages (object "page") and Instagram (object "instagram"), one Meta app."""
    if request.method == "GET":
        return _verify(request, "Meta")
    return _receive(request, "Meta", settings.META_APP_SECRET, threads=False)


@public_view
@csrf_exempt
@require_http_methods(["GET", "POST"])
def threads(request: HttpRequest) -> HttpResponse:
    """Threads, signed with the Threads app secret."""
    if request.method == "GET":
        return _verify(request, "Threads")
    return _receive(request, "Threads", settings.THREADS_APP_SECRET, threads=True)


@public_view
@csrf_exempt
@require_POST
def telegram(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id, network=webhooks.TELEGRAM)
    if not webhooks.telegram_secret_ok(channel, request.headers.get("X-Telegram-Bot-Api-Secret-Token")):
        log.warning("Telegram webhook of channel %s: bad or missing secret token from %s", channel.pk, _client(request))
        return HttpResponseForbidden("bad secret token", content_type="text/plain")
    try:
        update = json.loads(request.body)
    except ValueError:
        return HttpResponse(status=400)
    stored = webhooks.store_telegram(channel, update, timezone.now())
    return JsonResponse({"stored": stored})
