"""The SEO pages of a workspace (Links → SEO): social visits per landing page beside the search
figures imported from Google Search Console, one page's figures by day, source and query, and
the Search Console import (upload, preview, confirm: all or nothing). docs/links.md "SEO signals"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.analytics.dashboard import last_refresh
from stammtisch.analytics.kpis import read_rollups
from stammtisch.core import csvimport
from stammtisch.core.access import WorkspaceRequest, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.links import seo, seo_actions, seo_import
from stammtisch.links.seo_forms import SearchConsoleDeleteForm, SearchConsoleUploadForm
from stammtisch.links.views import _render

RANGES = (7, 28, 90, 180, 365)
DEFAULT_DAYS = 90
MAX_RANGE_DAYS = 500
PAGE_ROWS = 200  # pages listed on the SEO page
SORTS = ("social", "visits", "search", "impressions", "change")
TOTAL_KEYS = (
    "seo.social_clicks",
    "seo.social_visits",
    "seo.search_clicks",
    "seo.search_impressions",
    "seo.position_weight",
    "seo.position_impressions",
    "seo.search_days",
)


@dataclass(frozen=True)
class Range:
    """The local days [first, last] a page shows. `period`: exactly an imported period of a file
    without dates, whose totals are shown instead of daily search figures."""

    first: dt.date
    last: dt.date
    days: int | None  # one of RANGES, or None for a range given by its days
    period: bool

    @property
    def length(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def query(self) -> dict[str, str]:
        if self.days is not None:
            return {"days": str(self.days)}
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def _parse_day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        return None


def _range(request: WorkspaceRequest) -> Range:
    """`?days=N` (one of RANGES), or `?from=YYYY-MM-DD&to=YYYY-MM-DD`; anything else: the last
    DEFAULT_DAYS days."""
    workspace = request.workspace
    today = timezone.localtime(timezone.now(), workspace.tz).date()
    first, last = _parse_day(request.GET.get("from")), _parse_day(request.GET.get("to"))
    if first is not None and last is not None and first <= last and (last - first).days < MAX_RANGE_DAYS:
        periods = {(row["first_day"], row["last_day"]) for row in seo.imported_periods(workspace)}
        return Range(first, last, None, (first, last) in periods)
    try:
        days = int(request.GET.get("days") or DEFAULT_DAYS)
    except ValueError:
        days = DEFAULT_DAYS
    days = days if days in RANGES else DEFAULT_DAYS
    return Range(today - dt.timedelta(days=days - 1), today, days, False)


@dataclass
class PageRow:
    page: str
    social: seo.Social
    search: seo.SearchFigures | None
    previous_clicks: int | None  # search clicks of the range before (None: no figures then)

    @property
    def change(self) -> int | None:
        if self.search is None or self.previous_clicks is None:
            return None
        return self.search.clicks - self.previous_clicks


def _sort_key(sort: str) -> Any:
    def key(row: PageRow) -> tuple[Any, ...]:
        search = row.search.clicks if row.search else -1
        impressions = row.search.impressions if row.search else -1
        change = row.change if row.change is not None else -(10**12)
        first = {
            "social": row.social.clicks + row.social.visits,
            "visits": row.social.visits,
            "search": search,
            "impressions": impressions,
            "change": change,
        }[sort]
        return (-first, -(row.social.clicks + row.social.visits), -search, row.page)

    return key


def _page_rows(request: WorkspaceRequest, span: Range, sort: str) -> list[PageRow]:
    workspace = request.workspace
    social = seo.social_figures(workspace, span.first, span.last).by_page()
    search = seo.search_by_page(workspace, span.first, span.last, period=span.period)
    previous: dict[str, seo.SearchFigures] = {}
    had_before = False
    if not span.period:
        before_last = span.first - dt.timedelta(days=1)
        before_first = before_last - dt.timedelta(days=span.length - 1)
        previous = seo.search_by_page(workspace, before_first, before_last, period=False)
        had_before = seo.daily_coverage(workspace, before_first, before_last) > 0
    rows = []
    for page in set(social) | set(search):
        before = previous.get(page)
        rows.append(
            PageRow(
                page=page,
                social=social.get(page, seo.Social()),
                search=search.get(page),
                previous_clicks=(before.clicks if before else 0) if had_before else None,
            )
        )
    return sorted(rows, key=_sort_key(sort))


def _totals(request: WorkspaceRequest, span: Range, pages: list[PageRow]) -> dict[str, Any]:
    """The range's totals as goals count them (daily rollups); for an imported period, its own
    totals and the social figures of its days."""
    workspace = request.workspace
    if span.period:
        figures = seo.period_total(workspace, span.first, span.last)
        return {
            "social_clicks": sum(row.social.clicks for row in pages),
            "social_visits": sum(row.social.visits for row in pages),
            "search": figures,
            "search_days": None,
        }
    series = read_rollups(workspace, TOTAL_KEYS, span.first, span.last)

    def total(key: str) -> float:
        return sum(series.get(key, {}).values())

    search = None
    if series.get("seo.search_days"):
        search = seo.SearchFigures(
            clicks=int(total("seo.search_clicks")),
            impressions=int(total("seo.search_impressions")),
            position_weight=total("seo.position_weight"),
            position_impressions=int(total("seo.position_impressions")),
        )
    return {
        "social_clicks": int(total("seo.social_clicks")),
        "social_visits": int(total("seo.social_visits")),
        "search": search,
        "search_days": int(total("seo.search_days")),
    }


@workspace_view(Perm.VIEW)
@require_GET
def seo_overview(request: WorkspaceRequest) -> HttpResponse:
    """Per landing page: social clicks and visits beside search clicks, impressions, CTR and
    position, and the change of search clicks against the range before."""
    workspace = request.workspace
    span = _range(request)
    sort = request.GET.get("sort", "social")
    sort = sort if sort in SORTS else "social"
    pages = _page_rows(request, span, sort)
    return _render(
        request,
        "links/seo.html",
        {
            "span": span,
            "ranges": RANGES,
            "range_query": urlencode(span.query),
            "sort": sort,
            "pages": pages[:PAGE_ROWS],
            "more_pages": max(0, len(pages) - PAGE_ROWS),
            "totals": _totals(request, span, pages),
            "queries": seo.search_by_query(workspace, span.first, span.last, period=span.period, limit=20),
            "periods": seo.imported_periods(workspace)[:20],
            "refreshed_at": last_refresh(workspace),
        },
    )


@workspace_view(Perm.VIEW)
@require_GET
def seo_page(request: WorkspaceRequest) -> HttpResponse:
    """One landing page (`?page=<key or address>`): its figures by day, by source and by query."""
    workspace = request.workspace
    given = request.GET.get("page", "").strip()
    page = seo.page_key(given) if "://" in given else given[: seo.MAX_PAGE]
    if not page:
        if given:
            messages.error(request, _("This is not the address of a page."))
        return redirect("links:seo", slug=workspace.slug)
    span = _range(request)
    social = seo.social_figures(workspace, span.first, span.last, page=page)
    search = seo.search_of_page_by_day(workspace, page, span.first, span.last, period=span.period)
    by_day: dict[dt.date, dict[str, Any]] = {}
    for (day, _page, _source), figures in social.cells.items():
        cell = by_day.setdefault(day, {"day": day, "clicks": 0, "visits": 0, "search": None})
        cell["clicks"] += figures.clicks
        cell["visits"] += figures.visits
    by_source: dict[str, seo.Social] = {}
    for (_day, _page, source), figures in social.cells.items():
        total = by_source.setdefault(source, seo.Social())
        total.clicks += figures.clicks
        total.visits += figures.visits
    period_search = None
    if span.period:
        period_search = search.get(span.first)
    else:
        for day, found in search.items():
            by_day.setdefault(day, {"day": day, "clicks": 0, "visits": 0, "search": None})["search"] = found
    sources = sorted(
        ((social.sources[key], figures) for key, figures in by_source.items()),
        key=lambda item: (-(item[1].clicks + item[1].visits), item[0].label),
    )
    return _render(
        request,
        "links/seo_page.html",
        {
            "page": page,
            "page_url": seo.page_url(page),
            "span": span,
            "ranges": RANGES,
            "days": sorted(by_day.values(), key=lambda cell: cell["day"], reverse=True),
            "sources": sources,
            "period_search": period_search,
            "queries": seo.search_by_query(workspace, span.first, span.last, period=span.period, page=page),
        },
    )


# --- The Search Console import ---------------------------------------------------------------


def _upload_page(request: WorkspaceRequest, form: SearchConsoleUploadForm, status: int = 200) -> HttpResponse:
    response = _render(
        request,
        "links/seo_import.html",
        {
            "form": form,
            "delete_form": SearchConsoleDeleteForm(),
            "max_rows": seo_import.MAX_ROWS,
            "max_mb": seo_import.MAX_BYTES // 1024 // 1024,
            "periods": seo.imported_periods(request.workspace)[:20],
        },
    )
    response.status_code = status
    return response


def _preview_page(
    request: WorkspaceRequest, preview: seo_import.Preview, *, token: str, filename: str, status: int = 200
) -> HttpResponse:
    response = _render(
        request,
        "links/seo_import_preview.html",
        {
            "preview": preview,
            **csvimport.preview_rows(preview.rows),
            "import_url": reverse("links:seo_import", kwargs={"slug": request.workspace.slug}),
            "confirm_url": reverse("links:seo_import_confirm", kwargs={"slug": request.workspace.slug}),
            "token": token,
            "filename": filename,
            "form": SearchConsoleUploadForm(
                initial={"first_day": preview.period[0], "last_day": preview.period[1]} if preview.period else None
            ),
        },
    )
    response.status_code = status
    return response


def _period(
    workspace: Any, first: dt.date | None, last: dt.date | None
) -> tuple[dt.date, dt.date] | None:  # raises NeedsPeriod
    today = timezone.localtime(timezone.now(), workspace.tz).date()
    return seo_import.check_period(first, last, today)


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def seo_import_upload(request: WorkspaceRequest) -> HttpResponse:
    """GET: the upload form. POST: the uploaded file checked and shown as a preview."""
    workspace = request.workspace
    if request.method != "POST":
        return _upload_page(request, SearchConsoleUploadForm())
    form = SearchConsoleUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    if upload.size is not None and upload.size > seo_import.MAX_BYTES:
        form.add_error(
            "file",
            _("The file is larger than %(size)d MB. Export a shorter date range, or split the file.")
            % {"size": seo_import.MAX_BYTES // 1024 // 1024},
        )
        return _upload_page(request, form, status=400)
    data = upload.read(seo_import.MAX_BYTES + 1)
    filename = (upload.name or "")[:200]
    try:
        period = _period(workspace, *form.period)
        preview = seo_import.read_search_console_csv(workspace, data, period=period)
    except seo_import.NeedsPeriod as exc:
        form.add_error("first_day", exc.message)
        return _upload_page(request, form, status=400)
    except ActionError as exc:
        form.add_error("file", exc.message)
        return _upload_page(request, form, status=400)
    token = csvimport.preview_token(request, preview.ok, data, filename=filename)
    return _preview_page(request, preview, token=token, filename=filename)


@workspace_view(Perm.EDIT)
@require_POST
def seo_import_confirm(request: WorkspaceRequest) -> HttpResponse:
    """Import the file shown in the preview: every row or none."""
    workspace = request.workspace
    token = request.POST.get("token", "")
    stored = csvimport.load_upload(workspace, csvimport.user_id(request), token)
    if stored is None:
        messages.error(request, _("This preview has expired or does not belong to you. Upload the file again."))
        return redirect("links:seo_import", slug=workspace.slug)
    data, meta = stored
    filename = str(meta.get("filename", ""))
    try:
        period = _period(workspace, _parse_day(request.POST.get("first_day")), _parse_day(request.POST.get("last_day")))
        count = seo_actions.do_import_search_console(
            Actor.from_request(request), workspace, data, period=period, filename=filename, token=token
        )
    except ActionError as exc:
        messages.error(request, exc.message)
        csvimport.discard_upload(workspace, csvimport.user_id(request), token)
        return redirect("links:seo_import", slug=workspace.slug)
    csvimport.discard_upload(workspace, csvimport.user_id(request), token)
    messages.success(
        request,
        ngettext(
            "Search Console figures of %(count)d row were imported.",
            "Search Console figures of %(count)d rows were imported.",
            count,
        )
        % {"count": count},
    )
    return redirect(reverse("links:seo", kwargs={"slug": workspace.slug}) + "?" + urlencode(_landing(period)))


def _landing(period: tuple[dt.date, dt.date] | None) -> dict[str, str]:
    """Where to look after an import: the imported period, or the default range."""
    if period is not None and period[0] != period[1]:
        return {"from": period[0].isoformat(), "to": period[1].isoformat()}
    return {"days": str(DEFAULT_DAYS)}


@workspace_view(Perm.EDIT)
@require_POST
def seo_import_delete(request: WorkspaceRequest) -> HttpResponse:
    """Delete the imported figures of a range of days (an import with a wrong period)."""
    workspace = request.workspace
    form = SearchConsoleDeleteForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, problems)
        return redirect("links:seo_import", slug=workspace.slug)
    try:
        deleted = seo_actions.do_delete_search_console(
            Actor.from_request(request), workspace, form.cleaned_data["first_day"], form.cleaned_data["last_day"]
        )
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            ngettext(
                "%(count)d row of Search Console figures was deleted.",
                "%(count)d rows of Search Console figures were deleted.",
                deleted,
            )
            % {"count": deleted},
        )
    return redirect("links:seo_import", slug=workspace.slug)
