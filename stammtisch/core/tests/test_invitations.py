"""Invitations by expiring link (core:invite, core:invitation_revoke, core:invitation_resend,
core:invitation_accept). Only the token's hash is stored."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from stammtisch.core.actions import ActionError, Actor, do_accept_invitation, do_invite
from stammtisch.core.models import AuditEvent, Invitation, Membership, hash_token
from stammtisch.core.roles import Role
from stammtisch.core.tests.clients import english_client

LINK = re.compile(r"https?://\S+/invite/(?P<token>[\w-]+)/")


def invite(cast, email: str = "gina@example.org", role: str = Role.EDITOR, user=None):
    client = english_client(user or cast.adam)
    return client.post(
        reverse("core:invite", kwargs={"slug": cast.workspace.slug}),
        {"email": email, "role": role},
        follow=True,
    )


def token_from(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match["token"]


def test_it_invites_by_mail_and_a_new_user_accepts(cast, mailoutbox, settings) -> None:
    settings.BASE_URL = "https://stammtisch.example.org"
    response = invite(cast, "gina@example.org", Role.REVIEWER)
    assert "Invitation sent to gina@example.org" in response.content.decode()

    [message] = mailoutbox
    assert message.to == ["gina@example.org"]
    assert "Café Königsbau" in message.subject
    assert "https://stammtisch.example.org/invite/" in message.body
    token = token_from(message)
    invitation = Invitation.objects.get(email="gina@example.org")
    assert invitation.token_hash == hash_token(token)
    assert token not in str(Invitation.objects.values().get(pk=invitation.pk))  # only the hash is kept
    assert invitation.expires_at == pytest.approx(
        timezone.now() + dt.timedelta(days=settings.INVITATION_DAYS), abs=dt.timedelta(minutes=1)
    )

    url = reverse("core:invitation_accept", kwargs={"token": token})
    anonymous = english_client().get(url)
    assert anonymous.status_code == 200
    page = anonymous.content.decode()
    assert 'data-invitation-state="anonymous"' in page
    assert "Log in" in page
    assert f"{reverse('accounts:login')}?next=%2Finvite%2F{token}%2F" in page

    gina = User.objects.create_user("gina", "gina@example.org", "a long enough password")
    client = english_client(gina)
    offer = client.get(url)
    assert 'data-invitation-state="open"' in offer.content.decode()
    assert "Reviewer" in offer.content.decode()
    accepted = client.post(url)
    assert accepted.status_code == 302
    assert accepted["Location"] == reverse("core:workspace_home", kwargs={"slug": cast.workspace.slug})
    assert Membership.objects.get(workspace=cast.workspace, user=gina).role == Role.REVIEWER
    invitation.refresh_from_db()
    assert invitation.accepted_by == gina
    assert AuditEvent.objects.filter(action="invitation.accept", actor=gina).exists()

    used = english_client(cast.charlie).get(url)
    assert used.status_code == 410
    assert "This invitation has already been used" in used.content.decode()


def test_it_sends_the_link_in_the_workspace_language(cast, mailoutbox) -> None:
    cast.workspace.language = "en"
    cast.workspace.save()
    invite(cast)
    assert "Accept the invitation here:" in mailoutbox[0].body


def test_it_says_plainly_that_an_invitation_has_expired(cast, mailoutbox, settings) -> None:
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        invite(cast)
    token = token_from(mailoutbox[0])
    url = reverse("core:invitation_accept", kwargs={"token": token})
    gina = User.objects.create_user("gina", "gina@example.org", "a long enough password")

    with time_machine.travel(
        dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC) + dt.timedelta(days=settings.INVITATION_DAYS, seconds=1)
    ):
        for client in (english_client(), english_client(gina)):
            response = client.get(url)
            assert response.status_code == 410
            page = response.content.decode()
            assert 'data-invitation-state="expired"' in page
            assert "This invitation has expired" in page
            assert "Ask Adam for a new one." in page
        assert english_client(gina).post(url).status_code == 410
    assert not Membership.objects.filter(user=gina).exists()


def test_it_says_plainly_that_an_invitation_was_revoked(cast, mailoutbox) -> None:
    invite(cast)
    invitation = Invitation.objects.get()
    response = english_client(cast.alice).post(
        reverse(
            "core:invitation_revoke",
            kwargs={"slug": cast.workspace.slug, "invitation_id": invitation.pk},
        ),
        follow=True,
    )
    assert "its link no longer works" in response.content.decode()
    assert AuditEvent.objects.filter(action="invitation.revoke", actor=cast.alice).exists()

    page = english_client().get(reverse("core:invitation_accept", kwargs={"token": token_from(mailoutbox[0])}))
    assert page.status_code == 410
    assert "This invitation was revoked" in page.content.decode()


def test_it_explains_a_link_that_never_existed(cast) -> None:
    response = english_client().get(reverse("core:invitation_accept", kwargs={"token": "not-a-token"}))
    assert response.status_code == 404
    assert 'data-invitation-state="unknown"' in response.content.decode()
    assert "This invitation link does not work" in response.content.decode()


def test_it_resends_with_a_new_link_and_the_old_one_stops_working(cast, mailoutbox) -> None:
    invite(cast)
    old_token = token_from(mailoutbox[0])
    invitation = Invitation.objects.get()
    english_client(cast.adam).post(
        reverse(
            "core:invitation_resend",
            kwargs={"slug": cast.workspace.slug, "invitation_id": invitation.pk},
        )
    )
    assert len(mailoutbox) == 2
    new_token = token_from(mailoutbox[1])
    assert new_token != old_token
    assert english_client().get(reverse("core:invitation_accept", kwargs={"token": old_token})).status_code == 404
    assert english_client().get(reverse("core:invitation_accept", kwargs={"token": new_token})).status_code == 200
    assert AuditEvent.objects.filter(action="invitation.resend").count() == 1


def test_it_lists_open_invitations_for_admins(cast) -> None:
    invite(cast, "gina@example.org")
    invite(cast, "hans@example.org", Role.ANALYST)
    Invitation.objects.filter(email="hans@example.org").update(revoked_at=timezone.now())
    page = english_client(cast.alice).get(reverse("core:members", kwargs={"slug": cast.workspace.slug}))
    text = page.content.decode()
    assert "gina@example.org" in text
    assert "hans@example.org" not in text


def test_it_tells_a_member_they_are_already_in(cast, mailoutbox) -> None:
    invite(cast, "someone@example.org")
    url = reverse("core:invitation_accept", kwargs={"token": token_from(mailoutbox[0])})
    client = english_client(cast.bob)
    page = client.get(url)
    assert 'data-invitation-state="member"' in page.content.decode()
    assert "You are already a member of Café Königsbau (as Editor)" in page.content.decode()
    client.post(url)
    assert Membership.objects.get(workspace=cast.workspace, user=cast.bob).role == Role.EDITOR
    with pytest.raises(ActionError, match="already a member"):
        do_accept_invitation(Actor(user=cast.bob), Invitation.objects.get())


def test_it_refuses_to_invite_an_existing_member(cast, mailoutbox) -> None:
    response = invite(cast, "BOB@example.org")
    assert response.status_code == 200
    assert "BOB@example.org is already a member" in response.content.decode()
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_it_lets_only_owners_invite_owners(cast) -> None:
    response = invite(cast, "gina@example.org", Role.OWNER, user=cast.adam)
    assert response.status_code == 200
    assert "role" in response.context["form"].errors
    with pytest.raises(ActionError, match="Only an owner"):
        do_invite(Actor(user=cast.adam), cast.workspace, email="gina@example.org", role=Role.OWNER)
    invite(cast, "gina@example.org", Role.OWNER, user=cast.alice)
    assert Invitation.objects.get().role == Role.OWNER


def test_it_replaces_an_open_invitation_to_the_same_address(cast, mailoutbox) -> None:
    invite(cast, "gina@example.org", Role.ANALYST)
    invite(cast, "gina@example.org", Role.EDITOR)
    assert [i.status for i in Invitation.objects.order_by("created_at", "pk")] == [
        "revoked",
        "open",
    ]
    page = english_client().get(reverse("core:invitation_accept", kwargs={"token": token_from(mailoutbox[0])}))
    assert page.status_code == 410


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not an address", "role": Role.EDITOR}, "email"),
        ({"email": "a@example.org", "role": "king"}, "role"),
    ],
)
def test_it_shows_field_errors_for_a_bad_invitation(cast, data, field) -> None:
    response = english_client(cast.adam).post(reverse("core:invite", kwargs={"slug": cast.workspace.slug}), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert b'class="error"' in response.content


def test_it_does_not_let_an_editor_invite(cast) -> None:
    response = english_client(cast.bob).post(
        reverse("core:invite", kwargs={"slug": cast.workspace.slug}),
        {"email": "x@example.org", "role": "editor"},
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_it_still_shows_the_link_when_the_mail_cannot_be_sent(cast, settings, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr("stammtisch.core.actions.send_mail", broken)
    response = invite(cast)
    text = response.content.decode()
    assert "could not be sent" in text
    assert LINK.search(text.replace("&amp;", "&"))
    assert Invitation.objects.get().status == "open"
