from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "stammtisch.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from stammtisch.reports import receivers  # noqa: F401
