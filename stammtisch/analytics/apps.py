from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "stammtisch.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from stammtisch.analytics import receivers  # noqa: F401 (connects the signal receivers)
