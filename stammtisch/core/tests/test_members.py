"""Members: roles, removal and leaving (core:members, core:member_role, core:member_remove,
core:leave). A workspace always keeps at least one owner."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from stammtisch.core.actions import ActionError, Actor, do_change_role, do_leave_workspace
from stammtisch.core.models import AuditEvent, Membership
from stammtisch.core.roles import Role
from stammtisch.core.tests.clients import english_client


def membership(cast, user) -> Membership:
    return Membership.objects.get(workspace=cast.workspace, user=user)


def role_url(cast, user) -> str:
    return reverse(
        "core:member_role",
        kwargs={"slug": cast.workspace.slug, "membership_id": membership(cast, user).pk},
    )


def remove_url(cast, user) -> str:
    return reverse(
        "core:member_remove",
        kwargs={"slug": cast.workspace.slug, "membership_id": membership(cast, user).pk},
    )


def change_role(client, cast, user, role: str):
    prefix = f"m{membership(cast, user).pk}"
    return client.post(role_url(cast, user), {f"{prefix}-role": role}, follow=True)


def test_it_lists_members_with_roles_and_what_each_role_may_do(cast) -> None:
    page = english_client(cast.bob).get(reverse("core:members", kwargs={"slug": cast.workspace.slug}))
    assert page.status_code == 200
    text = page.content.decode()
    for name in ["Alice", "Adam", "Bob", "Anna", "Carol"]:
        assert name in text
    assert "Reads everything, changes nothing." in text
    # E-mail addresses and the invitation list are for those who manage members.
    assert "alice@example.org" not in text
    assert "Open invitations" not in text


def test_it_lets_an_admin_change_a_role(cast) -> None:
    client = english_client(cast.adam, REMOTE_ADDR="198.51.100.4")
    response = change_role(client, cast, cast.bob, Role.ANALYST)
    assert "Bob is now Analyst." in response.content.decode()
    assert membership(cast, cast.bob).role == Role.ANALYST
    event = AuditEvent.objects.get(action="member.role_change")
    assert event.data == {"user": "bob", "from": "editor", "to": "analyst"}
    assert event.ip == "198.51.100.4"


def test_it_lets_only_an_owner_make_an_owner(cast) -> None:
    response = change_role(english_client(cast.adam), cast, cast.bob, Role.OWNER)
    assert membership(cast, cast.bob).role == Role.EDITOR
    assert "Please choose one of the roles." in response.content.decode()  # not even offered

    with pytest.raises(ActionError, match="Only an owner"):
        do_change_role(Actor(user=cast.adam), membership(cast, cast.bob), Role.OWNER)

    change_role(english_client(cast.alice), cast, cast.bob, Role.OWNER)
    assert membership(cast, cast.bob).role == Role.OWNER


def test_it_keeps_admins_away_from_owners(cast) -> None:
    response = change_role(english_client(cast.adam), cast, cast.alice, Role.EDITOR)
    assert membership(cast, cast.alice).role == Role.OWNER
    assert response.status_code == 200
    english_client(cast.adam).post(remove_url(cast, cast.alice))
    assert membership(cast, cast.alice).role == Role.OWNER


def test_it_never_demotes_the_last_owner(cast) -> None:
    with pytest.raises(ActionError, match="last owner"):
        do_change_role(Actor(user=cast.alice), membership(cast, cast.alice), Role.ADMIN)
    assert membership(cast, cast.alice).role == Role.OWNER
    assert not AuditEvent.objects.filter(action="member.role_change").exists()


def test_it_lets_an_owner_step_down_once_there_is_another_owner(cast) -> None:
    alice = english_client(cast.alice)
    change_role(alice, cast, cast.adam, Role.OWNER)
    do_change_role(Actor(user=cast.alice), membership(cast, cast.alice), Role.ADMIN)
    assert membership(cast, cast.alice).role == Role.ADMIN
    assert list(Membership.objects.filter(workspace=cast.workspace, role=Role.OWNER)) == [membership(cast, cast.adam)]


def test_it_never_removes_the_last_owner(cast) -> None:
    # A second owner exists only to try removing the other one... then there is one left.
    change_role(english_client(cast.alice), cast, cast.adam, Role.OWNER)
    english_client(cast.adam).post(remove_url(cast, cast.alice))
    assert not Membership.objects.filter(workspace=cast.workspace, user=cast.alice).exists()
    # adam is now the last owner: nobody can take that away, not even adam himself by leaving.
    response = english_client(cast.adam).post(reverse("core:leave", kwargs={"slug": cast.workspace.slug}), follow=True)
    assert "You are the last owner" in response.content.decode()
    assert membership(cast, cast.adam).role == Role.OWNER


def test_it_removes_a_member_after_confirmation(cast) -> None:
    client = english_client(cast.adam)
    confirm = client.get(remove_url(cast, cast.carol))
    assert confirm.status_code == 200
    assert "Remove Carol?" in confirm.content.decode()
    url = remove_url(cast, cast.carol)
    response = client.post(url)
    assert response.status_code == 302
    assert not Membership.objects.filter(workspace=cast.workspace, user=cast.carol).exists()
    assert AuditEvent.objects.get(action="member.remove").data == {
        "user": "carol",
        "role": "reviewer",
    }
    assert (
        english_client(cast.carol).get(reverse("core:members", kwargs={"slug": cast.workspace.slug})).status_code == 404
    )


def test_it_does_not_let_an_editor_manage_members(cast) -> None:
    bob = english_client(cast.bob)
    assert change_role(bob, cast, cast.anna, Role.ADMIN).redirect_chain == []
    assert bob.post(role_url(cast, cast.anna), {"role": Role.ADMIN}).status_code == 403
    assert bob.post(remove_url(cast, cast.anna)).status_code == 403
    assert bob.get(reverse("core:invite", kwargs={"slug": cast.workspace.slug})).status_code == 403
    assert membership(cast, cast.anna).role == Role.ANALYST
    with pytest.raises(PermissionDenied):
        do_change_role(Actor(user=cast.bob), membership(cast, cast.anna), Role.ADMIN)


def test_it_lets_a_member_leave(cast) -> None:
    client = english_client(cast.anna)
    url = reverse("core:leave", kwargs={"slug": cast.workspace.slug})
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")
    assert not Membership.objects.filter(workspace=cast.workspace, user=cast.anna).exists()
    assert AuditEvent.objects.get(action="member.leave").actor == cast.anna


def test_it_refuses_to_let_the_last_owner_leave(cast) -> None:
    with pytest.raises(ActionError):
        do_leave_workspace(Actor(user=cast.alice), cast.workspace)
    assert membership(cast, cast.alice).role == Role.OWNER


def test_it_refuses_a_role_that_does_not_exist(cast) -> None:
    response = change_role(english_client(cast.alice), cast, cast.bob, "emperor")
    assert response.status_code == 200
    assert "Please choose one of the roles." in response.content.decode()
    assert membership(cast, cast.bob).role == Role.EDITOR


def test_it_asks_you_to_leave_rather_than_remove_yourself(cast) -> None:
    response = english_client(cast.adam).post(remove_url(cast, cast.adam), follow=True)
    assert "Leave workspace" in response.content.decode()
    assert membership(cast, cast.adam).role == Role.ADMIN
