"""Figures of posts on networks without an API (XING): entered by hand per post, or imported
from a CSV file (upload, preview, confirm, a template with the workspace's posts). Views parse
input, check access and call analytics/actions.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.analytics import imports
from stammtisch.analytics.actions import do_enter_metrics, do_import_metrics_csv, takes_manual_figures
from stammtisch.analytics.forms import FIGURE_LABELS, EnterMetricsForm, UploadForm
from stammtisch.analytics.models import PostMetricSnapshot
from stammtisch.core import csvimport
from stammtisch.core.access import WorkspaceRequest, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.publishing import imports as post_imports
from stammtisch.publishing.models import Delivery

HISTORY = 50  # snapshots listed on a post's figures page
TEMPLATE_DAYS = 90  # the template lists the posts confirmed in this many days


def get_delivery_for_member(request: WorkspaceRequest, delivery_id: int) -> Delivery:
    """A delivery of the request's workspace; 404 otherwise."""
    return get_object_or_404(
        Delivery.objects.select_related("post", "channel"), pk=delivery_id, post__workspace=request.workspace
    )


@workspace_view(Perm.VIEW)
@require_http_methods(["GET", "POST"])
def delivery_metrics(request: WorkspaceRequest, delivery_id: int) -> HttpResponse:
    """A post's figures on a network without an API: the history for every member, the form
    to enter figures for editors and above."""
    delivery = get_delivery_for_member(request, delivery_id)
    workspace = request.workspace
    if not takes_manual_figures(delivery):
        messages.info(request, _("The figures of this channel are read from the network automatically."))
        return redirect("publishing:post", slug=workspace.slug, post_id=delivery.post_id)
    can_edit = request.membership.can(Perm.EDIT)
    published = delivery.state == Delivery.State.PUBLISHED
    form = None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = EnterMetricsForm(request.POST, workspace=workspace)
        if form.is_valid():
            try:
                do_enter_metrics(
                    Actor.from_request(request),
                    delivery,
                    observed_at=form.cleaned_data["observed_at"],
                    values=form.values,
                )
            except ActionError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, _("Thank you: the figures are saved."))
                return redirect("analytics:delivery_metrics", slug=workspace.slug, delivery_id=delivery.pk)
    elif can_edit and published:
        now = timezone.localtime(timezone.now(), workspace.tz).replace(second=0, microsecond=0, tzinfo=None)
        form = EnterMetricsForm(initial={"observed_at": now}, workspace=workspace)
    snapshots = PostMetricSnapshot.objects.filter(workspace=workspace, delivery=delivery).select_related("entered_by")[
        :HISTORY
    ]
    response = render(
        request,
        "analytics/delivery_metrics.html",
        {
            "delivery": delivery,
            "form": form if published else None,
            "published": published,
            "can_edit": can_edit,
            "snapshots": snapshots,
            "figures": FIGURE_LABELS,
            "nav": "calendar",
        },
    )
    if form is not None and form.errors:
        response.status_code = 400
    return response


def _upload_page(request: WorkspaceRequest, form: UploadForm, status: int = 200) -> HttpResponse:
    response = render(
        request,
        "analytics/import.html",
        {
            "form": form,
            "max_rows": imports.MAX_ROWS,
            "max_mb": post_imports.MAX_BYTES // 1024 // 1024,
            "nav": "calendar",
        },
    )
    response.status_code = status
    return response


def _preview_page(
    request: WorkspaceRequest, preview: imports.Preview, *, token: str, filename: str, status: int = 200
) -> HttpResponse:
    response = render(
        request,
        "analytics/import_preview.html",
        {
            "preview": preview,
            **csvimport.preview_rows(preview.rows),
            "import_url": reverse("analytics:import", kwargs={"slug": request.workspace.slug}),
            "confirm_url": reverse("analytics:import_confirm", kwargs={"slug": request.workspace.slug}),
            "token": token,
            "filename": filename,
            "figures": FIGURE_LABELS,
            "form": UploadForm(),
            "nav": "calendar",
        },
    )
    response.status_code = status
    return response


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def import_metrics(request: WorkspaceRequest) -> HttpResponse:
    """GET: the upload form. POST: the uploaded file checked and shown as a preview."""
    workspace = request.workspace
    if request.method != "POST":
        return _upload_page(request, UploadForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read(post_imports.MAX_BYTES + 1)
    filename = (upload.name or "")[:200]
    try:
        preview = imports.read_metrics_csv(workspace, data)
    except ActionError as exc:
        form.add_error("file", exc.message)
        return _upload_page(request, form, status=400)
    token = csvimport.preview_token(request, preview.ok, data, filename=filename)
    return _preview_page(request, preview, token=token, filename=filename)


@require_POST
@workspace_view(Perm.EDIT)
def import_metrics_confirm(request: WorkspaceRequest) -> HttpResponse:
    """Import the file shown in the preview: every row or none."""
    workspace = request.workspace
    token = request.POST.get("token", "")
    stored = csvimport.load_upload(workspace, csvimport.user_id(request), token)
    if stored is None:
        messages.error(request, _("This preview has expired or does not belong to you. Upload the file again."))
        return redirect("analytics:import", slug=workspace.slug)
    data, meta = stored
    filename = str(meta.get("filename", ""))
    try:
        count = do_import_metrics_csv(Actor.from_request(request), workspace, data, filename=filename, token=token)
    except ActionError as exc:
        messages.error(request, exc.message)
        csvimport.discard_upload(workspace, csvimport.user_id(request), token)
        try:
            preview = imports.read_metrics_csv(workspace, data)
        except ActionError:
            return redirect("analytics:import", slug=workspace.slug)
        return _preview_page(request, preview, token="", filename=filename, status=409)
    csvimport.discard_upload(workspace, csvimport.user_id(request), token)
    messages.success(
        request,
        ngettext("Figures of %(count)d row were imported.", "Figures of %(count)d rows were imported.", count)
        % {"count": count},
    )
    return redirect("analytics:import", slug=workspace.slug)


@require_GET
@workspace_view(Perm.EDIT)
def import_metrics_template(request: WorkspaceRequest) -> HttpResponse:
    """A CSV file to fill in: one row per post confirmed by hand in the last TEMPLATE_DAYS days,
    dated today. `?lang=de`: German headers, semicolons and dates (with a BOM, for Excel)."""
    workspace = request.workspace
    german = request.GET.get("lang") == "de"
    today = timezone.localdate(timezone=workspace.tz)
    since = timezone.now() - dt.timedelta(days=TEMPLATE_DAYS)
    deliveries = sorted(
        (d for d in imports.manual_deliveries(workspace).values() if d.published_at and d.published_at >= since),
        key=lambda d: (d.published_at, d.pk),
    )
    out = io.StringIO()
    header: list[Any]
    if german:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        header = ["Adresse", "Datum", "Impressionen", "Likes", "Kommentare", "Geteilt", "Klicks"]
        day = today.strftime("%d.%m.%Y")
    else:
        writer = csv.writer(out, delimiter=",", lineterminator="\r\n")
        header = ["url", "date", *imports.FIGURES]
        day = today.isoformat()
    writer.writerow(header)
    for delivery in deliveries:
        writer.writerow([delivery.remote_url, day, "", "", "", "", ""])
    body = (b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")) if german else out.getvalue().encode("utf-8")
    name = "stammtisch-kennzahlen.csv" if german else "stammtisch-figures.csv"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
