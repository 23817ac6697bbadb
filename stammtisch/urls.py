from django.urls import include, path

# Uploaded media is never served as public files: views check membership first (core:workspace_logo).
urlpatterns = [
    path("", include("stammtisch.core.urls")),
    path("accounts/", include("stammtisch.accounts.urls")),
    path("", include("stammtisch.networks.urls")),
    path("sandbox/", include("stammtisch.networks.sandbox.urls")),
    path("mastodon/", include("stammtisch.networks.mastodon.urls")),
    path("telegram/", include("stammtisch.networks.telegram.urls")),
    path("bluesky/", include("stammtisch.networks.bluesky.urls")),
    path("x/", include("stammtisch.networks.x.urls")),
    path("linkedin/", include("stammtisch.networks.linkedin.urls")),
    path("xing/", include("stammtisch.networks.xing.urls")),
    path("facebook/", include("stammtisch.networks.facebook.urls")),
    path("instagram/", include("stammtisch.networks.instagram.urls")),
    path("meta/", include("stammtisch.networks.meta.urls")),
    path("threads/", include("stammtisch.networks.threads.urls")),
    path("", include("stammtisch.publishing.urls")),
    path("notifications/", include("stammtisch.notifications.urls")),
    path("analytics/", include("stammtisch.analytics.urls")),
    path("", include("stammtisch.inbox.urls")),
    path("", include("stammtisch.links.urls")),
    path("", include("stammtisch.audience.urls")),
    path("", include("stammtisch.strategy.urls")),
    path("", include("stammtisch.reports.urls")),
]

handler400 = "stammtisch.core.errors.bad_request"
handler403 = "stammtisch.core.errors.permission_denied"
handler404 = "stammtisch.core.errors.page_not_found"
handler500 = "stammtisch.core.errors.server_error"
