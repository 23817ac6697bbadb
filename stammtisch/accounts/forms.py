from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.contrib.auth.models import User
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from stammtisch.accounts.actions import email_taken


def _password_help() -> str:
    """The password rules as one plain sentence each (form_fields.html escapes HTML)."""
    return " ".join(str(v.get_help_text()) for v in password_validation.get_default_password_validators())


password_help = lazy(_password_help, str)()


def _password_field(label: Any, autocomplete: str = "current-password", **kwargs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
        **kwargs,
    )


class LoginForm(forms.Form):
    # Named "username" like Django's own form, so password managers recognise it.
    username = forms.CharField(
        label=_("Username or e-mail"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"}),
    )
    password = _password_field(_("Password"))


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("The 6-digit code from your authenticator app, or one of your recovery codes."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "inputmode": "text",
                "autocapitalize": "none",
            }
        ),
    )


def _clean_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise forms.ValidationError(_("Please tell us your name."))
    return name


class SignupForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True}),
    )
    email = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password1 = _password_field(_("Password"), "new-password", help_text=password_help)
    password2 = _password_field(_("Password again"), "new-password")

    def clean_name(self) -> str:
        return _clean_name(self.cleaned_data["name"])

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip()
        if email_taken(email):
            raise forms.ValidationError(
                _("An account with this e-mail address exists already. Log in, or reset the password.")
            )
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            candidate = User(first_name=cleaned.get("name", ""), email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(password1, candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class ProfileForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    current_password = _password_field(
        _("Current password"),
        required=False,
        help_text=_("Only needed to change the e-mail address."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        return _clean_name(self.cleaned_data["name"])

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip()
        if email_taken(email, exclude=self.user):
            raise forms.ValidationError(_("Another account uses this e-mail address."))
        return email

    @property
    def email_changed(self) -> bool:
        return bool(self.cleaned_data.get("email")) and self.cleaned_data["email"] != self.user.email


class PasswordConfirmForm(forms.Form):
    password = _password_field(_("Your password"))


class TwoFactorSetupForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the app"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class ResetPasswordForm(SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = password_help


class ChangePasswordForm(PasswordChangeForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = password_help
