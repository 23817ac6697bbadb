"""A deleted report takes its PDF with it (a workspace deleted, or a report deleted by hand)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from stammtisch.reports.models import Report


@receiver(post_delete, sender=Report)
def delete_pdf(sender: type[Report], instance: Report, **kwargs: Any) -> None:
    if instance.file:
        name, storage = instance.file.name, instance.file.storage
        # Only once the deletion is committed: a rolled-back delete keeps its file.
        transaction.on_commit(lambda: storage.delete(name))
