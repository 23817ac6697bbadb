"""The people list's free-text search (docs/people.md "Pages"): a name, e-mail address or handle
containing the typed text, ignoring case, on both databases through a trigram index.

- **SQLite**: an FTS5 table `audience_person_search` (tokenizer `trigram`) with each person's
  name, e-mail and the handles of their identities, rowid = the person's id. Triggers on the
  person and identity tables keep it up to date (migration `audience/0005`), so every write path
  (the consumer's bulk inserts included) is covered. A search of three characters or more is a
  `MATCH` of the text as a phrase of trigrams: the rows containing it as a substring. A shorter
  text has no trigram: it is looked for as before (`icontains` on names, e-mails and handles,
  a scan that stops at the first page of the highest scores; only ASCII letters ignore case there).
- **PostgreSQL**: GIN indexes with `pg_trgm` on `UPPER(name)`, `UPPER(email)` and
  `UPPER(handle)`, which serve Django's `icontains` (`UPPER(x) LIKE UPPER('%text%')`) for three
  characters or more; the three matches are one `UNION` of ids. Where the extension cannot be
  installed the migration leaves the indexes out (a warning on standard error) and the same
  query scans, as before.

Both return exactly the people whose name, e-mail or a handle contains the text.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from stammtisch.audience.models import Identity, Person
from stammtisch.core.models import Workspace

TABLE = "audience_person_search"
TRIGRAM = 3  # the shortest text the index can answer


def matching(workspace: Workspace, text: str) -> Q:
    """A filter of people (of `workspace`) whose name, e-mail or a handle contains `text`."""
    text = text.strip().lstrip("@")
    if connection.vendor == "sqlite" and len(text) >= TRIGRAM:
        phrase = '"' + text.replace('"', '""') + '"'  # a phrase: every character is text, never syntax
        return Q(pk__in=RawSQL(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s", [phrase]))  # noqa: S608, S611
    handles = Identity.objects.filter(workspace=workspace, handle__icontains=text).values("person_id")
    if connection.vendor == "postgresql" and len(text) >= TRIGRAM:
        # One id list from the three trigram indexes: PostgreSQL joins it to the people. (With
        # the conditions OR-ed on the people it walks every person by score and tests each one.)
        people = Person.objects.filter(workspace=workspace)
        names = people.filter(display_name__icontains=text).values("pk")
        emails = people.filter(email__icontains=text).values("pk")
        return Q(pk__in=names.union(emails, handles))
    return Q(display_name__icontains=text) | Q(email__icontains=text) | Q(pk__in=handles)
