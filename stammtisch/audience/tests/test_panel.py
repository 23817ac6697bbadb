"""The person beside the inbox conversation: bob opens a conversation and sees who wrote it, their
stage, score and explanation, tags, last interactions on every channel and open feedback; a saved
reply greets them by the name the team keeps for them."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stammtisch.audience import actions, consume
from stammtisch.audience.models import Person
from stammtisch.audience.tests.conftest import interaction, message
from stammtisch.core.actions import Actor
from stammtisch.inbox.models import Conversation, SavedReply
from stammtisch.networks.models import Channel

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _page(user, conversation: Conversation) -> str:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    url = reverse("inbox:conversation", args=[conversation.workspace.slug, conversation.pk])
    response = client.get(url, HTTP_HX_REQUEST="true", **EN)
    assert response.status_code == 200
    return response.content.decode()


def test_bob_sees_the_person_beside_the_conversation(cast, channel) -> None:
    now = timezone.now()
    other = Channel.objects.create(
        workspace=cast.workspace, network="mastodon", handle="cafe", display_name="Café auf Mastodon"
    )
    message(channel, text="Habt ihr sonntags offen?", intent="question", at=now, root="post-1")
    message(channel, text="Lecker!", at=now, root="post-2")
    interaction(channel, "share", at=now)
    consume.consume(now)
    person = Person.objects.get()
    actions.do_update_person(
        Actor(user=cast.bob),
        person,
        display_name="Maximilian Huber",
        email="",
        language="de",
        consent="unknown",
        notes="",
        tags=["Stammgast"],
    )
    SavedReply.objects.create(workspace=cast.workspace, title="Hallo", text="Hallo {first_name}!")
    conversation = Conversation.objects.get(root_remote_id="post-2")

    html = _page(cast.bob, conversation)
    assert "data-person-panel" in html
    assert reverse("audience:person", args=[cast.workspace.slug, person.pk]) in html
    assert "Maximilian Huber" in html and "Stammgast" in html and "Engaged" in html
    assert "commented 2 times, 1 share in the last 30 days." in html
    assert "1 question or complaint without an answer" in html
    question = Conversation.objects.get(root_remote_id="post-1")
    assert reverse("inbox:conversation", args=[cast.workspace.slug, question.pk]) in html  # their other thread
    assert 'data-text="Hallo Maximilian!"' in html  # the name the team keeps, not "Max Mustermann"
    assert other  # a channel of another network: the panel lists networks of identities only

    stranger = message(channel, author_id="u-new", handle="neu", name="Neu", root="post-3", at=now)
    html = _page(cast.carol, stranger.conversation)  # not read by the audience job yet
    assert "This person is not in the people list yet" in html
    assert 'data-text="Hallo Neu!"' not in html  # carol may not answer: no reply form


def test_an_erased_person_has_no_panel(cast, channel) -> None:
    message(channel, root="post-1")
    consume.consume(timezone.now())
    person = Person.objects.get()
    actions.do_erase_person(Actor(user=cast.alice), person)
    html = _page(cast.bob, Conversation.objects.get())
    assert reverse("audience:person", args=[cast.workspace.slug, person.pk]) not in html
    assert "Max Mustermann" not in html
