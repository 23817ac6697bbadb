"""CSV import of people met offline (docs/people.md "Offline people"): read and check, preview,
import all rows or none. The file handling (encodings, keeping the upload between preview and
confirm, the problem messages) is the post import's (publishing/imports.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.audience.actions import new_person, offline_identity, parse_tags, set_tags
from stammtisch.audience.models import Consent, Identity, Person
from stammtisch.audience.privacy import handle_key
from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.registry import CONNECTORS
from stammtisch.publishing.imports import MAX_BYTES, Problem, decode, problems_message

MAX_ROWS = 5000
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "display_name", "vorname_name", "name_vorname"),
    "email": ("email", "e_mail", "mail"),
    "language": ("language", "sprache"),
    "tags": ("tags", "tag", "schlagworte"),
    "notes": ("notes", "note", "notizen", "notiz"),
    "network": ("network", "netzwerk"),
    "handle": ("handle", "benutzername", "username"),
    "consent": ("consent", "einwilligung"),
}
COLUMN_BY_NAME = {alias: column for column, names in ALIASES.items() for alias in names}
CONSENT = {
    "": Consent.UNKNOWN,
    "unknown": Consent.UNKNOWN,
    "yes": Consent.GIVEN,
    "ja": Consent.GIVEN,
    "given": Consent.GIVEN,
    "no": Consent.REFUSED,
    "nein": Consent.REFUSED,
    "refused": Consent.REFUSED,
}


@dataclass
class Row:
    number: int
    name: str = ""
    email: str = ""
    language: str = ""
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    network: str = ""
    handle: str = ""
    consent: str = Consent.UNKNOWN


@dataclass
class Preview:
    rows: list[Row]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.problems


def _column(name: str) -> str | None:
    return COLUMN_BY_NAME.get("_".join(name.strip().lower().replace("-", " ").split()))


def read_csv(workspace: Workspace, data: bytes) -> Preview:
    """Parse and check a file of people; writes nothing. A file that cannot be read at all
    raises ActionError; every problem of every row is listed in the preview."""
    if len(data) > MAX_BYTES:
        raise ActionError(_("The file is larger than %(size)d MB.") % {"size": MAX_BYTES // 1024 // 1024})
    text, _encoding = decode(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ActionError(_("The file is empty."))
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise ActionError(_("The file is not valid CSV: %(error)s") % {"error": exc}) from None
    header, body = records[0], records[1:]
    columns = {position: column for position, name in enumerate(header) if (column := _column(name))}
    if "name" not in columns.values():
        raise ActionError(_("The file has no “name” column. The first row must name the columns."))
    body_rows = [(number, cells) for number, cells in enumerate(body, start=2) if any(c.strip() for c in cells)]
    if len(body_rows) > MAX_ROWS:
        raise ActionError(_("The file has more than %(max)d rows. Split it into several files.") % {"max": MAX_ROWS})
    languages = {code for code, _name in settings.LANGUAGES}
    known = set(
        Identity.objects.filter(workspace=workspace).values_list("network", "remote_id")
    )  # small workspaces: offline imports are hand-made lists
    rows: list[Row] = []
    problems: list[Problem] = []
    in_file: set[tuple[str, str]] = set()
    for number, cells in body_rows:
        values = {
            column: cells[position].strip() if position < len(cells) else "" for position, column in columns.items()
        }
        row = Row(number=number, name=" ".join(values.get("name", "").split())[:200])
        row.notes = values.get("notes", "")
        row.tags = parse_tags(values.get("tags", "").replace(";", ","))

        def problem(column: str, message: str, number: int = number) -> None:
            problems.append(Problem(number, column, message))

        if not row.name:
            problem("name", _("The name is missing."))
        email = values.get("email", "")
        if email:
            try:
                validate_email(email)
                row.email = email
            except ValidationError:
                problem("email", _("“%(value)s” is not an e-mail address.") % {"value": email[:100]})
        language = values.get("language", "").lower()
        if language and language not in languages:
            problem("language", _("Unknown language “%(value)s”; use de or en.") % {"value": language[:20]})
        row.language = language if language in languages else ""
        consent = values.get("consent", "").lower()
        if consent not in CONSENT:
            problem("consent", _("Consent must be yes or no (or empty)."))
        row.consent = CONSENT.get(consent, Consent.UNKNOWN)
        network, handle = values.get("network", "").lower(), values.get("handle", "").lstrip("@")
        if network and network not in CONNECTORS:
            problem("network", _("Unknown network “%(value)s”.") % {"value": network[:40]})
        elif bool(network) != bool(handle):
            problem("handle", _("Give both a network and a handle, or neither."))
        elif network:
            key = (network, handle_key(handle))
            if key in known:
                problem(
                    "handle", _("@%(handle)s on %(network)s is already known.") % {"handle": handle, "network": network}
                )
            elif key in in_file:
                problem(
                    "handle",
                    _("@%(handle)s on %(network)s appears twice in the file.") % {"handle": handle, "network": network},
                )
            in_file.add(key)
            row.network, row.handle = network, handle[:200]
        rows.append(row)
    if not rows:
        problems.append(Problem(0, "", _("The file has no people in it.")))
    return Preview(rows=rows, problems=problems)


@transaction.atomic
def do_import_people(actor: Actor, workspace: Workspace, data: bytes) -> list[Person]:
    """Check the file again and add every row as a person, or nothing at all."""
    require_perm(actor, workspace, Perm.EDIT)
    preview = read_csv(workspace, data)
    if not preview.ok:
        raise ActionError(problems_message(preview.problems))
    now = timezone.now()
    people = []
    for row in preview.rows:
        person = new_person(
            workspace,
            source=Person.Source.IMPORT,
            now=now,
            display_name=row.name,
            email=row.email,
            language=row.language,
            consent=row.consent,
            notes=row.notes,
        )
        if row.tags:
            set_tags(person, row.tags)
        if row.network:
            offline_identity(person, row.network, row.handle, now)
        people.append(person)
    audit(actor, "person.import_csv", workspace=workspace, summary=str(len(people)), data={"people": len(people)})
    return people
