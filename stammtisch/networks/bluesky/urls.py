from django.urls import path

from stammtisch.networks.bluesky import oauth_views, views

app_name = "bluesky"

urlpatterns = [
    path("w/<slug:slug>/connect/", views.connect, name="connect"),
    # AT Protocol OAuth: our client_id is the URL of the client metadata document; the callback
    # is its one redirect URI (oauth.py).
    path("oauth/client-metadata.json", oauth_views.client_metadata, name="oauth_client_metadata"),
    path("oauth/jwks.json", oauth_views.jwks, name="oauth_jwks"),
    path("w/<slug:slug>/oauth/start/", oauth_views.start, name="oauth_start"),
    path("oauth/callback/", oauth_views.callback, name="oauth_callback"),
]
