from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BlueskyConfig(AppConfig):
    name = "stammtisch.networks.bluesky"
    label = "bluesky"
    verbose_name = _("Bluesky network")
