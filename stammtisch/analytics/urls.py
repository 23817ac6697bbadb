from django.urls import path

from stammtisch.analytics import views, views_dashboard

app_name = "analytics"

urlpatterns = [
    path("w/<slug:slug>/deliveries/<int:delivery_id>/figures/", views.delivery_metrics, name="delivery_metrics"),
    path("w/<slug:slug>/import/", views.import_metrics, name="import"),
    path("w/<slug:slug>/import/confirm/", views.import_metrics_confirm, name="import_confirm"),
    path("w/<slug:slug>/import/template/", views.import_metrics_template, name="import_template"),
    path("w/<slug:slug>/dashboard/", views_dashboard.overview, name="dashboard"),
    path("w/<slug:slug>/best-time/slots/", views_dashboard.best_time_slots, name="best_time_slots"),
    path("w/<slug:slug>/channels/", views_dashboard.channels, name="channels"),
    path("w/<slug:slug>/channels/<int:channel_id>/", views_dashboard.channel, name="channel"),
    path("w/<slug:slug>/posts/", views_dashboard.posts, name="posts"),
]
