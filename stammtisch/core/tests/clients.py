"""Test clients that read pages in English (the app's default language is German)."""

from __future__ import annotations

from typing import Any

from django.test import Client


def english_client(user: Any = None, **defaults: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en", **defaults)
    client.cookies["stammtisch_language"] = "en"
    if user is not None:
        client.force_login(user)
        session = client.session
        session["_language"] = "en"
        session.save()
    return client
