from django.urls import path

from stammtisch.strategy import views

app_name = "strategy"

urlpatterns = [
    path("w/<slug:slug>/goals/", views.goals, name="goals"),
    path("w/<slug:slug>/goals/new/", views.goal_create, name="goal_create"),
    path("w/<slug:slug>/goals/<int:goal_id>/", views.goal, name="goal"),
    path("w/<slug:slug>/goals/<int:goal_id>/edit/", views.goal_edit, name="goal_edit"),
    path("w/<slug:slug>/goals/<int:goal_id>/delete/", views.goal_delete, name="goal_delete"),
    path("w/<slug:slug>/goals/pillars/new/", views.pillar_create, name="pillar_create"),
    path("w/<slug:slug>/goals/pillars/<int:pillar_id>/", views.pillar_edit, name="pillar_edit"),
    path("w/<slug:slug>/goals/pillars/<int:pillar_id>/delete/", views.pillar_delete, name="pillar_delete"),
    path("w/<slug:slug>/goals/mix/", views.mix, name="mix"),
    path("w/<slug:slug>/goals/cadence/", views.cadence, name="cadence"),
]
