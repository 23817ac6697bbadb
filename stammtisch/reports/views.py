"""Reports: every member sees the workspace's reports, asks for one and retries a failed one;
editors and above share them by link and schedule e-mails. The share link itself is public
(the token is the credential) and shows that one report, nothing else."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.core.access import WorkspaceRequest, public_view, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.reports import actions, pdf
from stammtisch.reports import render as rendering
from stammtisch.reports.forms import GenerateForm, ScheduleForm, ShareForm
from stammtisch.reports.models import Report, ReportMailing, ReportSchedule, ReportShare

PAGE_SIZE = 25


def get_report_for_member(request: WorkspaceRequest, report_id: int) -> Report:
    """A report of the request's workspace; 404 otherwise."""
    return get_object_or_404(Report.objects.select_related("workspace"), pk=report_id, workspace=request.workspace)


def get_share_for_member(request: WorkspaceRequest, share_id: int) -> ReportShare:
    return get_object_or_404(
        ReportShare.objects.select_related("workspace", "report"), pk=share_id, workspace=request.workspace
    )


def get_schedule_for_member(request: WorkspaceRequest, schedule_id: int) -> ReportSchedule:
    return get_object_or_404(
        ReportSchedule.objects.select_related("workspace"), pk=schedule_id, workspace=request.workspace
    )


def get_mailing_for_member(request: WorkspaceRequest, mailing_id: int) -> ReportMailing:
    return get_object_or_404(
        ReportMailing.objects.select_related("workspace", "report"), pk=mailing_id, workspace=request.workspace
    )


def _list_url(request: WorkspaceRequest) -> str:
    return reverse("reports:list", args=[request.workspace.slug])


def _report_rows(reports: list[Report]) -> list[tuple[Report, str]]:
    return [(report, rendering.period_label(report)) for report in reports]


@workspace_view(Perm.VIEW)
@require_GET
def report_list(request: WorkspaceRequest) -> HttpResponse:
    """The workspace's reports (newest first), "generate now", the schedules and recent e-mails."""
    workspace = request.workspace
    today = actions.today_in(workspace)
    page = Paginator(Report.objects.filter(workspace=workspace).select_related("schedule"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "reports/list.html",
        {
            "nav": "reports",
            "page": page,
            "rows": _report_rows(list(page.object_list)),
            "form": GenerateForm(today=today, initial={"language": workspace.language}),
            "schedules": ReportSchedule.objects.filter(workspace=workspace),
            "mailings": ReportMailing.objects.filter(workspace=workspace).select_related("report")[:10],
            "can_edit": request.membership.can(Perm.EDIT),
            "pdf_problem": pdf.unavailable_reason(),
        },
    )


@workspace_view(Perm.VIEW)
@require_POST
def generate(request: WorkspaceRequest) -> HttpResponse:
    workspace = request.workspace
    form = GenerateForm(request.POST, today=actions.today_in(workspace))
    if form.is_valid():
        try:
            report = actions.do_request_report(
                Actor.from_request(request), workspace, form.cleaned_data["period"], form.cleaned_data["language"]
            )
        except ActionError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("The report of %(period)s is being generated; this page shows when it is ready.")
                % {"period": rendering.period_label(report)},
            )
            return redirect("reports:detail", slug=workspace.slug, report_id=report.pk)
    else:
        messages.error(request, _("Choose one of the periods and languages offered."))
    return redirect(_list_url(request))


@workspace_view(Perm.VIEW)
@require_GET
def detail(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    """A report: its state (with the error and "Retry" when it failed), the PDF, its share links
    and e-mails, and the report itself in its language."""
    report = get_report_for_member(request, report_id)
    body = rendering.render_body(report) if report.state == Report.State.DONE and report.data else ""
    return render(
        request,
        "reports/detail.html",
        {
            "nav": "reports",
            "report": report,
            "label": rendering.period_label(report),
            "title": rendering.title_of(report.kind),
            "body": mark_safe(body),  # rendered by our template, every value escaped there
            "shares": report.shares.all(),
            "mailings": report.mailings.all(),
            "share_form": ShareForm(),
            "can_edit": request.membership.can(Perm.EDIT),
            "open": report.state in Report.OPEN,
        },
    )


@workspace_view(Perm.VIEW)
@require_GET
def download(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = get_report_for_member(request, report_id)
    if report.state != Report.State.DONE or not report.file:
        messages.error(request, _("This report has no PDF yet."))
        return redirect("reports:detail", slug=request.workspace.slug, report_id=report.pk)
    try:
        handle = report.file.open("rb")
    except OSError:
        messages.error(request, _("The PDF file of this report is missing; generate the report again."))
        return redirect("reports:detail", slug=request.workspace.slug, report_id=report.pk)
    response = FileResponse(
        handle, as_attachment=True, filename=rendering.filename(report), content_type="application/pdf"
    )
    return cast(HttpResponse, response)  # streamed; the access marks type views as HttpResponse


@workspace_view(Perm.VIEW)
@require_POST
def retry(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = get_report_for_member(request, report_id)
    try:
        actions.do_retry_report(Actor.from_request(request), report)
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The report is being generated again."))
    return redirect("reports:detail", slug=request.workspace.slug, report_id=report.pk)


# --- Share links ----------------------------------------------------------------------------------


@workspace_view(Perm.EDIT)
@require_POST
def share_create(request: WorkspaceRequest, report_id: int) -> HttpResponse:
    report = get_report_for_member(request, report_id)
    form = ShareForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A link expires after 1 to 365 days, or never (leave it empty)."))
        return redirect("reports:detail", slug=request.workspace.slug, report_id=report.pk)
    try:
        _share, token = actions.do_create_share(Actor.from_request(request), report, form.cleaned_data["expires_days"])
    except ActionError as error:
        messages.error(request, error.message)
    else:
        url = request.build_absolute_uri(reverse("reports:shared", args=[token]))
        messages.success(
            request,
            _("Share link created. Copy it now, it is not shown again: %(url)s") % {"url": url},
        )
    return redirect("reports:detail", slug=request.workspace.slug, report_id=report.pk)


@workspace_view(Perm.EDIT)
@require_POST
def share_revoke(request: WorkspaceRequest, share_id: int) -> HttpResponse:
    share = get_share_for_member(request, share_id)
    actions.do_revoke_share(Actor.from_request(request), share)
    messages.success(request, _("Share link revoked: it no longer works."))
    return redirect("reports:detail", slug=request.workspace.slug, report_id=share.report_id)


@never_cache
@public_view
@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    """The report behind a share link, read-only, without log-in and without navigation.
    Unknown, revoked and expired links answer with the same 404 page."""
    share = actions.find_share(token)
    if share is None:
        response = render(request, "reports/shared_invalid.html", status=404)
    else:
        response = HttpResponse(rendering.render_document(share.report, share=True))
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response


# --- Schedules --------------------------------------------------------------------------------------


def _schedule_page(request: WorkspaceRequest, schedule: ReportSchedule | None) -> HttpResponse:
    workspace = request.workspace
    initial = (
        {
            "kind": schedule.kind,
            "recipients": "\n".join(schedule.recipients),
            "language": schedule.language,
            "active": schedule.active,
        }
        if schedule
        else {"language": workspace.language, "active": True}
    )
    form = ScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_save_schedule(Actor.from_request(request), workspace, schedule=schedule, **form.cleaned_data)
        except ActionError as error:
            form.add_error("recipients", error.message)
        else:
            messages.success(request, _("Report schedule saved."))
            return redirect(_list_url(request))
    return render(request, "reports/schedule_form.html", {"nav": "reports", "form": form, "schedule": schedule})


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def schedule_create(request: WorkspaceRequest) -> HttpResponse:
    return _schedule_page(request, None)


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def schedule_edit(request: WorkspaceRequest, schedule_id: int) -> HttpResponse:
    return _schedule_page(request, get_schedule_for_member(request, schedule_id))


@workspace_view(Perm.EDIT)
@require_POST
def schedule_delete(request: WorkspaceRequest, schedule_id: int) -> HttpResponse:
    schedule = get_schedule_for_member(request, schedule_id)
    actions.do_delete_schedule(Actor.from_request(request), schedule)
    messages.success(request, _("Report schedule deleted."))
    return redirect(_list_url(request))


@workspace_view(Perm.EDIT)
@require_POST
def schedule_send(request: WorkspaceRequest, schedule_id: int) -> HttpResponse:
    schedule = get_schedule_for_member(request, schedule_id)
    try:
        mailing = actions.do_send_now(Actor.from_request(request), schedule)
    except ActionError as error:
        messages.error(request, error.message)
        return redirect(_list_url(request))
    messages.success(request, _("The report is being generated and will be e-mailed when it is ready."))
    return redirect("reports:detail", slug=request.workspace.slug, report_id=mailing.report_id)


@workspace_view(Perm.EDIT)
@require_POST
def mailing_retry(request: WorkspaceRequest, mailing_id: int) -> HttpResponse:
    mailing = get_mailing_for_member(request, mailing_id)
    try:
        actions.do_retry_mailing(Actor.from_request(request), mailing)
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The e-mail will be sent again."))
    return redirect("reports:detail", slug=request.workspace.slug, report_id=mailing.report_id)
