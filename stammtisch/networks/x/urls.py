from django.urls import path

from stammtisch.networks.x import views

app_name = "x"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.connect, name="connect"),
    # The callback URL registered in X's developer portal (settings.X_REDIRECT_URI points here).
    path("callback/", views.callback, name="callback"),
]
