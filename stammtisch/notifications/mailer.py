"""Notification e-mails, sent by `stammtisch worker` (never in the publisher's path).

Due mails are rows: a notification whose `email_due_at` has come. A worker claims a batch with a
lease (PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`; SQLite: a conditional UPDATE), commits,
then sends mail by mail and marks each one sent right after it went out, guarded by the lease.
A worker that dies between sending and marking leaves one row whose lease expires: that one mail
is sent again by the next worker. Nothing else is ever sent twice ("exactly once-ish").

Mails "at once" go out `EMAIL_DELAY` after the first event (the count so far included); mails
"in the daily summary" are due at DIGEST_HOUR:00 in the workspace's time zone and go out as one
mail per recipient and workspace. At sending time the recipient's current choice wins: a kind
switched off is not sent, one moved to the summary (or back) is re-planned, and notifications
already read in the app are left out.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from stammtisch.accounts.models import Profile
from stammtisch.core.actions import member_name
from stammtisch.core.models import Membership, Workspace
from stammtisch.notifications.kinds import EmailMode, get_kind
from stammtisch.notifications.models import Notification, NotificationPreference
from stammtisch.notifications.notify import effective, email_due

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)
BATCH_SIZE = 50
MAX_BATCHES = 20
TIME_BUDGET = 10.0  # seconds of sending per run of the worker's job
MAX_ATTEMPTS = 5  # tries per mail when the mail server refuses or is down
RETRY_BASE = dt.timedelta(minutes=2)  # 2, 4, 8, 16 minutes between tries
RETENTION = dt.timedelta(days=180)  # notifications older than this are deleted
UNSUBSCRIBE_SALT = "stammtisch.notifications.unsubscribe"
ALL_KINDS = "*"


# --- claiming -----------------------------------------------------------------------------------


def _claimable(now: dt.datetime, wall: dt.datetime) -> Q:
    return Q(email_due_at__lte=now) & (Q(email_lease_until__isnull=True) | Q(email_lease_until__lt=wall))


@dataclass(frozen=True)
class Claimed:
    ids: list[int]
    lease_until: dt.datetime


def claim(worker: str, *, now: dt.datetime | None = None, limit: int = BATCH_SIZE) -> Claimed:
    """Lease up to `limit` due notifications, plus the rest of each daily summary among them
    (a summary is one mail: its rows are claimed together)."""
    now = now or timezone.now()
    wall = timezone.now()
    lease_until = wall + LEASE
    due = _claimable(now, wall)
    lease = {"email_lease_owner": worker, "email_lease_until": lease_until}
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        rows = Notification.objects.filter(due)
        if skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        picked = list(
            rows.order_by("email_due_at", "id").values_list("id", "recipient_id", "workspace_id", "email")[:limit]
        )
        ids = [pk for pk, _r, _w, _e in picked]
        summaries = {(r, w) for _pk, r, w, email in picked if email == EmailMode.DIGEST}
        if summaries:
            same = Q()
            for recipient_id, workspace_id in summaries:
                same |= Q(recipient_id=recipient_id, workspace_id=workspace_id)
            rest = Notification.objects.filter(due, same, email=EmailMode.DIGEST).exclude(pk__in=ids)
            if skip_locked:
                rest = rest.select_for_update(skip_locked=True)
            ids += list(rest.values_list("id", flat=True))
        if not ids:
            return Claimed([], lease_until)
        if skip_locked:
            Notification.objects.filter(pk__in=ids).update(**lease)
            return Claimed(ids, lease_until)
        # SQLite: a conditional UPDATE; only the rows still claimable are ours.
        Notification.objects.filter(due, pk__in=ids).update(**lease)
        mine = Notification.objects.filter(pk__in=ids, email_lease_owner=worker, email_lease_until=lease_until)
        return Claimed(list(mine.values_list("id", flat=True)), lease_until)


def release(worker: str, ids: list[int]) -> None:
    """Give rows back unsent (the worker stops, or its lease runs short)."""
    Notification.objects.filter(pk__in=ids, email_lease_owner=worker).update(
        email_lease_owner="", email_lease_until=None
    )


def _finish(worker: str, ids: list[int], *, sent_at: dt.datetime | None) -> int:
    """Nothing more to send for these rows (sent, or skipped when `sent_at` is None)."""
    return Notification.objects.filter(pk__in=ids, email_lease_owner=worker).update(
        email_due_at=None, email_lease_owner="", email_lease_until=None, emailed_at=sent_at
    )


def _retry(worker: str, rows: list[Notification], now: dt.datetime) -> None:
    for row in rows:
        attempts = row.email_attempts + 1
        due = now + RETRY_BASE * (2 ** (attempts - 1)) if attempts < MAX_ATTEMPTS else None
        if due is None:
            log.error("notification %s: gave up e-mailing after %d attempts", row.pk, attempts)
        Notification.objects.filter(pk=row.pk, email_lease_owner=worker).update(
            email_attempts=attempts, email_due_at=due, email_lease_owner="", email_lease_until=None
        )


def _replan(worker: str, row: Notification, mode: str, now: dt.datetime) -> None:
    """The recipient changed between "at once" and "daily summary" since the row was made."""
    Notification.objects.filter(pk=row.pk, email_lease_owner=worker).update(
        email=mode, email_due_at=email_due(mode, row.workspace, now), email_lease_owner="", email_lease_until=None
    )


# --- sending ------------------------------------------------------------------------------------


def send_due(
    worker: str,
    *,
    now: dt.datetime | None = None,
    limit: int = BATCH_SIZE,
    should_stop: Callable[[], bool] = lambda: False,
    budget: float = TIME_BUDGET,
) -> int:
    """Claim and send due mails until none is left, MAX_BATCHES were claimed or `budget` seconds
    have passed (the worker publishes between runs: a slow mail server must not hold up
    publishing). What is left is released and sent in the next run. Returns the mails sent."""
    deadline = time.monotonic() + budget

    def stop() -> bool:
        return should_stop() or time.monotonic() > deadline

    sent = 0
    for _batch in range(MAX_BATCHES):
        claimed = claim(worker, now=now, limit=limit)
        if not claimed.ids:
            break
        sent += _send_batch(worker, claimed, now or timezone.now(), stop)
        if len(claimed.ids) < limit or stop():
            break
    return sent


def _send_batch(worker: str, claimed: Claimed, now: dt.datetime, should_stop: Callable[[], bool]) -> int:
    rows = list(
        Notification.objects.filter(pk__in=claimed.ids, email_lease_owner=worker)
        .select_related("recipient", "workspace")
        .order_by("email_due_at", "id")
    )
    user_ids = {row.recipient_id for row in rows}
    workspace_ids = {row.workspace_id for row in rows}
    members = set(
        Membership.objects.filter(user_id__in=user_ids, workspace_id__in=workspace_ids).values_list(
            "user_id", "workspace_id"
        )
    )
    preferences = {
        (p.user_id, p.workspace_id, p.kind): p
        for p in NotificationPreference.objects.filter(user_id__in=user_ids, workspace_id__in=workspace_ids)
    }
    languages = dict(
        Profile.objects.filter(user_id__in=user_ids).exclude(language="").values_list("user_id", "language")
    )

    units: list[list[Notification]] = []
    summaries: dict[tuple[int, int], list[Notification]] = {}
    skipped: list[int] = []
    for row in rows:
        spec = get_kind(row.kind)
        user = row.recipient
        if spec is None or not user.is_active or not user.email or (user.pk, row.workspace_id) not in members:
            skipped.append(row.pk)
            continue
        _in_app, mode = effective(spec, preferences.get((user.pk, row.workspace_id, row.kind)))
        if mode == EmailMode.OFF or (row.in_app and row.read_at is not None):
            skipped.append(row.pk)  # switched off meanwhile, or already read in the app
        elif mode != row.email:
            _replan(worker, row, mode, now)
        elif mode == EmailMode.DIGEST:
            summaries.setdefault((user.pk, row.workspace_id), []).append(row)
        else:
            units.append([row])
    _finish(worker, skipped, sent_at=None)
    units += list(summaries.values())

    sent = 0
    for index, unit in enumerate(units):
        if should_stop() or timezone.now() > claimed.lease_until - LEASE / 2:
            release(worker, [row.pk for rest in units[index:] for row in rest])
            break
        first = unit[0]
        language = languages.get(first.recipient_id) or first.workspace.language
        try:
            message = build_message(unit, language=language, digest=first.email == EmailMode.DIGEST)
            message.send()
        except Exception:
            log.exception("could not e-mail notification(s) %s", [row.pk for row in unit])
            _retry(worker, unit, now)
            continue
        if _finish(worker, [row.pk for row in unit], sent_at=timezone.now()) < len(unit):
            log.warning("notification e-mail sent after its lease was lost; it may be sent again")
        sent += 1
    return sent


def unsubscribe_token(user_id: int, workspace_id: int, kind: str) -> str:
    return signing.dumps({"u": user_id, "w": workspace_id, "k": kind}, salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> tuple[int, int, str] | None:
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict):
        return None
    user_id, workspace_id, kind = value.get("u"), value.get("w"), value.get("k")
    if not isinstance(user_id, int) or not isinstance(workspace_id, int) or not isinstance(kind, str):
        return None
    return user_id, workspace_id, kind


def build_message(rows: list[Notification], *, language: str, digest: bool) -> EmailMultiAlternatives:
    """One mail (plain text and HTML) for one notification, or a daily summary of several, in
    `language` and with times in the workspace's zone."""
    first = rows[0]
    user: Any = first.recipient
    workspace: Workspace = first.workspace
    kind = ALL_KINDS if digest else first.kind
    unsubscribe_url = settings.BASE_URL + reverse(
        "notifications:unsubscribe", kwargs={"token": unsubscribe_token(user.pk, workspace.pk, kind)}
    )
    with translation.override(language), timezone.override(workspace.tz):
        items = [
            {
                "title": row.title,
                "body": row.body,
                "url": settings.BASE_URL + row.link if row.link else "",
                "when": row.updated_at,
                "count": row.count,
            }
            for row in rows
        ]
        if digest:
            subject = ngettext(
                "Your daily summary: %(count)s notification",
                "Your daily summary: %(count)s notifications",
                len(items),
            ) % {"count": len(items)}
        else:
            subject = first.title
        context = {
            "name": member_name(user),
            "workspace": workspace,
            "items": items,
            "digest": digest,
            "kind_label": "" if digest else str(getattr(get_kind(first.kind), "label", "")),
            "preferences_url": settings.BASE_URL + reverse("notifications:preferences") + f"#w-{workspace.slug}",
            "list_url": settings.BASE_URL + reverse("notifications:list") + f"?workspace={workspace.slug}",
            "unsubscribe_url": unsubscribe_url,
        }
        text = render_to_string("notifications/email/notification.txt", context)
        html = render_to_string("notifications/email/notification.html", context)
        subject = f"[{workspace.name}] {subject}"
        message = EmailMultiAlternatives(
            subject=" ".join(subject.split())[:200],
            body=text,
            to=[user.email],
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Auto-Submitted": "auto-generated",
            },
        )
        message.attach_alternative(html, "text/html")
    return message


def prune(now: dt.datetime) -> int:
    """Delete notifications whose latest event is older than RETENTION (a periodic job)."""
    deleted, _by_model = Notification.objects.filter(updated_at__lt=now - RETENTION, email_due_at__isnull=True).delete()
    return deleted
