from django.urls import path

from stammtisch.networks.xing import views

app_name = "xing"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.connect, name="connect"),
    path("w/<slug:slug>/waiting/", views.waiting, name="waiting"),
    path("w/<slug:slug>/assisted/<int:delivery_id>/", views.assisted, name="assisted"),
    path("w/<slug:slug>/assisted/<int:delivery_id>/skip/", views.assisted_skip, name="assisted_skip"),
]
