from django.urls import path

from stammtisch.networks.linkedin import views

app_name = "linkedin"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.connect, name="connect"),
    # The redirect URL registered in the LinkedIn app (settings.LINKEDIN_REDIRECT_URI points here).
    path("callback/", views.callback, name="callback"),
    path("w/<slug:slug>/select/", views.select, name="select"),
]
