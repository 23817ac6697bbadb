from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _session_settings(sender: Any, connection: Any, **kwargs: Any) -> None:
    """PostgreSQL: no JIT compilation. Its cost estimate counts long `IN (…)` lists of ids as
    heavy, so short grouped queries (the rollup job's per-post figures, docs/benchmarks.md) spent
    more time compiling (about 140 ms each) than running; the pages and jobs here are short
    queries over indexes, for which JIT never pays."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")


class CoreConfig(AppConfig):
    name = "stammtisch.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        connection_created.connect(_session_settings, dispatch_uid="stammtisch.core.session_settings")
