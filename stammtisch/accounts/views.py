from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import User
from django.db import IntegrityError
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils import timezone, translation
from django.utils.formats import time_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from stammtisch.accounts import actions, twofactor
from stammtisch.accounts.forms import (
    ChangePasswordForm,
    CodeForm,
    LoginForm,
    PasswordConfirmForm,
    ProfileForm,
    ResetPasswordForm,
    SignupForm,
    TwoFactorSetupForm,
)
from stammtisch.accounts.models import RecoveryCode, TOTPDevice, UserSession
from stammtisch.core.access import account_view, public_view
from stammtisch.core.actions import Actor
from stammtisch.core.crypto import decrypt, encrypt

TOTP_SETUP = "accounts_totp_setup"  # the secret being set up, encrypted, until confirmed
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _next_url(request: HttpRequest, default: str = settings.LOGIN_REDIRECT_URL) -> str:
    """The `next` of the request when it stays on this site, else `default`."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(default)


def _set_language_cookie(response: HttpResponse, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def _signed_in(request: HttpRequest, user: User) -> HttpResponse:
    """Where to go after logging in; the saved language also becomes the cookie's."""
    response = HttpResponseRedirect(_next_url(request))
    language = actions.profile_for(user).language
    if language:
        _set_language_cookie(response, language)
    return response


def lock_message(until: datetime) -> str:
    """The same words whether or not the account exists."""
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "Too many failed attempts. For your safety, logging in is paused. "
        "Please try again in %(minutes)d minute (at %(time)s).",
        "Too many failed attempts. For your safety, logging in is paused. "
        "Please try again in %(minutes)d minutes (at %(time)s).",
        minutes,
    ) % {"minutes": minutes, "time": time_format(timezone.localtime(until), "TIME_FORMAT")}


# --- logging in and out -------------------------------------------------------------------


def _sessions_ended(count: int) -> str:
    return ngettext("%(count)d other session was signed out.", "%(count)d other sessions were signed out.", count) % {
        "count": count
    }


@public_view
@sensitive_post_parameters("password")
@never_cache
def login(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = actions.attempt_password_login(request, form.cleaned_data["username"], form.cleaned_data["password"])
        if result.locked_until is not None:
            form.add_error(None, lock_message(result.locked_until))
        elif result.failed or result.user is None:
            form.add_error(
                None,
                _("That e-mail address or username and password do not match. Please try again."),
            )
        elif result.needs_code:
            query = urlencode({"next": _next_url(request)})
            return redirect(f"{reverse('accounts:login_code')}?{query}")
        else:
            return _signed_in(request, result.user)
    return render(request, "accounts/login.html", {"form": form, "next": _next_url(request)})


@public_view
@sensitive_post_parameters("code")
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step of logging in, for accounts with two-factor authentication."""
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    if actions.pending_login_user(request) is None:
        messages.info(request, _("Please log in first."))
        return redirect("accounts:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = actions.attempt_code_login(request, form.cleaned_data["code"])
        if result.locked_until is not None:
            messages.error(request, lock_message(result.locked_until))
            return redirect("accounts:login")
        if result.failed or result.user is None:
            form.add_error("code", _("That code is not right, or it was used already. Please try again."))
        else:
            return _signed_in(request, result.user)
    return render(request, "accounts/login_code.html", {"form": form, "next": _next_url(request)})


@public_view
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    actions.do_logout(request)
    messages.success(request, _("You are logged out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


@public_view
@sensitive_post_parameters("password1", "password2")
@never_cache
def signup(request: HttpRequest) -> HttpResponse:
    if not settings.SIGNUP_ENABLED:
        return render(request, "accounts/signup_closed.html", status=404)
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = SignupForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        language = translation.get_language()
        try:
            user = actions.do_signup(
                Actor.from_request(request),
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                language=language if language in LANGUAGE_CODES else "",
            )
        except IntegrityError:  # the same address signed up a moment ago
            form.add_error("email", _("An account with this e-mail address exists already."))
        else:
            actions.do_login(request, user, method="signup", backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to Stammtisch, %(name)s!") % {"name": user.first_name})
            return redirect(_next_url(request))
    return render(request, "accounts/signup.html", {"form": form, "next": _next_url(request)})


# --- passwords ------------------------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        # Links are built from the configured address, never from the request's Host header.
        self.extra_email_context = {"base_url": settings.BASE_URL}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = ResetPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        actions.do_reset_password(Actor.from_request(self.request), form.user, form.cleaned_data["new_password1"])
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


def _public(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponse]:
    return public_view(cast(Callable[..., HttpResponse], view))


password_reset = _public(PasswordResetView.as_view())
password_reset_done = _public(
    auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
)
password_reset_confirm = _public(PasswordResetConfirmView.as_view())
password_reset_complete = _public(
    auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html")
)


@account_view
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def password_change(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = ChangePasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        ended = actions.do_change_password(request, user, form.cleaned_data["new_password1"])
        messages.success(request, _("Your password has been changed."))
        if ended:
            messages.info(request, _sessions_ended(ended))
        return redirect("accounts:profile")
    return render(request, "accounts/password_change.html", {"form": form})


def _confirm_password(request: HttpRequest, form: Form) -> bool:
    """Check the form's password (throttled like logging in); adds the error when wrong."""
    outcome = actions.check_password_throttled(request, _user(request), form.cleaned_data["password"])
    if outcome is True:
        return True
    if isinstance(outcome, datetime):
        form.add_error(None, lock_message(outcome))
    else:
        form.add_error("password", _("That is not your password."))
    return False


# --- profile and language -------------------------------------------------------------------


@account_view
@sensitive_post_parameters("current_password")
def profile(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    saved = actions.profile_for(user)
    initial = {
        "name": user.get_full_name(),
        "email": user.email,
        "language": saved.language or translation.get_language(),
    }
    form = ProfileForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        allowed = True
        if form.email_changed:
            password = form.cleaned_data["current_password"]
            outcome = actions.check_password_throttled(request, user, password) if password else False
            if isinstance(outcome, datetime):
                form.add_error(None, lock_message(outcome))
                allowed = False
            elif outcome is not True:
                form.add_error(
                    "current_password",
                    _("To change the e-mail address, enter your current password."),
                )
                allowed = False
        if allowed:
            language = form.cleaned_data["language"]
            changed = actions.do_update_profile(
                Actor.from_request(request),
                user,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                language=language,
            )
            actions.remember_language(request, language)
            if changed:
                translation.activate(language)
                messages.success(request, _("Your profile has been saved."))
            response = redirect("accounts:profile")
            _set_language_cookie(response, language)
            return response
    context = {
        "form": form,
        "two_factor": TOTPDevice.objects.filter(user=user).exists(),
        "session_count": len(actions.active_sessions(user)),
    }
    return render(request, "accounts/profile.html", context)


@public_view
@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Switch the language: a cookie for everyone, the profile too when signed in."""
    code = request.POST.get("language", "")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("core:home") if request.user.is_authenticated else reverse("accounts:login")
    response = HttpResponseRedirect(next_url)
    if code not in LANGUAGE_CODES:
        return response
    _set_language_cookie(response, code)
    if request.user.is_authenticated:
        actions.do_set_language(Actor.from_request(request), _user(request), code)
        actions.remember_language(request, code)
    return response


# --- two-factor -----------------------------------------------------------------------------


def _two_factor_page(request: HttpRequest, **forms: Form) -> HttpResponse:
    user = _user(request)
    context = {
        "device": TOTPDevice.objects.filter(user=user).first(),
        "recovery_left": RecoveryCode.objects.filter(user=user, used_at__isnull=True).count(),
        # Two password fields on one page: prefixes keep their ids apart.
        "recovery_form": forms.get("recovery_form") or PasswordConfirmForm(prefix="recovery"),
        "disable_form": forms.get("disable_form") or PasswordConfirmForm(prefix="disable"),
    }
    return render(request, "accounts/two_factor.html", context)


@account_view
def two_factor(request: HttpRequest) -> HttpResponse:
    return _two_factor_page(request)


@account_view
@sensitive_post_parameters("code")
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if TOTPDevice.objects.filter(user=user).exists():
        messages.info(request, _("Two-factor authentication is on already."))
        return redirect("accounts:two_factor")
    pending = request.session.get(TOTP_SETUP)
    if pending:
        secret = decrypt(pending)
    else:
        secret = twofactor.new_secret()
        request.session[TOTP_SETUP] = encrypt(secret)
    form = TwoFactorSetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        step = twofactor.matching_step(secret, form.cleaned_data["code"])
        if step is None:
            form.add_error(
                "code",
                _("That code is not right. Check that the time on your phone is correct, then try the next code."),
            )
        else:
            codes = actions.do_enable_two_factor(Actor.from_request(request), user, secret=secret, step=step)
            del request.session[TOTP_SETUP]
            messages.success(request, _("Two-factor authentication is on."))
            return render(request, "accounts/recovery_codes.html", {"codes": codes})
    uri = twofactor.provisioning_uri(secret, user)
    context = {
        "form": form,
        "qr_code": twofactor.qr_code_svg(uri, _("QR code for your authenticator app")),
        "secret": twofactor.grouped(secret),
    }
    return render(request, "accounts/two_factor_setup.html", context)


@account_view
@require_POST
@sensitive_post_parameters("password")
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = PasswordConfirmForm(request.POST, prefix="disable")
    if form.is_valid() and _confirm_password(request, form):
        actions.do_disable_two_factor(Actor.from_request(request), user)
        messages.success(request, _("Two-factor authentication is off."))
        return redirect("accounts:two_factor")
    return _two_factor_page(request, disable_form=form)


@account_view
@require_POST
@sensitive_post_parameters("password")
def two_factor_recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes (the old ones stop working), after the password."""
    user = _user(request)
    if not TOTPDevice.objects.filter(user=user).exists():
        return redirect("accounts:two_factor")
    form = PasswordConfirmForm(request.POST, prefix="recovery")
    if form.is_valid() and _confirm_password(request, form):
        codes = actions.do_regenerate_recovery_codes(Actor.from_request(request), user)
        messages.success(request, _("You have new recovery codes. The old ones no longer work."))
        return render(request, "accounts/recovery_codes.html", {"codes": codes})
    return _two_factor_page(request, recovery_form=form)


# --- sessions -------------------------------------------------------------------------------


@account_view
def sessions(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    rows = actions.active_sessions(user)
    current = actions.current_session_hash(request)
    for row in rows:
        row.is_current = row.key_hash == current  # type: ignore[attr-defined]
    rows.sort(key=lambda row: (not row.is_current, -row.last_seen_at.timestamp()))  # type: ignore[attr-defined]
    return render(request, "accounts/sessions.html", {"sessions": rows})


@account_view
@require_POST
def session_revoke(request: HttpRequest, session_id: int) -> HttpResponse:
    user = _user(request)
    row = get_object_or_404(UserSession, pk=session_id, user=user)
    if row.key_hash == actions.current_session_hash(request):
        messages.info(request, _("To end this session, log out."))
        return redirect("accounts:sessions")
    actions.do_revoke_session(Actor.from_request(request), user, row)
    messages.success(request, _("The session on %(device)s was signed out.") % {"device": row.device})
    return redirect("accounts:sessions")


@account_view
@require_POST
def sessions_revoke_others(request: HttpRequest) -> HttpResponse:
    ended = actions.do_revoke_other_sessions(Actor.from_request(request), _user(request), request)
    messages.success(request, _sessions_ended(ended))
    return redirect("accounts:sessions")
