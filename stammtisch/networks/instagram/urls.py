from django.urls import path

from stammtisch.networks.meta import views

app_name = "instagram"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.instagram_connect, name="connect"),
]
