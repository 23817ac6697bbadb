from django.urls import path

from stammtisch.core import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("w/new/", views.workspace_create, name="workspace_create"),
    path("w/<slug:slug>/", views.workspace_home, name="workspace_home"),
]
# Sections whose issue has not been built yet: each page says so plainly.
urlpatterns += [
    path(f"w/<slug:slug>/{section}/", views.planned_section, {"section": section}, name=section)
    for section in views.PLANNED_SECTIONS
]
