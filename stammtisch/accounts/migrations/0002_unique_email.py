"""E-mail addresses are unique regardless of case (empty ones excepted), enforced by the database
so two sign-ups at the same moment cannot both take an address. Works on SQLite and PostgreSQL."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE UNIQUE INDEX accounts_user_email_ci ON auth_user (LOWER(email)) WHERE email <> ''",
            reverse_sql="DROP INDEX accounts_user_email_ci",
        ),
    ]
