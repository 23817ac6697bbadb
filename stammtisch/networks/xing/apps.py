from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class XingConfig(AppConfig):
    name = "stammtisch.networks.xing"
    label = "xing"
    verbose_name = _("XING network (assisted)")

    def ready(self) -> None:
        from stammtisch.networks.xing import receivers  # noqa: F401 (connects the signal receiver)
