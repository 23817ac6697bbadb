"""SEO signals (docs/links.md "SEO signals"): visits from social per landing page, beside the
figures imported from Google Search Console (seo_import.py).

A **page** is an address reduced to host and path (`page_key`): no scheme, no "www.", no query,
no fragment, no trailing slash. Social figures of a page: the non-bot clicks on social short
links whose target is that page, and the visits the website reported (Conversion kind "visit")
that were attributed to such a click, counted on the page the website named (else the link's
target). A short link is social when it was made for a channel's post or is tagged
`utm_medium=social`.

Search Console rows come in grains (`SearchConsoleRow.Grain`) that do not add up to the same
totals (a file of queries leaves out anonymised queries; the UI export holds its top 1,000
rows). Figures are therefore never summed across grains: for each day (and page or query) the
most complete grain that day has is used (`TOTAL_ORDER`, `PAGE_ORDER`, `QUERY_ORDER`). Rows of a
period (a file without dates) count only when exactly that period is asked for; rows of one day
count for every range that contains the day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from django.db.models import Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from stammtisch.core.models import Workspace
from stammtisch.links.models import Click, Conversion, SearchConsoleRow, ShortLink
from stammtisch.networks.models import Channel

MAX_PAGE = 2000
SOCIAL_MEDIUM = "social"
# Clicks and conversions from social short links: made for a channel's post (the click and the
# conversion carry its channel), or tagged utm_medium=social by hand.
SOCIAL = Q(channel__isnull=False) | Q(link__utm_medium__iexact=SOCIAL_MEDIUM)

Grain = SearchConsoleRow.Grain
TOTAL_ORDER = (Grain.SITE, Grain.PAGE, Grain.PAGE_QUERY, Grain.QUERY)  # a day's total for the site
PAGE_ORDER = (Grain.PAGE, Grain.PAGE_QUERY)  # a page's figures
QUERY_ORDER = (Grain.QUERY, Grain.PAGE_QUERY)  # a query's figures


def page_key(url: str) -> str:
    """The page an address names: host (lower case, without "www." and a default port) and
    decoded path without a trailing slash; no scheme, query or fragment. "" for anything that is
    not an http(s) address with a host."""
    try:
        parts = urlsplit((url or "").strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return ""
    host = host.lower().removeprefix("www.")
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    path = unquote(parts.path).rstrip("/") or "/"
    return f"{host}{path}"[:MAX_PAGE]


def page_url(key: str) -> str:
    """An address to open a page by its key (https is assumed)."""
    return f"https://{key}" if key else ""


@dataclass
class SearchFigures:
    """Search Console figures added up; the position is averaged weighted by impressions."""

    clicks: int = 0
    impressions: int = 0
    position_weight: float = 0.0  # the sum of position times impressions (rows with a position)
    position_impressions: int = 0  # the sum of impressions of those rows

    def add(self, other: SearchFigures) -> None:
        self.clicks += other.clicks
        self.impressions += other.impressions
        self.position_weight += other.position_weight
        self.position_impressions += other.position_impressions

    @property
    def ctr(self) -> float | None:
        return 100.0 * self.clicks / self.impressions if self.impressions else None

    @property
    def position(self) -> float | None:
        return self.position_weight / self.position_impressions if self.position_impressions else None


def _rows(
    workspace: Workspace, first: dt.date, last: dt.date, *, period: bool, grains: Iterable[str]
) -> QuerySet[SearchConsoleRow]:
    rows = SearchConsoleRow.objects.filter(workspace=workspace, grain__in=list(grains))
    if period:
        return rows.filter(first_day=first, last_day=last)
    return rows.filter(first_day__gte=first, first_day__lte=last, last_day=F("first_day"))


def _best(
    rows: QuerySet[SearchConsoleRow], group: tuple[str, ...], order: tuple[str, ...]
) -> dict[tuple[dt.date, tuple[Any, ...]], SearchFigures]:
    """Per day and group (page, query, ...), the figures of the first grain of `order` present."""
    sums = rows.values("first_day", "grain", *group).annotate(
        n_clicks=Sum("clicks"),
        n_impressions=Sum("impressions"),
        weight=Sum(F("position") * F("impressions"), output_field=FloatField()),
        weighed=Sum("impressions", filter=Q(position__isnull=False)),
    )
    chosen: dict[tuple[dt.date, tuple[Any, ...]], tuple[int, SearchFigures]] = {}
    for row in sums:
        key = (row["first_day"], tuple(row[name] for name in group))
        rank = order.index(row["grain"])
        if key in chosen and chosen[key][0] <= rank:
            continue
        chosen[key] = (
            rank,
            SearchFigures(
                clicks=int(row["n_clicks"] or 0),
                impressions=int(row["n_impressions"] or 0),
                position_weight=float(row["weight"] or 0.0),
                position_impressions=int(row["weighed"] or 0),
            ),
        )
    return {key: figures for key, (_rank, figures) in chosen.items()}


def search_totals(workspace: Workspace, first: dt.date, last: dt.date) -> dict[dt.date, SearchFigures]:
    """The site's search figures of each day in [first, last] that has daily rows (no entry for
    a day without any: that is "no data", not 0)."""
    rows = _rows(workspace, first, last, period=False, grains=TOTAL_ORDER)
    return {day: figures for (day, _group), figures in _best(rows, (), TOTAL_ORDER).items()}


def period_total(workspace: Workspace, first: dt.date, last: dt.date) -> SearchFigures | None:
    """The site's search figures of an imported period (a file without dates), or None."""
    rows = _rows(workspace, first, last, period=True, grains=TOTAL_ORDER)
    best = _best(rows, (), TOTAL_ORDER)
    return next(iter(best.values()), None)


def search_by_page(workspace: Workspace, first: dt.date, last: dt.date, *, period: bool) -> dict[str, SearchFigures]:
    rows = _rows(workspace, first, last, period=period, grains=PAGE_ORDER)
    pages: dict[str, SearchFigures] = defaultdict(SearchFigures)
    for (_day, (page,)), figures in _best(rows, ("page",), PAGE_ORDER).items():
        pages[page].add(figures)
    return dict(pages)


def search_of_page_by_day(
    workspace: Workspace, page: str, first: dt.date, last: dt.date, *, period: bool
) -> dict[dt.date, SearchFigures]:
    rows = _rows(workspace, first, last, period=period, grains=PAGE_ORDER).filter(page=page)
    return {day: figures for (day, _group), figures in _best(rows, ("page",), PAGE_ORDER).items()}


def search_by_query(
    workspace: Workspace, first: dt.date, last: dt.date, *, period: bool, page: str | None = None, limit: int = 50
) -> list[tuple[str, SearchFigures]]:
    """The queries with the most clicks (then impressions): of one page, or of the whole site."""
    if page is not None:
        order: tuple[str, ...] = (Grain.PAGE_QUERY,)
        rows = _rows(workspace, first, last, period=period, grains=order).filter(page=page)
    else:
        order = QUERY_ORDER
        rows = _rows(workspace, first, last, period=period, grains=order)
    queries: dict[str, SearchFigures] = defaultdict(SearchFigures)
    for (_day, (query,)), figures in _best(rows, ("query",), order).items():
        queries[query].add(figures)
    ranked = sorted(queries.items(), key=lambda item: (-item[1].clicks, -item[1].impressions, item[0]))
    return ranked[:limit]


def imported_periods(workspace: Workspace) -> list[dict[str, Any]]:
    """Periods imported from files without dates (longer than a day), newest first."""
    return list(
        SearchConsoleRow.objects.filter(workspace=workspace, last_day__gt=F("first_day"))
        .values("first_day", "last_day")
        .annotate(rows=Count("id"), clicks=Sum("clicks"))
        .order_by("-last_day", "-first_day")
    )


def daily_coverage(workspace: Workspace, first: dt.date, last: dt.date) -> int:
    """How many days of [first, last] have daily Search Console figures."""
    return _rows(workspace, first, last, period=False, grains=TOTAL_ORDER).values("first_day").distinct().count()


# --- Social visits per page ----------------------------------------------------------------------


@dataclass
class Social:
    clicks: int = 0
    visits: int = 0


@dataclass
class Source:
    """Where social visits came from: a channel, or the utm_source of a link made by hand."""

    key: str
    label: str
    network: str


@dataclass
class SocialFigures:
    """Social clicks and visits, per (day, page, source key)."""

    cells: dict[tuple[dt.date, str, str], Social] = field(default_factory=lambda: defaultdict(Social))
    sources: dict[str, Source] = field(default_factory=dict)

    def by_page(self) -> dict[str, Social]:
        pages: dict[str, Social] = defaultdict(Social)
        for (_day, page, _source), figures in self.cells.items():
            pages[page].clicks += figures.clicks
            pages[page].visits += figures.visits
        return dict(pages)


def _bounds(workspace: Workspace, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = workspace.tz
    return (
        dt.datetime.combine(first, dt.time(), tzinfo=tz),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz),
    )


def social_figures(workspace: Workspace, first: dt.date, last: dt.date, page: str | None = None) -> SocialFigures:
    """Social clicks and visits of the local days [first, last] per day, page and source; only
    of `page` when given. Two aggregate queries, and one for the targets of the links involved."""
    start, end = _bounds(workspace, first, last)
    day = TruncDate("occurred_at", tzinfo=workspace.tz)
    clicks = (
        Click.objects.filter(workspace=workspace, is_bot=False, occurred_at__gte=start, occurred_at__lt=end)
        .filter(SOCIAL)
        .annotate(day=day)
        .values("day", "link_id", "channel_id")
        .annotate(n=Count("id"))
    )
    visits = (
        Conversion.objects.filter(
            workspace=workspace, kind=Conversion.Kind.VISIT, occurred_at__gte=start, occurred_at__lt=end
        )
        .filter(SOCIAL)
        .annotate(day=day)
        .values("day", "page", "link_id", "channel_id")
        .annotate(n=Count("id"))
    )
    click_rows, visit_rows = list(clicks), list(visits)
    link_ids = {row["link_id"] for row in click_rows + visit_rows if row["link_id"]}
    links = {
        pk: (page_key(target), utm_source.strip().lower())
        for pk, target, utm_source in ShortLink.objects.filter(workspace=workspace, pk__in=link_ids).values_list(
            "pk", "target", "utm_source"
        )
    }
    result = SocialFigures()

    def source_of(row: dict[str, Any]) -> str:
        if row["channel_id"]:
            return f"c{row['channel_id']}"
        utm_source = links.get(row["link_id"], ("", ""))[1]
        return f"u{utm_source}" if utm_source else "-"

    for row in click_rows:
        target = links.get(row["link_id"], ("", ""))[0]
        if page is None or target == page:
            result.cells[row["day"], target, source_of(row)].clicks += row["n"]
    for row in visit_rows:
        landing = row["page"] or links.get(row["link_id"], ("", ""))[0]
        if page is None or landing == page:
            result.cells[row["day"], landing, source_of(row)].visits += row["n"]
    result.sources = _sources(workspace, {source for _day, _page, source in result.cells})
    return result


def _sources(workspace: Workspace, keys: set[str]) -> dict[str, Source]:
    channel_ids = [int(key[1:]) for key in keys if key.startswith("c")]
    channels = {channel.pk: channel for channel in Channel.objects.filter(workspace=workspace, pk__in=channel_ids)}
    sources: dict[str, Source] = {}
    for key in keys:
        if key.startswith("c"):
            channel = channels.get(int(key[1:]))
            if channel is not None:
                sources[key] = Source(key, channel.display_name, channel.get_network_display())
                continue
        sources[key] = Source(key, key[1:] if key.startswith("u") else "", "")
    return sources
