from django.urls import path

from stammtisch.core import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("w/new/", views.workspace_create, name="workspace_create"),
    path("w/<slug:slug>/", views.workspace_home, name="workspace_home"),
    path("w/<slug:slug>/settings/", views.workspace_settings, name="settings"),
    path("w/<slug:slug>/logo/", views.workspace_logo, name="workspace_logo"),
    path("w/<slug:slug>/settings/members/", views.members, name="members"),
    path(
        "w/<slug:slug>/settings/members/<int:membership_id>/role/",
        views.member_role,
        name="member_role",
    ),
    path(
        "w/<slug:slug>/settings/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("w/<slug:slug>/settings/members/invite/", views.invite, name="invite"),
    path(
        "w/<slug:slug>/settings/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "w/<slug:slug>/settings/invitations/<int:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path("w/<slug:slug>/leave/", views.leave_workspace, name="leave"),
    path("w/<slug:slug>/settings/audit/", views.audit_log, name="audit"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
# Sections whose issue has not been built yet: each page says so plainly.
urlpatterns += [
    path(f"w/<slug:slug>/{section}/", views.planned_section, {"section": section}, name=section)
    for section in views.PLANNED_SECTIONS
]
