"""Creating a workspace (core:workspace_create): the creator becomes its owner."""

from __future__ import annotations

from django.urls import reverse

from stammtisch.core.models import AuditEvent, Membership, Workspace
from stammtisch.core.roles import Role
from stammtisch.core.tests.clients import english_client


def test_it_makes_the_creator_the_owner(cast) -> None:
    response = english_client(cast.bob).post(
        reverse("core:workspace_create"),
        {"name": "Besenwirtschaft Bob", "time_zone": "Europe/Berlin", "language": "de"},
    )
    workspace = Workspace.objects.get(name="Besenwirtschaft Bob")
    assert response.status_code == 302
    assert Membership.objects.get(workspace=workspace, user=cast.bob).role == Role.OWNER
    assert AuditEvent.objects.filter(workspace=workspace, action="workspace.create", actor=cast.bob).exists()


def test_it_shows_errors_for_an_empty_name(cast) -> None:
    response = english_client(cast.bob).post(
        reverse("core:workspace_create"),
        {"name": "  ", "time_zone": "Nowhere/Else", "language": "de"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "time_zone"}


def test_the_workspace_switcher_goes_to_a_workspace_of_the_member_only(cast) -> None:
    from conftest import client_for

    client = client_for(cast.alice)
    assert client.get("/?w=cafe-koenigsbau")["Location"] == "/w/cafe-koenigsbau/"
    assert client.get("/?w=new")["Location"] == "/w/new/"
    # charlie's workspace is not alice's: she lands in her own.
    assert client.get("/?w=charlies-chili")["Location"] == "/w/cafe-koenigsbau/"
