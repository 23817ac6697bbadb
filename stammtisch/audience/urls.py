from django.urls import path

from stammtisch.audience import views

app_name = "audience"

urlpatterns = [
    path("w/<slug:slug>/people/", views.people_list, name="list"),
    path("w/<slug:slug>/people/new/", views.person_new, name="new"),
    path("w/<slug:slug>/people/import/", views.people_import, name="import"),
    path("w/<slug:slug>/people/suggestions/", views.suggestions, name="suggestions"),
    path("w/<slug:slug>/people/referrals/", views.referral_list, name="referrals"),
    path("w/<slug:slug>/people/settings/", views.people_settings, name="settings"),
    path("w/<slug:slug>/people/segments/", views.segment_list, name="segments"),
    path("w/<slug:slug>/people/segments/<int:segment_id>/delete/", views.segment_delete, name="segment_delete"),
    path("w/<slug:slug>/people/<int:person_id>/", views.person_detail, name="person"),
    path("w/<slug:slug>/people/<int:person_id>/edit/", views.person_edit, name="edit"),
    path("w/<slug:slug>/people/<int:person_id>/merge/", views.person_merge, name="merge"),
    path("w/<slug:slug>/people/<int:person_id>/split/", views.person_split, name="split"),
    path("w/<slug:slug>/people/<int:person_id>/referrals/new/", views.referral_new, name="referral_new"),
    path("w/<slug:slug>/people/<int:person_id>/export.json", views.person_export_json, name="export_json"),
    path("w/<slug:slug>/people/<int:person_id>/export/", views.person_export_html, name="export_html"),
    path("w/<slug:slug>/people/<int:person_id>/erase/", views.person_erase, name="erase"),
]
