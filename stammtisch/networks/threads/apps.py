from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ThreadsConfig(AppConfig):
    name = "stammtisch.networks.threads"
    label = "threads_network"
    verbose_name = _("Threads network")
