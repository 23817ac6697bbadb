"""Per request: the signed-in user's language, and the row of their session in the sessions list."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from stammtisch.accounts.actions import SESSION_STATE, track_session


class AccountMiddleware:
    """Runs after AuthenticationMiddleware.

    Two-factor needs no check here: a session is only signed in after the code was right.
    The saved language comes from the session (refreshed at least once a minute from the
    profile by `track_session`), so most requests cost no query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.languages = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            state = request.session.get(SESSION_STATE) or {}
            language = state.get("lang")
            if language in self.languages:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if request.user.is_authenticated:
            track_session(request)
        return response
