from django.urls import path

from stammtisch.networks.threads import views

app_name = "threads"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.connect, name="connect"),
    # The redirect callback URL registered in the Threads use case (settings.THREADS_REDIRECT_URI).
    path("callback/", views.callback, name="callback"),
]
