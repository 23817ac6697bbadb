"""`stammtisch createuser alice --email alice@example.org [--password ...] [--superuser]`.

Without --password it asks twice (on a terminal). Bad input: a line on stderr and exit code 2.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from stammtisch.accounts.actions import do_create_user, email_taken
from stammtisch.core.actions import Actor

BAD_INPUT = 2


def _fail(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_INPUT)


class Command(BaseCommand):
    help = "Create a user who can log in (optionally a superuser)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="E-mail address (unique; needed for password reset).")
        parser.add_argument("--password", help="The password; asked for on the terminal when left out.")
        parser.add_argument("--superuser", action="store_true", help="Give every permission.")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"].strip()
        email: str = options["email"].strip()
        password: str | None = options["password"]

        try:
            User.username_validator(username)
        except ValidationError as error:
            raise _fail(f"Username {username!r} is not valid: {' '.join(error.messages)}") from None
        if not username or User.objects.filter(username__iexact=username).exists():
            raise _fail(f"Username {username!r} is taken or empty.")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise _fail(f"E-mail address {email!r} is not valid.") from None
            if email_taken(email):
                raise _fail(f"E-mail address {email!r} is used by another account.")

        if password is None:
            password = self._ask_password()
        try:
            password_validation.validate_password(password, User(username=username, email=email))
        except ValidationError as error:
            raise _fail(f"Password not accepted: {' '.join(error.messages)}") from None

        user = do_create_user(
            Actor.system("createuser"),
            username=username,
            email=email,
            password=password,
            superuser=options["superuser"],
        )
        kind = "Superuser" if user.is_superuser else "User"
        self.stdout.write(self.style.SUCCESS(f"{kind} {user.get_username()} created."))

    def _ask_password(self) -> str:
        if not sys.stdin.isatty():
            raise _fail("No --password given and no terminal to ask for one.")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise _fail("The two passwords differ.")
        return first
