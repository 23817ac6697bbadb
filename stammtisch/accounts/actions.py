"""Writes in the accounts domain. Every change is recorded in the audit log (workspace=None).

Never put passwords, codes, secrets or session keys into audit data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import (
    HASH_SESSION_KEY,
    SESSION_KEY,
    authenticate,
    update_session_auth_hash,
)
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from stammtisch.accounts import twofactor
from stammtisch.accounts.models import (
    LoginAttempt,
    Profile,
    RecoveryCode,
    TOTPDevice,
    UserSession,
    sha256,
)
from stammtisch.accounts.throttle import account_key, client_ip, locked_until, window
from stammtisch.core.actions import Actor, audit
from stammtisch.core.crypto import encrypt

# Session entries of this app.
PENDING_LOGIN = "accounts_pending_login"  # password was right, the code is still missing
SESSION_STATE = "accounts_session"  # the UserSession row, when it was last touched, the language
PENDING_LOGIN_SECONDS = 10 * 60
TOUCH_SECONDS = 60
# Attempts are kept this long (at least the lockout window) for the counts, then deleted.
ATTEMPT_RETENTION = timedelta(days=1)


def _actor_as(actor: Actor, user: User) -> Actor:
    """The same request, now on behalf of a user who just signed up or signed in."""
    return dataclasses.replace(actor, user=user, label=user.get_username())


def _anonymous(request: HttpRequest) -> Actor:
    actor = Actor.from_request(request)
    return dataclasses.replace(actor, user=None, label="anonymous")


# --- users and profiles -------------------------------------------------------------------


def profile_for(user: User) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def email_taken(email: str, exclude: User | None = None) -> bool:
    users = User.objects.filter(email__iexact=email.strip())
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return users.exists()


def username_from_email(email: str) -> str:
    """A free username from the e-mail's local part (people may log in with it too)."""
    base = re.sub(r"[^\w.+-]", "", email.split("@")[0])[:30].strip(".") or "user"
    candidate, n = base, 2
    while User.objects.filter(username__iexact=candidate).exists():
        candidate, n = f"{base}{n}", n + 1
    return candidate


@transaction.atomic
def do_signup(actor: Actor, *, name: str, email: str, password: str, language: str = "") -> User:
    user = User.objects.create_user(username_from_email(email), email.strip(), password, first_name=name.strip())
    Profile.objects.create(user=user, language=language)
    audit(_actor_as(actor, user), "account.signup", obj=user, summary=user.get_username())
    return user


@transaction.atomic
def do_create_user(actor: Actor, *, username: str, email: str, password: str, superuser: bool = False) -> User:
    if superuser:
        user = User.objects.create_superuser(username, email, password)
    else:
        user = User.objects.create_user(username, email, password)
    Profile.objects.create(user=user)
    audit(actor, "account.create", obj=user, summary=username, data={"superuser": superuser})
    return user


@transaction.atomic
def do_update_profile(actor: Actor, user: User, *, name: str, email: str, language: str) -> list[str]:
    """Save name, e-mail and language; returns the names of the fields that changed."""
    profile = profile_for(user)
    changed = []
    if user.first_name != name or user.last_name:
        user.first_name, user.last_name = name, ""
        changed.append("name")
    if user.email != email:
        user.email = email
        changed.append("email")
    if profile.language != language:
        profile.language = language
        profile.save(update_fields=["language"])
        changed.append("language")
    if {"name", "email"} & set(changed):
        user.save(update_fields=["first_name", "last_name", "email"])
    if changed:
        audit(
            actor,
            "account.profile_update",
            obj=user,
            summary=", ".join(changed),
            data={"fields": changed},
        )
    return changed


def do_set_language(actor: Actor, user: User, language: str) -> None:
    profile = profile_for(user)
    if profile.language != language:
        profile.language = language
        profile.save(update_fields=["language"])
        audit(actor, "account.language", obj=user, summary=language, data={"language": language})


def remember_language(request: HttpRequest, language: str) -> None:
    """Use `language` from the next request of this session on (the middleware reads it)."""
    state = request.session.get(SESSION_STATE)
    if state is not None:
        request.session[SESSION_STATE] = {**state, "lang": language}


# --- logging in -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None  # set when signed in, or when the code is still needed
    needs_code: bool = False
    failed: bool = False  # wrong name, password or code
    locked_until: datetime | None = None  # refused: too many failures


def find_user(identifier: str) -> User | None:
    """The account for what someone typed: a username (any case) or an e-mail address."""
    identifier = identifier.strip()
    if not identifier:
        return None
    user = User.objects.filter(username=identifier).first()
    if user is not None:
        return user
    for lookup in ("username__iexact", "email__iexact"):
        matches = list(User.objects.filter(**{lookup: identifier})[:2])
        if len(matches) == 1:
            return matches[0]
    return None


def _record_failure(request: HttpRequest, key: str, user: User | None, step: str) -> datetime | None:
    """Count a failed password or code; returns when the lock ends if this failure started one."""
    now = timezone.now()
    ip = client_ip(request)
    LoginAttempt.objects.create(key=key, ip=ip, succeeded=False, created_at=now)
    LoginAttempt.objects.filter(created_at__lt=now - max(window(), ATTEMPT_RETENTION)).delete()
    actor = _anonymous(request)
    summary = user.get_username() if user is not None else "unknown account"
    audit(actor, "account.login_failed", obj=user, summary=summary, data={"step": step})
    until = locked_until(key, ip, now)
    if until is not None:
        scope = "account" if locked_until(key, None, now) else "ip"
        audit(
            actor,
            "account.lockout",
            obj=user,
            summary=summary,
            data={"scope": scope, "until": until.isoformat(), "step": step},
        )
    return until


def attempt_password_login(request: HttpRequest, identifier: str, password: str) -> LoginResult:
    """Check name and password, unless locked; sign in, or ask for the code next."""
    user = find_user(identifier)
    key = account_key(user, identifier)
    until = locked_until(key, client_ip(request))
    if until is not None:
        return LoginResult(locked_until=until)
    # For unknown names this still runs the password hasher: the answer takes as long.
    username = user.get_username() if user is not None else identifier
    authenticated = authenticate(request, username=username, password=password)
    if not isinstance(authenticated, User):
        return LoginResult(failed=True, locked_until=_record_failure(request, key, user, "password"))
    if TOTPDevice.objects.filter(user=authenticated).exists():
        # Not signed in yet: the session only remembers who still has to give a code.
        request.session[PENDING_LOGIN] = {
            "user": authenticated.pk,
            "backend": authenticated.backend,  # type: ignore[attr-defined]
            "at": timezone.now().timestamp(),
        }
        return LoginResult(user=authenticated, needs_code=True)
    do_login(request, authenticated, method="password", backend=authenticated.backend)  # type: ignore[attr-defined]
    return LoginResult(user=authenticated)


def pending_login_user(request: HttpRequest) -> User | None:
    """Who gave the right password in this session and still owes the code (10 minutes)."""
    pending = request.session.get(PENDING_LOGIN)
    if not pending:
        return None
    if timezone.now().timestamp() - pending["at"] > PENDING_LOGIN_SECONDS:
        del request.session[PENDING_LOGIN]
        return None
    return User.objects.filter(pk=pending["user"], is_active=True).first()


def use_second_factor(actor: Actor, user: User, code: str) -> str | None:
    """Accept an authenticator code (each only once) or an unused recovery code.

    Returns "totp" or "recovery", or None when the code is wrong, reused or there is no device.
    """
    device = TOTPDevice.objects.filter(user=user).first()
    if device is None:
        return None
    if twofactor.is_totp_code(code):
        step = twofactor.matching_step(device.secret, code, after_step=device.last_used_step)
        # Conditional update: two requests with the same code cannot both win.
        if step is not None and TOTPDevice.objects.filter(pk=device.pk, last_used_step__lt=step).update(
            last_used_step=step
        ):
            return "totp"
        return None
    used = RecoveryCode.objects.filter(
        user=user, code_hash=twofactor.hash_recovery_code(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    if not used:
        return None
    remaining = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
    audit(actor, "account.recovery_code_used", obj=user, data={"remaining": remaining})
    return "recovery"


def attempt_code_login(request: HttpRequest, code: str) -> LoginResult:
    """The second step: the code for the account whose password was right."""
    user = pending_login_user(request)
    if user is None:
        return LoginResult(failed=True)
    key = account_key(user)
    until = locked_until(key, client_ip(request))
    if until is not None:
        request.session.pop(PENDING_LOGIN, None)
        return LoginResult(locked_until=until)
    method = use_second_factor(_actor_as(Actor.from_request(request), user), user, code)
    if method is None:
        until = _record_failure(request, key, user, "code")
        if until is not None:
            request.session.pop(PENDING_LOGIN, None)
        return LoginResult(user=user, failed=True, locked_until=until)
    backend = request.session[PENDING_LOGIN]["backend"]
    do_login(request, user, method=method, backend=backend)
    return LoginResult(user=user)


def do_login(request: HttpRequest, user: User, *, method: str, backend: str | None = None) -> None:
    LoginAttempt.objects.create(key=account_key(user), ip=client_ip(request), succeeded=True)
    auth_login(request, user, backend=backend)
    request.session.pop(PENDING_LOGIN, None)
    track_session(request, force=True)
    audit(Actor.from_request(request), "account.login", obj=user, data={"method": method})


def do_logout(request: HttpRequest) -> None:
    if request.user.is_authenticated and request.session.session_key:
        audit(Actor.from_request(request), "account.logout", obj=request.user)
        UserSession.objects.filter(key_hash=sha256(request.session.session_key)).delete()
    auth_logout(request)


# --- passwords ------------------------------------------------------------------------------


def check_password_throttled(request: HttpRequest, user: User, password: str) -> datetime | bool:
    """Confirm a signed-in user's password (before disabling 2FA and the like).

    Counts towards the log-in lock, so a borrowed session cannot guess the password. Returns
    True when right, False when wrong, or when the lock ends.
    """
    key = account_key(user)
    until = locked_until(key, client_ip(request))
    if until is not None:
        return until
    if user.check_password(password):
        return True
    return _record_failure(request, key, user, "password_confirmation") or False


@transaction.atomic
def do_change_password(request: HttpRequest, user: User, password: str) -> int:
    """Set a new password, keep this session, end the others; returns how many were ended."""
    user.set_password(password)
    user.save(update_fields=["password"])
    update_session_auth_hash(request, user)  # gives this session a new key
    track_session(request, force=True)
    ended = _end_sessions(user, keep_hash=_current_hash(request))
    audit(
        Actor.from_request(request),
        "account.password_change",
        obj=user,
        data={"sessions_ended": ended},
    )
    return ended


@transaction.atomic
def do_reset_password(actor: Actor, user: User, password: str) -> int:
    """A new password from a reset link: every session of the account ends."""
    user.set_password(password)
    user.save(update_fields=["password"])
    ended = _end_sessions(user)
    audit(_actor_as(actor, user), "account.password_reset", obj=user, data={"sessions_ended": ended})
    return ended


# --- two-factor -----------------------------------------------------------------------------


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = twofactor.new_recovery_codes()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=twofactor.hash_recovery_code(code)) for code in codes
    )
    return codes


@transaction.atomic
def do_enable_two_factor(actor: Actor, user: User, *, secret: str, step: int) -> list[str]:
    """Store the confirmed authenticator (`step`: the confirming code's, not usable again).

    Returns the recovery codes: the only time they exist in plain text.
    """
    TOTPDevice.objects.update_or_create(
        user=user,
        defaults={
            "secret_encrypted": encrypt(secret),
            "last_used_step": step,
            "created_at": timezone.now(),
        },
    )
    codes = _new_recovery_codes(user)
    audit(actor, "account.two_factor_enable", obj=user)
    return codes


@transaction.atomic
def do_disable_two_factor(actor: Actor, user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    audit(actor, "account.two_factor_disable", obj=user)


@transaction.atomic
def do_regenerate_recovery_codes(actor: Actor, user: User) -> list[str]:
    codes = _new_recovery_codes(user)
    audit(actor, "account.recovery_codes_regenerate", obj=user)
    return codes


# --- sessions -------------------------------------------------------------------------------


def _session_store() -> type[SessionBase]:
    store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
    return store


def _current_hash(request: HttpRequest) -> str:
    return sha256(request.session.session_key or "")


def track_session(request: HttpRequest, *, force: bool = False) -> None:
    """Keep this signed-in session's row up to date (at most once a minute unless forced).

    Also reads the saved language into the session, where the middleware finds it without a
    query. A session whose key changed (password change) keeps its row.
    """
    session = request.session
    key = session.session_key
    if not key or not request.user.is_authenticated:
        return
    state: dict[str, Any] = session.get(SESSION_STATE) or {}
    now = timezone.now()
    key_hash = sha256(key)
    if not force and state.get("hash") == key_hash and now.timestamp() - state.get("seen", 0) < TOUCH_SECONDS:
        return
    user = request.user
    details = {
        "ip": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
        "last_seen_at": now,
    }
    moved = 0
    if state.get("row") and state.get("hash") != key_hash:
        moved = UserSession.objects.filter(pk=state["row"], user=user).update(
            key_hash=key_hash, key_encrypted=encrypt(key), **details
        )
    if moved:
        row_id = state["row"]
    else:
        row, created = UserSession.objects.get_or_create(
            key_hash=key_hash,
            defaults={"user": user, "key_encrypted": encrypt(key), "created_at": now, **details},
        )
        if row.user_id != user.pk:
            return
        if not created:
            UserSession.objects.filter(pk=row.pk).update(**details)
        row_id = row.pk
    language = Profile.objects.filter(user=user).values_list("language", flat=True).first() or ""
    session[SESSION_STATE] = {
        "row": row_id,
        "hash": key_hash,
        "seen": now.timestamp(),
        "lang": language,
    }


def _is_alive(row: UserSession, user: User) -> bool:
    try:
        data = _session_store()(session_key=row.session_key).load()
    except ImproperlyConfigured:  # encrypted with a key that is gone: cannot be checked
        return False
    return data.get(SESSION_KEY) == str(user.pk) and constant_time_compare(
        data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
    )


def active_sessions(user: User) -> list[UserSession]:
    """The user's sessions that can still be used; rows of ended or expired ones are removed."""
    alive: list[UserSession] = []
    gone: list[UserSession] = []
    for row in UserSession.objects.filter(user=user):
        (alive if _is_alive(row, user) else gone).append(row)
    UserSession.objects.filter(pk__in=[row.pk for row in gone]).delete()
    return alive


def current_session_hash(request: HttpRequest) -> str:
    return _current_hash(request)


def _end_session(row: UserSession) -> None:
    with contextlib.suppress(ImproperlyConfigured):  # encrypted with a key that is gone
        _session_store()().delete(row.session_key)
    row.delete()


def _end_sessions(user: User, keep_hash: str | None = None) -> int:
    rows = UserSession.objects.filter(user=user)
    if keep_hash is not None:
        rows = rows.exclude(key_hash=keep_hash)
    ended = 0
    for row in rows:
        _end_session(row)
        ended += 1
    # Sessions that were never tracked (signed in before this feature) end with the password
    # hash check; nothing else to do for them.
    return ended


@transaction.atomic
def do_revoke_session(actor: Actor, user: User, row: UserSession) -> None:
    if row.user_id != user.pk:
        raise ValueError("session belongs to another user")
    device = row.device
    _end_session(row)
    audit(actor, "account.session_revoke", obj=user, summary=device)


@transaction.atomic
def do_revoke_other_sessions(actor: Actor, user: User, request: HttpRequest) -> int:
    ended = _end_sessions(user, keep_hash=_current_hash(request))
    audit(actor, "account.sessions_revoke_others", obj=user, data={"sessions_ended": ended})
    return ended
