from django.urls import path

from stammtisch.networks.mastodon import views

app_name = "mastodon"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.connect, name="connect"),
    # The redirect URI registered with every instance (settings.MASTODON_REDIRECT_URI points here).
    path("callback/", views.callback, name="callback"),
]
