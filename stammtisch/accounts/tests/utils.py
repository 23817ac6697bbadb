from __future__ import annotations

from typing import Any

import pyotp
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD
from stammtisch.accounts import actions, twofactor
from stammtisch.core.actions import Actor

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def log_in(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(reverse("accounts:login"), {"username": username, "password": password}, **extra)


def enable_two_factor(user: User) -> tuple[pyotp.TOTP, list[str]]:
    """Two-factor on, as if set up a minute ago; returns the app's TOTP and the recovery codes."""
    secret = twofactor.new_secret()
    codes = actions.do_enable_two_factor(Actor.system("test"), user, secret=secret, step=0)
    return pyotp.TOTP(secret), codes


def signed_in_user(client: Client) -> int | None:
    user_id = client.session.get("_auth_user_id")
    return int(user_id) if user_id else None
