from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class XConfig(AppConfig):
    name = "stammtisch.networks.x"
    label = "x_network"
    verbose_name = _("X network")
