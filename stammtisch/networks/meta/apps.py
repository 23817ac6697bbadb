from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetaConfig(AppConfig):
    name = "stammtisch.networks.meta"
    label = "meta_graph"
    verbose_name = _("Facebook and Instagram (Meta Graph API)")
