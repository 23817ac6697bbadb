from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LinkedInConfig(AppConfig):
    name = "stammtisch.networks.linkedin"
    label = "linkedin_network"
    verbose_name = _("LinkedIn network")
