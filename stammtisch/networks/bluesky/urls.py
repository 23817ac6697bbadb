from django.urls import path

from stammtisch.networks.bluesky import views

app_name = "bluesky"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.connect, name="connect"),
]
