from django.urls import path

from stammtisch.analytics import views

app_name = "analytics"

urlpatterns = [
    path("w/<slug:slug>/deliveries/<int:delivery_id>/figures/", views.delivery_metrics, name="delivery_metrics"),
    path("w/<slug:slug>/import/", views.import_metrics, name="import"),
    path("w/<slug:slug>/import/confirm/", views.import_metrics_confirm, name="import_confirm"),
    path("w/<slug:slug>/import/template/", views.import_metrics_template, name="import_template"),
]
