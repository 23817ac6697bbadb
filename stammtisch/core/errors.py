"""Error pages: HTML for browsers, a JSON body for API and htmx clients."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or ("application/json" in accept and "text/html" not in accept)


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": title, "detail": message}, status=status)
    return render(request, "error.html", {"status": status, "title": title, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, _("Bad request"), _("The request could not be understood."))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, _("Not allowed"), _("Your role in this workspace does not allow this. Ask an admin."))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, _("Not found"), _("This page does not exist, or you have no access to it."))


def server_error(request: HttpRequest) -> HttpResponse:
    try:
        return _error(request, 500, _("Something went wrong"), _("The error has been logged. Please try again."))
    except Exception:  # the template itself may be the problem
        return HttpResponse("Server error", status=500, content_type="text/plain")
