from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "stammtisch.inbox"
    label = "inbox"
    verbose_name = _("Inbox")

    def ready(self) -> None:
        from stammtisch.inbox import receivers  # noqa: F401 (connects the signal receivers)
