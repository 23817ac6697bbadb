"""The CSV import page: upload, preview, confirm, template download (docs/import.md). Views parse
input and call `publishing/imports.py`; the preview stores nothing but the uploaded file, kept
server-side under a random token of this user and workspace until "Import" is pressed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from stammtisch.core import csvimport
from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.publishing import imports


class UploadForm(forms.Form):
    DRAFT = "draft"
    QUEUE = "queue"

    file = forms.FileField(label=gettext_lazy("CSV file"))
    undated = forms.ChoiceField(
        label=gettext_lazy("Rows without a date"),
        choices=[(DRAFT, gettext_lazy("become drafts")), (QUEUE, gettext_lazy("go into the queue"))],
        initial=DRAFT,
        widget=forms.RadioSelect,
    )


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    context = {"workspace": workspace, "can_edit": True, "nav": "calendar", **context}
    with timezone.override(workspace.tz):
        return render(request, template, context)


def _upload_page(request: HttpRequest, form: UploadForm, status: int = 200) -> HttpResponse:
    response = _render(
        request,
        "publishing/import.html",
        {"form": form, "max_rows": imports.MAX_ROWS, "max_mb": imports.MAX_BYTES // 1024 // 1024},
    )
    response.status_code = status
    return response


def _preview_page(
    request: HttpRequest, preview: imports.Preview, *, token: str, filename: str, queue: bool, status: int = 200
) -> HttpResponse:
    slug = request.workspace.slug  # type: ignore[attr-defined]
    response = _render(
        request,
        "publishing/import_preview.html",
        {
            "preview": preview,
            **csvimport.preview_rows(preview.rows),
            "import_url": reverse("publishing:import", kwargs={"slug": slug}),
            "confirm_url": reverse("publishing:import_confirm", kwargs={"slug": slug}),
            "token": token,
            "filename": filename,
            "queue": queue,
            "form": UploadForm(initial={"undated": UploadForm.QUEUE if queue else UploadForm.DRAFT}),
            "max_rows": imports.MAX_ROWS,
            "max_mb": imports.MAX_BYTES // 1024 // 1024,
        },
    )
    response.status_code = status
    return response


@workspace_view(Perm.EDIT)
def import_posts(request: HttpRequest) -> HttpResponse:
    """GET: the upload form. POST: the uploaded file checked and shown as a preview."""
    workspace = request.workspace  # type: ignore[attr-defined]
    if request.method != "POST":
        return _upload_page(request, UploadForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    queue = form.cleaned_data["undated"] == UploadForm.QUEUE
    if upload.size is not None and upload.size > imports.MAX_BYTES:
        form.add_error("file", _("The file is larger than %(size)d MB.") % {"size": imports.MAX_BYTES // 1024 // 1024})
        return _upload_page(request, form, status=400)
    data = upload.read(imports.MAX_BYTES + 1)
    filename = (upload.name or "")[:200]
    try:
        preview = imports.read_csv(workspace, data, queue=queue)
    except ActionError as exc:
        form.add_error("file", exc.message)
        return _upload_page(request, form, status=400)
    token = csvimport.preview_token(request, preview.ok, data, filename=filename, queue=queue)
    return _preview_page(request, preview, token=token, filename=filename, queue=queue)


@require_POST
@workspace_view(Perm.EDIT)
def import_confirm(request: HttpRequest) -> HttpResponse:
    """Import the file shown in the preview: all rows or none."""
    workspace = request.workspace  # type: ignore[attr-defined]
    token = request.POST.get("token", "")
    stored = csvimport.load_upload(workspace, csvimport.user_id(request), token)
    if stored is None:
        messages.error(request, _("This preview has expired or does not belong to you. Upload the file again."))
        return redirect("publishing:import", slug=workspace.slug)
    data, meta = stored
    queue = bool(meta.get("queue"))
    filename = str(meta.get("filename", ""))
    try:
        posts = imports.do_import_csv(
            Actor.from_request(request), workspace, data, filename=filename, queue=queue, token=token
        )
    except ActionError as exc:
        try:
            preview = imports.read_csv(workspace, data, queue=queue)
        except ActionError:
            messages.error(request, exc.message)
            return redirect("publishing:import", slug=workspace.slug)
        messages.error(request, exc.message)
        csvimport.discard_upload(workspace, csvimport.user_id(request), token)
        return _preview_page(request, preview, token="", filename=filename, queue=queue, status=409)
    csvimport.discard_upload(workspace, csvimport.user_id(request), token)
    messages.success(
        request,
        ngettext("%(count)d post was imported.", "%(count)d posts were imported.", len(posts)) % {"count": len(posts)},
    )
    dated = sorted(post.scheduled_at for post in posts if post.scheduled_at is not None)
    params = {"view": "list"}
    if dated:
        params["date"] = timezone.localtime(dated[0], workspace.tz).date().isoformat()
    return redirect(reverse("publishing:calendar", kwargs={"slug": workspace.slug}) + "?" + urlencode(params))


@require_GET
@workspace_view(Perm.EDIT)
def import_template(request: HttpRequest) -> HttpResponse:
    """A CSV file to start from: `?lang=de` German (semicolons, for Excel), else English."""
    workspace = request.workspace  # type: ignore[attr-defined]
    language = "de" if request.GET.get("lang") == "de" else "en"
    body = imports.template_csv(workspace, language)
    name = "stammtisch-import-vorlage.csv" if language == "de" else "stammtisch-import-template.csv"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
