from django.urls import path

from stammtisch.networks.sandbox import views

app_name = "sandbox"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.connect, name="connect"),
    path("<slug:handle>/", views.feed, name="feed"),
    path("<slug:handle>/<int:post_id>/", views.post_detail, name="post"),
]
