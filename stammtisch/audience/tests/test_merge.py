from __future__ import annotations

import pytest

from stammtisch.audience import actions, consume, suggest
from stammtisch.audience.models import Engagement, Identity, Person
from stammtisch.audience.tests.conftest import NOW, interaction, message
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.models import Channel


@pytest.fixture
def mastodon(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace, network="mastodon", handle="cafe", display_name="Café (Mastodon)", credentials={}
    )


def _two_people(channel: Channel, mastodon: Channel) -> tuple[Person, Person]:
    message(channel, author_id="u-max", handle="maxi", name="Max", avatar="https://img.example/max.png")
    interaction(channel, "share", author_id="u-max", handle="maxi")
    message(mastodon, author_id="m-max", handle="maxi", name="Max", avatar="https://img.example/max.png")
    consume.consume(NOW)
    return (
        Person.objects.get(identities__network="sandbox"),
        Person.objects.get(identities__network="mastodon"),
    )


def test_it_suggests_people_with_one_handle_on_two_networks(cast, channel, mastodon) -> None:
    sandbox_max, mastodon_max = _two_people(channel, mastodon)
    found = suggest.suggestions(cast.workspace)
    assert {s.reason for s in found} == {"handle", "name_avatar"}
    assert all({p.pk for p in s.people} == {sandbox_max.pk, mastodon_max.pk} for s in found)


def test_bob_merges_two_people_and_splits_them_again(cast, channel, mastodon) -> None:
    sandbox_max, mastodon_max = _two_people(channel, mastodon)
    actions.set_tags(mastodon_max, ["Stammgast"])
    bob = Actor(user=cast.bob)

    other_id = mastodon_max.pk
    merged = actions.do_merge_people(bob, sandbox_max, mastodon_max)
    assert not Person.objects.filter(pk=other_id).exists()
    assert merged.identities.count() == 2
    assert merged.engagements.count() == 3
    assert merged.counts == {"comment": 2, "share": 1}
    assert [t.name for t in merged.tags.all()] == ["Stammgast"]
    entry = AuditEvent.objects.get(action="person.merge")
    assert entry.data["merged"] == other_id and entry.actor == cast.bob
    assert not suggest.suggestions(cast.workspace)

    identity = Identity.objects.get(network="mastodon")
    split = actions.do_split_person(bob, merged, [identity.pk])
    assert list(split.identities.all()) == [identity]
    assert split.engagements.count() == 1
    merged.refresh_from_db()
    assert merged.counts == {"comment": 1, "share": 1}
    assert AuditEvent.objects.filter(action="person.split", object_id=str(merged.pk)).exists()


def test_people_of_different_workspaces_cannot_be_merged(cast, channel) -> None:
    ours = Person.objects.create(workspace=cast.workspace, display_name="Max")
    theirs = Person.objects.create(workspace=cast.other_workspace, display_name="Max")
    with pytest.raises(ActionError):
        actions.do_merge_people(Actor(user=cast.alice), ours, theirs)
    with pytest.raises(ActionError):
        actions.do_merge_people(Actor(user=cast.charlie), theirs, ours)
    assert Person.objects.count() == 2


def test_a_split_keeps_one_identity_with_the_person(cast, channel) -> None:
    message(channel)
    consume.consume(NOW)
    person = Person.objects.get()
    with pytest.raises(ActionError):
        actions.do_split_person(Actor(user=cast.bob), person, [person.identities.get().pk])
    other = Person.objects.create(workspace=cast.workspace)
    foreign = Identity.objects.create(workspace=cast.workspace, person=other, network="x", remote_id="1")
    with pytest.raises(ActionError):
        actions.do_split_person(Actor(user=cast.bob), person, [foreign.pk])
    assert Engagement.objects.filter(person=person).count() == 1


def test_an_analyst_cannot_merge(cast, channel, mastodon) -> None:
    from django.core.exceptions import PermissionDenied

    sandbox_max, mastodon_max = _two_people(channel, mastodon)
    with pytest.raises(PermissionDenied):
        actions.do_merge_people(Actor(user=cast.anna), sandbox_max, mastodon_max)


def test_two_people_with_one_email_are_suggested_with_its_conversions(cast) -> None:
    from stammtisch.audience.models import ConversionContact
    from stammtisch.audience.privacy import email_hash
    from stammtisch.links import conversions

    bob = Actor(user=cast.bob)
    regular = actions.do_add_person(bob, cast.workspace, display_name="Eva Berger", email="eva@example.org")
    fair = actions.do_add_person(bob, cast.workspace, display_name="E. Berger", email=" EVA@example.org")
    actions.do_add_person(bob, cast.workspace, display_name="Someone", email="someone@example.org")
    actions.do_add_person(bob, cast.workspace, display_name="No mail")
    theirs = Person.objects.create(workspace=cast.other_workspace, display_name="Eva", email="eva@example.org")
    assert regular.email_hash == fair.email_hash == email_hash(cast.workspace.pk, "eva@example.org")
    assert theirs.email_hash != regular.email_hash  # hashes differ per workspace

    conversions.record(cast.workspace, kind="signup", source="server", email="Eva@Example.org")
    conversions.record(cast.other_workspace, kind="signup", source="server", email="eva@example.org")
    assert ConversionContact.objects.filter(workspace=cast.workspace).count() == 1

    found = [s for s in suggest.suggestions(cast.workspace) if s.reason == "email"]
    assert [({p.pk for p in s.people}, s.conversions) for s in found] == [({regular.pk, fair.pk}, 1)]
    assert not suggest.suggestions(cast.other_workspace)

    actions.do_update_person(
        bob,
        fair,
        display_name="E. Berger",
        email="e.berger@example.org",
        language="",
        consent="unknown",
        notes="",
        tags=[],
    )
    fair.refresh_from_db()
    assert fair.email_hash == email_hash(cast.workspace.pk, "e.berger@example.org")
    assert not [s for s in suggest.suggestions(cast.workspace) if s.reason == "email"]
