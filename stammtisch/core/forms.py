from __future__ import annotations

import zoneinfo
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from stammtisch.core.models import Workspace
from stammtisch.core.roles import Role

# Logos are small: the smaller of 2 MB and the general upload limit.
LOGO_MAX_MB = 2
LOGO_MAX_PIXELS = 4000
# Pillow's name of the format -> the file suffix we store (SVG is refused: it can carry scripts).
LOGO_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}


def logo_max_bytes() -> int:
    return min(LOGO_MAX_MB, settings.MAX_UPLOAD_MB) * 1024 * 1024


def time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc/"))
    return [(z, z.replace("_", " ")) for z in zones]


class WorkspaceCreateForm(forms.Form):
    name = forms.CharField(label=_("Name of the brand or company"), max_length=100)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices, initial="Europe/Berlin")
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Please give the workspace a name."))
        return name


class LogoField(forms.ImageField):
    """An image field that refuses oversized files before Pillow reads them."""

    def to_python(self, data: Any) -> Any:
        if data is not None and getattr(data, "size", 0) > logo_max_bytes():
            raise forms.ValidationError(
                _("The logo is too large: at most %(mb)s MB, please."),
                code="too_large",
                params={"mb": min(LOGO_MAX_MB, settings.MAX_UPLOAD_MB)},
            )
        return super().to_python(data)


class WorkspaceSettingsForm(forms.Form):
    """Settings of a workspace. A plain form, so an invalid post never touches the workspace."""

    name = forms.CharField(label=_("Name of the brand or company"), max_length=100)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        help_text=_("The calendar, schedules, reports and the audit log use this time zone."),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        help_text=_("The language of e-mails sent for this workspace, such as invitations."),
    )
    logo = LogoField(
        label=_("Logo"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        error_messages={
            "invalid_image": _("This file is not an image we can read. Please upload a PNG, JPEG, GIF or WebP.")
        },
    )
    remove_logo = forms.BooleanField(label=_("Remove the current logo"), required=False)

    def __init__(self, *args: Any, workspace: Workspace, read_only: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "name": workspace.name,
                "time_zone": workspace.time_zone,
                "language": workspace.language,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["logo"].help_text = _("PNG, JPEG, GIF or WebP, at most %(mb)s MB.") % {
            "mb": min(LOGO_MAX_MB, settings.MAX_UPLOAD_MB)
        }
        if not workspace.logo:
            del self.fields["remove_logo"]
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    def clean_logo(self) -> UploadedFile | None:
        logo = self.cleaned_data.get("logo")
        if not logo:
            return None
        image = getattr(logo, "image", None)
        suffix = LOGO_FORMATS.get(getattr(image, "format", None) or "")
        if image is None or suffix is None:
            raise forms.ValidationError(_("Please upload a PNG, JPEG, GIF or WebP image."))
        width, height = image.size
        if width > LOGO_MAX_PIXELS or height > LOGO_MAX_PIXELS:
            raise forms.ValidationError(
                _("The logo is too large: at most %(px)s by %(px)s pixels, please."),
                params={"px": LOGO_MAX_PIXELS},
            )
        logo.name = f"logo.{suffix}"  # the stored name follows the content, not the uploaded name
        return logo


def role_choices(can_own: bool) -> list[tuple[str, str]]:
    """Roles an actor may hand out: only owners may make owners."""
    return [(value, str(label)) for value, label in Role.choices if can_own or value != Role.OWNER]


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), initial=Role.EDITOR)

    def __init__(self, *args: Any, can_own: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = role_choices(can_own)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))

    def __init__(self, *args: Any, can_own: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = role_choices(can_own)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.TypedChoiceField(label=_("Member"), required=False, coerce=int, empty_value=None)

    def __init__(
        self,
        *args: Any,
        actions: list[tuple[str, str]],
        actors: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["action"]).choices = [("", _("All actions")), *actions]
        cast(forms.ChoiceField, self.fields["actor"]).choices = [("", _("All members")), *actors]
