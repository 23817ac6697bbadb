"""A trigram index for the people list's free-text search (audience/search.py).

SQLite: an FTS5 table with the trigram tokenizer, filled from the people and their identities and
kept up to date by triggers. SQLite drops a table's triggers when Django rebuilds the table (some
later `AlterField`s do): `audience/tests/test_search.py` fails then, and the triggers must be
created again (`create_sqlite` below) in that migration.

PostgreSQL: the pg_trgm extension and GIN indexes on UPPER(name), UPPER(email), UPPER(handle).
Where the database user may not create the extension, the indexes are left out with a warning
and the search works as before (scanning).
"""

import sys

from django.db import DatabaseError, migrations, transaction

HANDLES = "COALESCE((SELECT group_concat(i.handle, ' ') FROM audience_identity i WHERE i.person_id = {id}), '')"

SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS audience_person_search USING fts5(name, email, handles, tokenize='trigram')",
    "DELETE FROM audience_person_search",
    "INSERT INTO audience_person_search(rowid, name, email, handles) "
    f"SELECT p.id, p.display_name, p.email, {HANDLES.format(id='p.id')} FROM audience_person p",
    "CREATE TRIGGER IF NOT EXISTS audience_person_search_insert AFTER INSERT ON audience_person BEGIN "
    "INSERT INTO audience_person_search(rowid, name, email, handles) "
    f"VALUES (new.id, new.display_name, new.email, {HANDLES.format(id='new.id')}); END",
    "CREATE TRIGGER IF NOT EXISTS audience_person_search_update AFTER UPDATE OF display_name, email "
    "ON audience_person WHEN old.display_name IS NOT new.display_name OR old.email IS NOT new.email BEGIN "
    "UPDATE audience_person_search SET name = new.display_name, email = new.email WHERE rowid = new.id; END",
    "CREATE TRIGGER IF NOT EXISTS audience_person_search_delete AFTER DELETE ON audience_person BEGIN "
    "DELETE FROM audience_person_search WHERE rowid = old.id; END",
    "CREATE TRIGGER IF NOT EXISTS audience_identity_search_insert AFTER INSERT ON audience_identity BEGIN "
    f"UPDATE audience_person_search SET handles = {HANDLES.format(id='new.person_id')} "
    "WHERE rowid = new.person_id; END",
    "CREATE TRIGGER IF NOT EXISTS audience_identity_search_update AFTER UPDATE OF handle, person_id "
    "ON audience_identity WHEN old.handle IS NOT new.handle OR old.person_id IS NOT new.person_id BEGIN "
    f"UPDATE audience_person_search SET handles = {HANDLES.format(id='old.person_id')} "
    "WHERE rowid = old.person_id; "
    f"UPDATE audience_person_search SET handles = {HANDLES.format(id='new.person_id')} "
    "WHERE rowid = new.person_id; END",
    "CREATE TRIGGER IF NOT EXISTS audience_identity_search_delete AFTER DELETE ON audience_identity BEGIN "
    f"UPDATE audience_person_search SET handles = {HANDLES.format(id='old.person_id')} "
    "WHERE rowid = old.person_id; END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audience_person_search_insert",
    "DROP TRIGGER IF EXISTS audience_person_search_update",
    "DROP TRIGGER IF EXISTS audience_person_search_delete",
    "DROP TRIGGER IF EXISTS audience_identity_search_insert",
    "DROP TRIGGER IF EXISTS audience_identity_search_update",
    "DROP TRIGGER IF EXISTS audience_identity_search_delete",
    "DROP TABLE IF EXISTS audience_person_search",
]
POSTGRES = [
    "CREATE INDEX IF NOT EXISTS audience_person_name_trgm ON audience_person USING gin (UPPER(display_name::text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS audience_person_email_trgm ON audience_person USING gin (UPPER(email::text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS audience_identity_handle_trgm ON audience_identity USING gin (UPPER(handle::text) gin_trgm_ops)",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS audience_person_name_trgm",
    "DROP INDEX IF EXISTS audience_person_email_trgm",
    "DROP INDEX IF EXISTS audience_identity_handle_trgm",
]


def create_sqlite(schema_editor):
    for statement in SQLITE:
        schema_editor.execute(statement)


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        create_sqlite(schema_editor)
    elif vendor == "postgresql":
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:
            print(
                f"audience: pg_trgm could not be installed ({exc}); the people search works without "
                "its index (slower). Run CREATE EXTENSION pg_trgm as a superuser and migrate again "
                "(audience 0005 backwards, then forwards) to add it.",
                file=sys.stderr,
            )
            return
        for statement in POSTGRES:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in SQLITE_DROP if vendor == "sqlite" else POSTGRES_DROP if vendor == "postgresql" else []:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("audience", "0004_referrals_profile_links_conversion_emails"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
