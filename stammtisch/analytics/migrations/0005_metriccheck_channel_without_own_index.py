"""The metric check's channel loses its own index: metric_check_channel_idx (channel, state)
serves look-ups by channel. Only the index is dropped (Django would copy the whole table on
SQLite to change the field)."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "analytics_metriccheck_channel_id_44c2ee45"  # Django's name for the field's own index


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_post_rollup_goal_figures"),
        ("networks", "0002_network_apps_outbound_posts_bot_updates"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="metriccheck",
                    name="channel",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="metric_checks",
                        to="networks.channel",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "analytics_metriccheck" ("channel_id")',
                ),
            ],
        ),
    ]
