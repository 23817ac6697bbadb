from django.urls import path

from stammtisch.publishing import views

app_name = "publishing"

urlpatterns = [
    path("w/<slug:slug>/calendar/", views.calendar, name="calendar"),
    path("w/<slug:slug>/compose/", views.compose, name="compose"),
    path("w/<slug:slug>/posts/<int:post_id>/", views.post_detail, name="post"),
    path(
        "w/<slug:slug>/posts/<int:post_id>/publish-now/",
        views.post_publish_now,
        name="post_publish_now",
    ),
    path("w/<slug:slug>/posts/<int:post_id>/cancel/", views.post_cancel, name="post_cancel"),
    path(
        "w/<slug:slug>/posts/<int:post_id>/deliveries/<int:delivery_id>/retry/",
        views.delivery_retry,
        name="delivery_retry",
    ),
]
