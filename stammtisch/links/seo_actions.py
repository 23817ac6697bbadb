"""Writes of the SEO signals (docs/links.md "SEO signals"): importing a Search Console CSV file
all or nothing, and deleting imported figures. Both are audited and recompute the daily SEO
rollups of the days they change (goals read those)."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from stammtisch.analytics import rollups
from stammtisch.core.actions import AUDIT_ACTIONS, ActionError, Actor, audit, require_perm
from stammtisch.core.csvimport import lock_for_import, problems_message
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.links import seo_import
from stammtisch.links.models import SearchConsoleRow

AUDIT_ACTIONS.update(
    {
        "seo.import_csv": gettext_lazy("Search Console figures imported"),
        "seo.delete": gettext_lazy("Search Console figures deleted"),
    }
)
BATCH = 1000


def _refresh_rollups(workspace: Workspace, first: dt.date, last: dt.date) -> None:
    """Recompute the SEO rollups of the local days [first, last] at once: imports may change
    days long past, which the worker's regular refresh does not look at again."""
    groups = [group for group in rollups.GROUPS if group.name == "seo"]
    rollups.refresh(workspace, first, last, groups)


@transaction.atomic
def do_import_search_console(
    actor: Actor,
    workspace: Workspace,
    data: bytes,
    *,
    period: tuple[dt.date, dt.date] | None = None,
    filename: str = "",
    token: str = "",
    now: dt.datetime | None = None,
) -> int:
    """Import every row of a Search Console file, all or nothing, in one transaction; the file
    is checked again first. A row replaces the stored figures of the same period, grain, page and
    query (importing a file twice gives the same figures). `token` is the preview's: a second
    click on "Import" does not import twice. Returns how many rows the file had."""
    require_perm(actor, workspace, Perm.EDIT)
    now = now or timezone.now()
    today = timezone.localtime(now, workspace.tz).date()
    if period is not None:
        period = seo_import.check_period(*period, today)
    lock_for_import(workspace, "seo.import_csv", token)
    preview = seo_import.read_search_console_csv(workspace, data, period=period, now=now)
    if not preview.ok:
        raise ActionError(problems_message(preview.problems) if preview.problems else _("The file has no figures."))
    records = preview.records()
    SearchConsoleRow.objects.bulk_create(
        [
            SearchConsoleRow(
                workspace=workspace,
                first_day=record.first_day,
                last_day=record.last_day,
                grain=preview.grain,
                page=record.page,
                query=record.query,
                digest=seo_import.digest(record.page, record.query),
                clicks=record.clicks,
                impressions=record.impressions,
                position=record.position,
                imported_at=now,
            )
            for record in records.values()
        ],
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["workspace", "first_day", "last_day", "grain", "digest"],
        update_fields=["page", "query", "clicks", "impressions", "position", "imported_at"],
    )
    days = preview.days
    assert days is not None  # preview.ok: at least one row, each with its day or period
    if days[0] == days[1] or preview.dated:
        _refresh_rollups(workspace, days[0], days[1])
    audit(
        actor,
        "seo.import_csv",
        workspace=workspace,
        summary=filename or _("CSV file"),
        data={
            "token": token,
            "filename": filename[:200],
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": len(preview.rows),
            "stored": len(records),
            "grain": preview.grain,
            "first_day": days[0].isoformat(),
            "last_day": days[1].isoformat(),
            "dated": preview.dated,
        },
    )
    return len(preview.rows)


@transaction.atomic
def do_delete_search_console(actor: Actor, workspace: Workspace, first: dt.date, last: dt.date) -> int:
    """Delete the workspace's imported Search Console figures whose day or period lies within
    [first, last] (to undo an import with a wrong period). Returns how many rows were deleted."""
    require_perm(actor, workspace, Perm.EDIT)
    if last < first:
        raise ActionError(_("The period must end on or after its first day."))
    deleted, _by_model = SearchConsoleRow.objects.filter(
        workspace=workspace, first_day__gte=first, last_day__lte=last
    ).delete()
    _refresh_rollups(workspace, first, last)
    audit(
        actor,
        "seo.delete",
        workspace=workspace,
        summary=f"{first.isoformat()} to {last.isoformat()}",
        data={"first_day": first.isoformat(), "last_day": last.isoformat(), "rows": deleted},
    )
    return deleted
