from django.conf import settings
from django.conf.urls.static import static
from django.urls import include, path

urlpatterns = [
    path("", include("stammtisch.core.urls")),
    path("accounts/", include("stammtisch.accounts.urls")),
    path("", include("stammtisch.networks.urls")),
    path("sandbox/", include("stammtisch.networks.sandbox.urls")),
    path("", include("stammtisch.publishing.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "stammtisch.core.errors.bad_request"
handler403 = "stammtisch.core.errors.permission_denied"
handler404 = "stammtisch.core.errors.page_not_found"
handler500 = "stammtisch.core.errors.server_error"
