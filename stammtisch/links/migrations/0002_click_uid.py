"""Clicks get a unique id made before they are stored (the redirector's spool, docs/links.md)."""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

import stammtisch.links.models


def fill_uids(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Click = apps.get_model("links", "Click")
    for click in Click.objects.filter(uid__isnull=True).only("pk").iterator():
        Click.objects.filter(pk=click.pk).update(uid=stammtisch.links.models.new_click_uid())


class Migration(migrations.Migration):
    dependencies = [("links", "0001_initial")]

    operations = [
        migrations.AddField(model_name="click", name="uid", field=models.CharField(max_length=32, null=True)),
        migrations.RunPython(fill_uids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="click",
            name="uid",
            field=models.CharField(default=stammtisch.links.models.new_click_uid, max_length=32, unique=True),
        ),
    ]
