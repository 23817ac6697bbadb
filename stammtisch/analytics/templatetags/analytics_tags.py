"""Template helpers of the analytics app: `{% load analytics_tags %}`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from stammtisch.analytics.actions import takes_manual_figures
from stammtisch.analytics.forms import FIGURE_LABELS
from stammtisch.analytics.models import PostMetricSnapshot
from stammtisch.analytics.tables import DATE, INT, NUMBER, Column, Link, NotEnough, Table
from stammtisch.publishing.models import Delivery

register = template.Library()

SHOWN = ("likes", "comments", "shares", "clicks", "impressions")


@register.inclusion_tag("analytics/_delivery_metrics.html", takes_context=True)
def delivery_metrics(context: template.Context, delivery: Delivery) -> dict[str, Any]:
    """The latest figures of a delivery on the post page, with "as of" (in the workspace's zone,
    which the page is rendered in); for a network without an API, where to enter them."""
    published = delivery.state == Delivery.State.PUBLISHED
    snapshot = None
    if published:
        snapshot = (
            PostMetricSnapshot.objects.filter(workspace_id=delivery.channel.workspace_id, delivery=delivery)
            .order_by("-observed_at", "-pk")
            .first()
        )
    items = []
    if snapshot is not None:
        items = [
            (FIGURE_LABELS[name], getattr(snapshot, name)) for name in SHOWN if getattr(snapshot, name) is not None
        ]
    return {
        "delivery": delivery,
        "snapshot": snapshot,
        "items": items,
        "manual": published and takes_manual_figures(delivery),
        "can_edit": context.get("can_edit", False),
        "current_workspace": context.get("current_workspace"),
    }


@register.simple_tag
def table_rows(table: Table) -> SafeString:
    """The body rows of a dashboard table, the first cell of each as its row header: rendered in
    one call (a table of a two-year range has hundreds of cells)."""

    def row(pairs: list[tuple[Any, Column]]) -> SafeString:
        cells = (
            (
                format_html('<th scope="row">{}</th>', cell(value, column))
                if n == 0
                else format_html("<td>{}</td>", cell(value, column)),
            )
            for n, (value, column) in enumerate(pairs)
        )
        return format_html("<tr>{}</tr>", format_html_join("", "{}", cells))

    return format_html_join("\n", "{}", ((row(pairs),) for pairs in table.cells()))


@register.simple_tag
def table_cell(value: Any, column: Column) -> SafeString:
    return cell(value, column)


def cell(value: Any, column: Column) -> SafeString:
    """One cell of a dashboard table (analytics/tables.py), formatted for the active language."""
    if isinstance(value, Link):
        return format_html('<a href="{}">{}</a>', value.url, value.text)
    if isinstance(value, NotEnough):
        return format_html(
            '<span class="muted">{}</span>',
            _("not enough data (%(sample)s of at least %(minimum)s)")
            % {"sample": value.sample, "minimum": value.minimum},
        )
    if value is None:
        return format_html('<span class="muted">{}</span>', "\u2013")  # an en dash: no figure
    if isinstance(value, float) and column.kind in (NUMBER, INT):
        digits = column.digits if column.kind == NUMBER else 0
        return format_html("{}", formats.number_format(value, digits, use_l10n=True, force_grouping=True))
    if isinstance(value, int) and not isinstance(value, bool):
        return format_html("{}", formats.number_format(value, 0, use_l10n=True, force_grouping=True))
    if isinstance(value, dt.datetime):
        return format_html("{}", formats.date_format(value, "SHORT_DATETIME_FORMAT"))
    if isinstance(value, dt.date) or column.kind == DATE:
        return format_html("{}", formats.date_format(value, "SHORT_DATE_FORMAT"))
    return format_html("{}", value)


@register.simple_tag(takes_context=True)
def export_url(context: template.Context, table_name: str, fmt: str) -> str:
    """The page's own address with its filters and `export=<table>&format=<fmt>`: the same
    figures as a file (analytics/tables.py `export_response`)."""
    request = context["request"]
    query = request.GET.copy()
    query["export"] = table_name
    query["format"] = fmt
    return f"{request.path}?{query.urlencode()}"
