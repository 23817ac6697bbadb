from django.urls import path

from stammtisch.networks.telegram import views

app_name = "telegram"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.connect, name="connect"),
]
