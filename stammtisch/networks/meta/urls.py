from django.urls import path

from stammtisch.networks.meta import views

app_name = "meta"

urlpatterns = [
    # The redirect URI registered in the Meta app (settings.META_REDIRECT_URI points here).
    path("callback/", views.callback, name="callback"),
    path("w/<slug:slug>/select/", views.select, name="select"),
]
