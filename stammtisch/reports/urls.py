from django.urls import path

from stammtisch.reports import views

app_name = "reports"

urlpatterns = [
    path("w/<slug:slug>/reports/", views.report_list, name="list"),
    path("w/<slug:slug>/reports/generate/", views.generate, name="generate"),
    path("w/<slug:slug>/reports/<int:report_id>/", views.detail, name="detail"),
    path("w/<slug:slug>/reports/<int:report_id>/pdf/", views.download, name="pdf"),
    path("w/<slug:slug>/reports/<int:report_id>/retry/", views.retry, name="retry"),
    path("w/<slug:slug>/reports/<int:report_id>/share/", views.share_create, name="share_create"),
    path("w/<slug:slug>/reports/shares/<int:share_id>/revoke/", views.share_revoke, name="share_revoke"),
    path("w/<slug:slug>/reports/schedules/new/", views.schedule_create, name="schedule_create"),
    path("w/<slug:slug>/reports/schedules/<int:schedule_id>/", views.schedule_edit, name="schedule_edit"),
    path("w/<slug:slug>/reports/schedules/<int:schedule_id>/delete/", views.schedule_delete, name="schedule_delete"),
    path("w/<slug:slug>/reports/schedules/<int:schedule_id>/send/", views.schedule_send, name="schedule_send"),
    path("w/<slug:slug>/reports/mailings/<int:mailing_id>/retry/", views.mailing_retry, name="mailing_retry"),
    # Public but secret: the token is the only credential; it shows one report, read-only.
    path("reports/shared/<slug:token>/", views.shared, name="shared"),
]
