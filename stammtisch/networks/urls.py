from django.urls import path

from stammtisch.networks import views

app_name = "networks"

urlpatterns = [
    path("w/<slug:slug>/channels/", views.channels, name="channels"),
    path("w/<slug:slug>/channels/health/", views.health, name="health"),
    path(
        "w/<slug:slug>/channels/<int:channel_id>/disconnect/",
        views.channel_disconnect,
        name="channel_disconnect",
    ),
]
