# Sandbox posts: no index kept twice, none for the idempotency key, partial indexes for the links
# our own posts leave empty.

import django.db.models.deletion
from django.db import migrations, models


OLD_INDEXES = (
    "sandbox_sandboxpost_idempotency_key_63f7c5f1",
    "sandbox_sandboxpost_account_id_e68c8ec2",
    "sandbox_sandboxpost_author_persona_id_3f7cd3b7",
    "sandbox_sandboxpost_parent_id_e1dd0e75",
    "sandbox_sandboxpost_root_id_e86a01f7",
)
OLD_COLUMNS = ("idempotency_key", "account_id", "author_persona_id", "parent_id", "root_id")


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0002_post_media"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="sandboxpost",
            name="sandbox_post_thread",
        ),
        # The foreign keys lose their own indexes: only the index is dropped (the field change
        # alone would make SQLite copy the whole table four times).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="sandboxpost",
                    name="idempotency_key",
                    field=models.CharField(blank=True, max_length=200),
                ),
                migrations.AlterField(
                    model_name="sandboxpost",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="posts",
                        to="sandbox.sandboxaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="sandboxpost",
                    name="author_persona",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="posts",
                        to="sandbox.sandboxpersona",
                    ),
                ),
                migrations.AlterField(
                    model_name="sandboxpost",
                    name="parent",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="children",
                        to="sandbox.sandboxpost",
                    ),
                ),
                migrations.AlterField(
                    model_name="sandboxpost",
                    name="root",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="thread",
                        to="sandbox.sandboxpost",
                    ),
                ),
            ],
            database_operations=[
                # PostgreSQL also kept a LIKE index for the key (not made again on the way back).
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS sandbox_sandboxpost_idempotency_key_63f7c5f1_like", migrations.RunSQL.noop
                ),
                migrations.RunSQL(
                    [f"DROP INDEX IF EXISTS {name}" for name in OLD_INDEXES],
                    reverse_sql=[
                        f"CREATE INDEX {name} ON sandbox_sandboxpost ({column})"
                        for name, column in zip(OLD_INDEXES, OLD_COLUMNS, strict=True)
                    ],
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="sandboxpost",
            index=models.Index(
                condition=models.Q(("root__isnull", False)), fields=["root", "published_at"], name="sandbox_post_thread"
            ),
        ),
        migrations.AddIndex(
            model_name="sandboxpost",
            index=models.Index(
                condition=models.Q(("parent__isnull", False)), fields=["parent"], name="sandbox_post_parent"
            ),
        ),
        migrations.AddIndex(
            model_name="sandboxpost",
            index=models.Index(
                condition=models.Q(("author_persona__isnull", False)),
                fields=["author_persona"],
                name="sandbox_post_persona",
            ),
        ),
    ]
