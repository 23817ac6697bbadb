"""Shared fixtures: the personas of every test story (STYLE.md §6).

alice owns "Café Königsbau"; adam is its admin, bob its editor, anna its analyst and carol a
client reviewer. charlie is an outsider with a workspace of his own: he must never see alice's.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.test import Client

from stammtisch.core.models import Membership, Workspace
from stammtisch.core.roles import Role

PASSWORD = "correct horse battery staple"


@dataclass
class Cast:
    alice: User
    adam: User
    bob: User
    anna: User
    carol: User
    charlie: User
    workspace: Workspace
    other_workspace: Workspace

    def by_role(self) -> dict[str, User]:
        return {
            Role.OWNER: self.alice,
            Role.ADMIN: self.adam,
            Role.EDITOR: self.bob,
            Role.ANALYST: self.anna,
            Role.REVIEWER: self.carol,
        }


def make_user(username: str) -> User:
    return User.objects.create_user(username, f"{username}@example.org", PASSWORD, first_name=username.title())


@pytest.fixture
def cast(db: None) -> Cast:
    workspace = Workspace.objects.create(name="Café Königsbau", slug="cafe-koenigsbau")
    other = Workspace.objects.create(name="Charlie's Chili", slug="charlies-chili")
    users = {name: make_user(name) for name in ["alice", "adam", "bob", "anna", "carol", "charlie"]}
    for name, role in [
        ("alice", Role.OWNER),
        ("adam", Role.ADMIN),
        ("bob", Role.EDITOR),
        ("anna", Role.ANALYST),
        ("carol", Role.REVIEWER),
    ]:
        Membership.objects.create(user=users[name], workspace=workspace, role=role)
    Membership.objects.create(user=users["charlie"], workspace=other, role=Role.OWNER)
    return Cast(workspace=workspace, other_workspace=other, **users)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(cast: Cast) -> Client:
    return client_for(cast.alice)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
