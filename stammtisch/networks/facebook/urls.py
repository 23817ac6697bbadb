from django.urls import path

from stammtisch.networks.meta import views

app_name = "facebook"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.facebook_connect, name="connect"),
]
