"""Live updates of the open inbox list (docs/inbox.md "Live updates").

The list (newest first) carries a small poller (`_live.html`) that htmx asks every 10 seconds for
the conversations with a message newer than the newest row shown (`since`), with the list's
filters. The answer is the poller again (with the new `since`) and, when there is something new,
those rows, inserted at the top of the list out of band; `static/inbox/live.js` removes the older
copy of a conversation that moved up. Nothing else on the page is reloaded, so a reply being
typed beside the list is not disturbed.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from stammtisch.core.access import workspace_view
from stammtisch.core.roles import Perm
from stammtisch.inbox import views
from stammtisch.networks.models import Channel

LIVE_ROWS = 50  # at most this many new rows per poll; more than that and the count says so


def _since(request: HttpRequest) -> dt.datetime:
    value = parse_datetime(request.GET.get("since", "") or "")
    if value is None:
        return timezone.now()
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)


@require_GET
@workspace_view(Perm.VIEW)
def live(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    channels = list(Channel.objects.filter(workspace=workspace).order_by("display_name", "pk"))
    form = views.filter_form(request, channels, views._members(workspace))
    since = _since(request)
    newer = views._filtered(request, form).filter(last_message_at__gt=since)
    rows = list(newer.select_related("channel", "assignee").order_by("-last_message_at", "-pk")[:LIVE_ROWS])
    filters = {name: request.GET[name] for name in views.FILTER_NAMES if request.GET.get(name) and name != "since"}
    newest = rows[0].last_message_at if rows else since
    context = {
        "workspace": workspace,
        "rows": rows,
        "new_count": newer.count() if len(rows) == LIVE_ROWS else len(rows),
        "since": newest,
        "filters": urlencode(filters),
        "query": urlencode(filters),
        "now": timezone.now(),
        "can_edit": request.membership.can(Perm.EDIT),  # type: ignore[attr-defined]
    }
    return render(request, "inbox/_live.html", context)
