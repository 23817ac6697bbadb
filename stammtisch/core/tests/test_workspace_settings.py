"""Workspace settings: name, time zone, language and logo (core:settings, core:workspace_logo)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from stammtisch.core.models import AuditEvent, Workspace
from stammtisch.core.tests.clients import english_client


def png_file(name: str = "logo.png", size: tuple[int, int] = (32, 32)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (138, 59, 18)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def settings_url(workspace: Workspace) -> str:
    return reverse("core:settings", kwargs={"slug": workspace.slug})


def valid_post(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Café Königsbau",
        "time_zone": "Europe/Berlin",
        "language": "de",
    }
    data.update(overrides)
    return data


def test_it_saves_settings_and_records_who_changed_what_from_where(cast) -> None:
    client = english_client(cast.alice, REMOTE_ADDR="203.0.113.7")
    response = client.post(
        settings_url(cast.workspace),
        valid_post(name="Café Königsbau am Schlossplatz", time_zone="Europe/Vienna"),
    )
    assert response.status_code == 302
    cast.workspace.refresh_from_db()
    assert cast.workspace.name == "Café Königsbau am Schlossplatz"
    assert cast.workspace.time_zone == "Europe/Vienna"
    event = AuditEvent.objects.get(workspace=cast.workspace, action="workspace.update")
    assert event.actor == cast.alice
    assert event.ip == "203.0.113.7"
    assert event.data["changes"]["time_zone"] == ["Europe/Berlin", "Europe/Vienna"]


def test_it_lets_every_member_read_the_settings_but_not_change_them(cast) -> None:
    client = english_client(cast.anna)
    page = client.get(settings_url(cast.workspace))
    assert page.status_code == 200
    assert b"Owners and admins can change them" in page.content
    assert b'type="submit" class="primary"' not in page.content

    response = client.post(settings_url(cast.workspace), valid_post(name="Anna's Café"))
    assert response.status_code == 403
    cast.workspace.refresh_from_db()
    assert cast.workspace.name == "Café Königsbau"
    assert not AuditEvent.objects.filter(action="workspace.update").exists()


def test_it_hides_the_workspace_from_charlie(cast) -> None:
    client = english_client(cast.charlie)
    assert client.get(settings_url(cast.workspace)).status_code == 404
    assert client.post(settings_url(cast.workspace), valid_post(name="Mine now")).status_code == 404
    assert client.get(reverse("core:workspace_logo", kwargs={"slug": cast.workspace.slug})).status_code == 404


def test_it_lets_an_admin_change_the_settings(cast) -> None:
    response = english_client(cast.adam).post(settings_url(cast.workspace), valid_post(language="en"))
    assert response.status_code == 302
    cast.workspace.refresh_from_db()
    assert cast.workspace.language == "en"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (valid_post(name="   "), "name", "This field is required."),
        (valid_post(time_zone="Mars/Olympus_Mons"), "time_zone", "Select a valid choice."),
        (valid_post(language="tlh"), "language", "Select a valid choice."),
        (valid_post(name="x" * 101), "name", "at most 100 characters"),
    ],
)
def test_it_shows_field_errors_for_bad_input(cast, data, field, message) -> None:
    response = english_client(cast.alice).post(settings_url(cast.workspace), data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message.encode() in response.content or b'class="error"' in response.content
    cast.workspace.refresh_from_db()
    assert cast.workspace.name == "Café Königsbau"


def test_it_stores_a_logo_and_serves_it_to_members_only(cast) -> None:
    client = english_client(cast.alice)
    response = client.post(settings_url(cast.workspace), {**valid_post(), "logo": png_file("../../Logo 2026.GIF")})
    assert response.status_code == 302
    cast.workspace.refresh_from_db()
    # The stored name follows the content (a PNG), never the uploaded name.
    assert cast.workspace.logo.name.startswith(f"workspaces/{cast.workspace.pk}/logo-")
    assert cast.workspace.logo.name.endswith(".png")

    logo_url = reverse("core:workspace_logo", kwargs={"slug": cast.workspace.slug})
    served = english_client(cast.carol).get(logo_url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served.content.startswith(b"\x89PNG")
    assert english_client().get(logo_url).status_code == 302  # anonymous: off to log in
    assert AuditEvent.objects.get(action="workspace.update").data["changes"]["logo"] == [
        "",
        "uploaded",
    ]


def test_it_rejects_an_svg_logo(cast) -> None:
    svg = SimpleUploadedFile("logo.svg", b"<svg onload='alert(1)'></svg>", content_type="image/svg+xml")
    response = english_client(cast.alice).post(settings_url(cast.workspace), {**valid_post(), "logo": svg})
    assert response.status_code == 200
    assert "logo" in response.context["form"].errors


def test_it_rejects_a_logo_that_is_not_an_image(cast) -> None:
    fake = SimpleUploadedFile("logo.png", b"<svg onload='alert(1)'></svg>", content_type="image/png")
    response = english_client(cast.alice).post(settings_url(cast.workspace), {**valid_post(), "logo": fake})
    assert response.status_code == 200
    assert "logo" in response.context["form"].errors
    cast.workspace.refresh_from_db()
    assert not cast.workspace.logo


def test_it_rejects_a_logo_that_is_too_large(cast, settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("logo.png", b"\x89PNG" + b"0" * (1024 * 1024 + 1), content_type="image/png")
    response = english_client(cast.alice).post(settings_url(cast.workspace), {**valid_post(), "logo": big})
    assert response.status_code == 200
    assert "at most 1 MB" in " ".join(response.context["form"].errors["logo"])


def test_it_removes_the_logo_and_its_file(cast) -> None:
    client = english_client(cast.alice)
    client.post(settings_url(cast.workspace), {**valid_post(), "logo": png_file()})
    cast.workspace.refresh_from_db()
    storage, old_name = cast.workspace.logo.storage, cast.workspace.logo.name
    assert storage.exists(old_name)

    client.post(settings_url(cast.workspace), {**valid_post(), "remove_logo": "on"})
    cast.workspace.refresh_from_db()
    assert not cast.workspace.logo
    assert not storage.exists(old_name)
    placeholder = client.get(reverse("core:workspace_logo", kwargs={"slug": cast.workspace.slug}))
    assert placeholder["Content-Type"] == "image/svg+xml"
    assert b">C</text>" in placeholder.content


def test_it_says_so_when_nothing_changed(cast) -> None:
    response = english_client(cast.alice).post(settings_url(cast.workspace), valid_post(), follow=True)
    assert b"Nothing changed." in response.content
    assert not AuditEvent.objects.filter(action="workspace.update").exists()
