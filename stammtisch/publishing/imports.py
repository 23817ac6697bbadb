"""CSV bulk import (docs/import.md): a file of posts is read and checked row by row, shown as a
preview, and imported only when every row is fine, all rows in one transaction.

`read_csv` parses and checks a file without writing anything; `do_import_csv` checks it again
(time has passed since the preview, channels may have changed) and creates the posts through
`do_create_post`, all or nothing. Between the two steps the uploaded file waits in the media
storage under a random token in a folder of the workspace and the user who uploaded it
(`store_upload` / `load_upload`): the confirm step never trusts content sent back by the browser.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core import csvimport
from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.csvimport import (  # re-exported: audience/imports.py and tests use them from here
    DELIMITERS,
    PreviewChecks,
    Problem,
    content_rows,
    decode,
    discard_upload,
    load_upload,
    map_columns,
    problems_message,
    read_table,
    store_upload,
)
from stammtisch.core.csvimport import normalise as _normalise
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks import rules
from stammtisch.networks.models import Channel
from stammtisch.publishing import composer
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.forms import local_time_problem, local_to_utc
from stammtisch.publishing.models import Post, QueueSlot
from stammtisch.strategy.models import Goal

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000  # all rows in one transaction in one web request (docs/import.md: why not more)
MAX_TEXT = 63206
MAX_PILLAR = 60
EXCERPT = 90

# The columns Stammtisch reads, by the names a file may use for them (compared after
# `_normalise`: lower case, spaces and hyphens as underscores). German names welcome.
ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "beitrag", "inhalt", "post"),
    "date": ("date", "datum"),
    "time": ("time", "uhrzeit", "zeit"),
    "channels": ("channels", "channel", "kanäle", "kanaele", "kanal"),
    "link": ("link", "url"),
    "pillar": ("pillar", "content_pillar", "säule", "saeule", "themensäule", "themensaeule"),
    "purpose": ("purpose", "zweck"),
    "first_comment": ("first_comment", "erster_kommentar"),
    "goal": ("goal", "ziel"),
}
COLUMN_BY_NAME = {alias: column for column, names in ALIASES.items() for alias in names}
VARIANT_PREFIXES = ("text_",)  # text_x, text_instagram, "Text Instagram"

PURPOSES = {
    "": Post.Purpose.VALUE,
    "value": Post.Purpose.VALUE,
    "wert": Post.Purpose.VALUE,
    "mehrwert": Post.Purpose.VALUE,
    "promotion": Post.Purpose.PROMOTION,
    "werbung": Post.Purpose.PROMOTION,
}
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y")
TIME_FORMATS = ("%H:%M", "%H:%M:%S")
__all__ = ["DELIMITERS", "Problem", "decode", "discard_upload", "load_upload", "problems_message", "store_upload"]


@dataclass
class Row:
    number: int
    text: str = ""
    channels: list[Channel] = field(default_factory=list)
    variants: dict[int, str] = field(default_factory=dict)
    variant_columns: dict[int, str] = field(default_factory=dict)  # channel id -> the column's name
    local: dt.datetime | None = None  # the wall-clock time in the workspace's zone
    scheduled_at: dt.datetime | None = None  # UTC
    queued: bool = False
    link: str = ""
    pillar: str = ""
    purpose: str = Post.Purpose.VALUE
    first_comment: str = ""
    goal: Goal | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def excerpt(self) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"

    @property
    def channel_names(self) -> list[str]:
        return [channel.display_name for channel in self.channels]


@dataclass
class Preview(PreviewChecks):
    """A file read and checked. Nothing is stored; `ok` says whether it may be imported."""

    rows: list[Row]
    problems: list[Problem]  # every problem of the file and of every row, in file order
    encoding: str
    delimiter: str
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def scheduled(self) -> int:
        return sum(1 for row in self.rows if row.scheduled_at is not None)

    @property
    def queued(self) -> int:
        return sum(1 for row in self.rows if row.queued)

    @property
    def drafts(self) -> int:
        return len(self.rows) - self.scheduled - self.queued


# --- Reading the file ------------------------------------------------------------------------


def _column_for(name: str) -> str | None:
    """The field a header names: a column of ALIASES, `variant:<network>`, or None."""
    key = _normalise(name)
    if key in COLUMN_BY_NAME:
        return COLUMN_BY_NAME[key]
    for prefix in VARIANT_PREFIXES:
        if key.startswith(prefix) and key[len(prefix) :] in rules.RULES:
            return f"variant:{key[len(prefix) :]}"
    return None


def sniff_delimiter(text: str) -> str:
    """The delimiter whose split of the header row names the most known columns."""
    return csvimport.sniff_delimiter(text, lambda name: _column_for(name) is not None)


def _parse_date(value: str) -> dt.date | None:
    for format in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, format).date()
        except ValueError:
            continue
    return None


def _parse_time(value: str) -> dt.time | None:
    for format in TIME_FORMATS:
        try:
            return dt.datetime.strptime(value, format).time()
        except ValueError:
            continue
    return None


def _split_date_time(date_value: str, time_value: str) -> tuple[str, str]:
    """Some tools write date and time into one cell ("2026-05-04 09:30")."""
    if not time_value and " " in date_value.strip():
        day, _space, clock = date_value.strip().partition(" ")
        return day, clock.strip()
    return date_value, time_value


class ChannelIndex:
    """The workspace's channels by every name a file may use for them: the handle (with or
    without @), the display name, or `network:handle` when a handle exists on two networks."""

    def __init__(self, channels: Iterable[Channel]) -> None:
        self.by_name: dict[str, list[Channel]] = defaultdict(list)
        for channel in channels:
            names = {channel.handle.lower(), f"@{channel.handle.lower()}", channel.display_name.strip().lower()}
            for network in {channel.network, channel.stands_in_for}:
                if network:
                    names.add(f"{network}:{channel.handle.lower()}")
            for name in names:
                if name:
                    self.by_name[name].append(channel)

    def find(self, name: str) -> list[Channel]:
        return self.by_name.get(name.strip().lower(), [])


class GoalIndex:
    """The workspace's goals by name (ignoring case and surrounding spaces). A post can get a
    goal whose deadline has not passed, as in the composer."""

    def __init__(self, goals: Iterable[Goal], today: dt.date) -> None:
        self.active: dict[str, list[Goal]] = defaultdict(list)
        self.ended: dict[str, Goal] = {}
        for goal in goals:
            name = goal.name.strip().casefold()
            if goal.deadline >= today:
                self.active[name].append(goal)
            else:
                self.ended.setdefault(name, goal)

    def find(self, name: str) -> tuple[Goal | None, str]:
        """(the goal, "") or (None, why not)."""
        key = name.strip().casefold()
        found = self.active.get(key, [])
        if len(found) == 1:
            return found[0], ""
        if found:
            return None, _("%(count)d goals are called “%(name)s”; give them different names first.") % {
                "count": len(found),
                "name": name.strip(),
            }
        if key in self.ended:
            return None, _("The goal “%(name)s” ended on %(deadline)s; choose a goal that is still running.") % {
                "name": name.strip(),
                "deadline": self.ended[key].deadline.isoformat(),
            }
        known = sorted(
            {goal.name.strip() for goals in self.active.values() for goal in goals},
            key=lambda name: (name.casefold(), name),
        )
        if not known:
            return None, _("There is no goal “%(name)s”: this workspace has no running goals.") % {"name": name.strip()}
        return None, _("There is no goal “%(name)s” in this workspace. Running goals: %(known)s.") % {
            "name": name.strip(),
            "known": ", ".join(known[:10]),
        }


def _split_channels(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;,]", value) if part.strip()]


_url_validator = URLValidator(schemes=["http", "https"])


def _clean_link(value: str) -> str | None:
    """The link with https:// added when it has no scheme; None when it is no web address."""
    if not value:
        return ""
    if "://" not in value:
        value = f"https://{value}"
    if len(value) > 2000:
        return None
    try:
        _url_validator(value)
    except ValidationError:
        return None
    return value


def read_csv(workspace: Workspace, data: bytes, *, queue: bool = False, now: dt.datetime | None = None) -> Preview:
    """Parse and check a CSV file of posts for `workspace`. Writes nothing.

    A file that cannot be read at all (too large, not text, no header, no text column, too many
    rows) raises ActionError; everything else is listed in `Preview.problems`, every problem of
    every row. `queue`: rows without a date go into their channels' next free queue slots
    instead of becoming drafts."""
    now = now or timezone.now()
    table = read_table(data, max_bytes=MAX_BYTES, known=lambda name: _column_for(name) is not None)
    header, delimiter = table.header, table.delimiter
    columns = map_columns(header, _column_for)
    names, problems = columns.names, columns.problems
    if "text" not in names:
        raise ActionError(
            _(
                "The file has no “text” column (German: “Text”). The first row must name the columns; "
                "download the template to see how."
            )
        )
    rows_with_content = content_rows(table.body, MAX_ROWS)

    channels = list(Channel.objects.filter(workspace=workspace).order_by("pk"))
    index = ChannelIndex(channels)
    goals = GoalIndex(Goal.objects.filter(workspace=workspace), timezone.localtime(now, workspace.tz).date())
    with_slots = set(
        QueueSlot.objects.filter(channel__workspace=workspace).values_list("channel_id", flat=True).distinct()
    )
    rows = []
    for number, cells in rows_with_content:
        values = columns.values(cells)
        row = _read_row(workspace, number, values, names, index, with_slots, goals=goals, queue=queue, now=now)
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            row.problems.append(
                Problem(
                    number,
                    "",
                    _(
                        "This row has more cells than the header has columns. "
                        "Put texts with a “%(delimiter)s” in quotes."
                    )
                    % {"delimiter": delimiter},
                )
            )
        rows.append(row)
        problems.extend(row.problems)
    if not rows:
        problems.append(Problem(0, "", _("The file has a header but no posts.")))
    return Preview(
        rows=rows, problems=problems, encoding=table.encoding, delimiter=delimiter, ignored_columns=columns.ignored
    )


def _read_row(
    workspace: Workspace,
    number: int,
    values: dict[str, str],
    names: dict[str, str],
    index: ChannelIndex,
    with_slots: set[int],
    *,
    goals: GoalIndex,
    queue: bool,
    now: dt.datetime,
) -> Row:
    row = Row(number=number)

    def problem(column: str, message: str) -> None:
        row.problems.append(Problem(number, names.get(column, column), message))

    row.text = values.get("text", "").strip()
    if not row.text:
        problem("text", _("The text is missing."))
    elif len(row.text) > MAX_TEXT:
        problem("text", _("The text is longer than %(max)d characters.") % {"max": MAX_TEXT})

    for name in _split_channels(values.get("channels", "")):
        found = index.find(name)
        if not found:
            problem("channels", _("There is no channel “%(name)s” in this workspace.") % {"name": name})
        elif len(found) > 1:
            problem(
                "channels",
                _("“%(name)s” matches %(count)d channels; write one of: %(options)s.")
                % {
                    "name": name,
                    "count": len(found),
                    "options": ", ".join(f"{c.network}:{c.handle}" for c in found),
                },
            )
        elif found[0] not in row.channels:
            row.channels.append(found[0])

    for column, value in values.items():
        if column.startswith("variant:") and value.strip():
            network = column.split(":", 1)[1]
            targets = [c for c in row.channels if composer.rules_key_for(c) == network or c.network == network]
            if not targets:
                problem(
                    column,
                    _("This row has a text for %(network)s but none of its channels is on %(network)s.")
                    % {"network": rules.label_for(network)},
                )
            for channel in targets:
                row.variants[channel.pk] = value.strip()
                row.variant_columns[channel.pk] = names.get(column, column)

    date_value, time_value = _split_date_time(values.get("date", "").strip(), values.get("time", "").strip())
    day = _parse_date(date_value) if date_value else None
    clock = _parse_time(time_value) if time_value else None
    if date_value and day is None:
        problem("date", _("“%(value)s” is not a date: write 2026-05-04 or 04.05.2026.") % {"value": date_value})
    if time_value and clock is None:
        problem("time", _("“%(value)s” is not a time: write 09:30.") % {"value": time_value})
    if day is not None and not time_value:
        problem("time", _("The time is missing (a row with a date needs a time, such as 09:30)."))
    if clock is not None and not date_value:
        problem("date", _("The date is missing (a row with a time needs a date)."))
    if day is not None and clock is not None:
        row.local = dt.datetime.combine(day, clock)
        try:
            at = local_to_utc(row.local, workspace.tz).astimezone(dt.UTC)
        except ValueError as exc:
            problem("time", local_time_problem(exc, workspace.time_zone))
        else:
            if at <= now:
                problem("date", _("This time has passed. Choose a later time."))
            row.scheduled_at = at
        if not row.channels and not values.get("channels", "").strip():
            problem("channels", _("A row with a date needs at least one channel."))
    elif queue and not date_value and not time_value:
        row.queued = True
        if not row.channels and not values.get("channels", "").strip():
            problem("channels", _("A row for the queue needs at least one channel."))
        for channel in row.channels:
            if channel.pk not in with_slots:
                problem(
                    "channels",
                    _("%(channel)s has no queue times yet; add them in the queue settings or give a date.")
                    % {"channel": channel.display_name},
                )

    link = _clean_link(values.get("link", "").strip())
    if link is None:
        problem("link", _("“%(value)s” is not a web address.") % {"value": values.get("link", "").strip()[:200]})
    else:
        row.link = link
    row.pillar = values.get("pillar", "").strip()
    if len(row.pillar) > MAX_PILLAR:
        problem("pillar", _("A content pillar has at most %(max)d characters.") % {"max": MAX_PILLAR})
    purpose = _normalise(values.get("purpose", ""))
    if purpose in PURPOSES:
        row.purpose = PURPOSES[purpose]
    else:
        problem(
            "purpose",
            _("“%(value)s” is no purpose: write value or promotion (German: Wert or Werbung).")
            % {"value": values.get("purpose", "").strip()},
        )
    row.first_comment = values.get("first_comment", "").strip()
    if values.get("goal", "").strip():
        row.goal, why_not = goals.find(values["goal"])
        if row.goal is None:
            problem("goal", why_not)

    if row.text and row.channels:
        for check in composer.failing(
            composer.check_channels(row.channels, row.text, row.variants, first_comment=row.first_comment)
        ):
            column = row.variant_columns.get(check.channel.pk, "text") if check.is_variant else "text"
            problem(column, composer.problem_summary(check))
    return row


# --- The import ------------------------------------------------------------------------------


@transaction.atomic
def do_import_csv(
    actor: Actor,
    workspace: Workspace,
    data: bytes,
    *,
    filename: str = "",
    queue: bool = False,
    token: str = "",
    now: dt.datetime | None = None,
) -> list[Post]:
    """Import every row of the file as a post, all or nothing, in one transaction.

    The file is checked again first; if any row has a problem now (a time has passed meanwhile,
    a channel was removed), nothing is written and ActionError says so. `token` is the
    preview's: an import that already went through under it is refused, so a second click on
    "Import" does not import twice (imports of a workspace run one at a time, under a lock on
    its row)."""
    require_perm(actor, workspace, Perm.EDIT)
    csvimport.lock_for_import(workspace, "post.import_csv", token)
    now = now or timezone.now()
    preview = read_csv(workspace, data, queue=queue, now=now)
    if not preview.ok:
        raise ActionError(problems_message(preview.problems) if preview.problems else _("The file has no posts."))
    posts = []
    for row in preview.rows:
        post = do_create_post(
            actor,
            workspace,
            text=row.text,
            channels=row.channels,
            scheduled_at=row.scheduled_at,
            link=row.link,
            pillar=row.pillar,
            purpose=row.purpose,
            variants=row.variants,
            first_comment=row.first_comment,
            source=Post.Source.CSV,
            goal=row.goal,
        )
        if row.queued:
            from stammtisch.publishing.queue import do_add_to_queue  # written alongside; imported when used

            do_add_to_queue(actor, post, now=now)
        posts.append(post)
    audit(
        actor,
        "post.import_csv",
        workspace=workspace,
        summary=filename or _("CSV file"),
        data={
            "token": token,
            "filename": filename[:200],
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": len(posts),
            "scheduled": preview.scheduled,
            "queued": preview.queued,
            "drafts": preview.drafts,
            "first_post": posts[0].pk if posts else None,
            "last_post": posts[-1].pk if posts else None,
        },
    )
    return posts


# --- The template ----------------------------------------------------------------------------


def template_csv(workspace: Workspace, language: str, *, today: dt.date | None = None) -> bytes:
    """A file to start from, with two example rows for the workspace's own channels: English
    (commas, ISO dates) or German (semicolons, German headers and dates, with a BOM for Excel)."""
    today = today or timezone.localdate(timezone=workspace.tz)
    channels = list(Channel.objects.filter(workspace=workspace).order_by("pk")[:2])
    handles = [channel.handle for channel in channels] or ["your-handle"]
    on_x = any(composer.rules_key_for(channel) == "x" for channel in channels)
    day = today + dt.timedelta(days=7)
    # A running goal of the workspace, if any, so the example shows the column filled in.
    goal = Goal.objects.filter(workspace=workspace, deadline__gte=day).order_by("deadline", "pk").first()
    goal_name = goal.name if goal is not None else ""
    out = io.StringIO()
    if language == "de":
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(
            ["Text", "Datum", "Uhrzeit", "Kanäle", "Link", "Säule", "Zweck", "Erster Kommentar", "Text X", "Ziel"]
        )
        writer.writerow(
            [
                "Frische Brezeln ab 7 Uhr, bis gleich! #stuttgart",
                day.strftime("%d.%m.%Y"),
                "09:00",
                ", ".join(handles),
                "https://example.org/brezeln",
                "Angebote",
                "Werbung",
                "",
                "Frische Brezeln ab 7 Uhr! #stuttgart" if on_x else "",
                goal_name,
            ]
        )
        writer.writerow(
            ["Ein Entwurf ohne Datum: er landet bei den Entwürfen.", "", "", handles[0], "", "", "Wert", "", "", ""]
        )
        return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
    writer = csv.writer(out, delimiter=",", lineterminator="\r\n")
    writer.writerow(
        ["text", "date", "time", "channels", "link", "pillar", "purpose", "first_comment", "text_x", "goal"]
    )
    writer.writerow(
        [
            "Fresh pretzels from 7 am, see you soon! #stuttgart",
            day.isoformat(),
            "09:00",
            "; ".join(handles),
            "https://example.org/pretzels",
            "Offers",
            "promotion",
            "",
            "Fresh pretzels from 7 am! #stuttgart" if on_x else "",
            goal_name,
        ]
    )
    writer.writerow(["A draft without a date: it goes to the drafts.", "", "", handles[0], "", "", "value", "", "", ""])
    return out.getvalue().encode("utf-8")
