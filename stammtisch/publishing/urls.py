from django.urls import path

from stammtisch.publishing import views

app_name = "publishing"

urlpatterns = [
    path("w/<slug:slug>/calendar/", views.calendar, name="calendar"),
    path("w/<slug:slug>/calendar/feed/", views.calendar_feed, name="calendar_feed"),
    # Public but secret: the token is the only credential (calendar apps cannot log in).
    path("calendar/<slug:token>.ics", views.calendar_ical, name="calendar_ical"),
    path("w/<slug:slug>/compose/", views.compose, name="compose"),
    path("w/<slug:slug>/compose/check/", views.compose_check, name="compose_check"),
    path("w/<slug:slug>/posts/<int:post_id>/", views.post_detail, name="post"),
    path("w/<slug:slug>/posts/<int:post_id>/edit/", views.post_edit, name="post_edit"),
    path("w/<slug:slug>/posts/<int:post_id>/move/", views.post_reschedule, name="post_reschedule"),
    path("w/<slug:slug>/posts/<int:post_id>/delete/", views.post_delete, name="post_delete"),
    path("w/<slug:slug>/posts/<int:post_id>/duplicate/", views.post_duplicate, name="post_duplicate"),
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
