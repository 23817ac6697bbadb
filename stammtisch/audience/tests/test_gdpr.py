from __future__ import annotations

import datetime as dt
import io

from django.core.management import call_command

from stammtisch.audience import actions, consume, jobs
from stammtisch.audience.models import AudienceSettings, Engagement, Identity, Person, Suppression
from stammtisch.audience.tests.conftest import NOW, answer, interaction, message
from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent
from stammtisch.inbox.models import Conversation, Message, Reply


def _max(cast, channel) -> Person:
    first = message(channel, text="Habt ihr am Sonntag offen? Gruß, Max", intent="question")
    answer(channel, first)
    Reply.objects.create(
        workspace=cast.workspace,
        conversation=first.conversation,
        channel=channel,
        in_reply_to=first.remote_id,
        text="Hallo Max, ja!",
    )
    Conversation.objects.filter(pk=first.conversation_id).update(
        author_handle="maxi", author_name="Max Mustermann", excerpt=first.text
    )
    message(channel, kind="message", root="u-max", text="Privat: meine Nummer ist 0711 123")
    interaction(channel, "like")
    message(channel, author_id="u-eva", handle="eva", name="Eva", text="Super Kuchen")
    consume.consume(NOW)
    person = Person.objects.get(identities__handle="maxi")
    actions.set_tags(person, ["Stammgast"])
    person.notes = "Kommt sonntags"
    person.save()
    return person


def _dump() -> str:
    out = io.StringIO()
    call_command("dumpdata", "audience", "inbox", "core", stdout=out)
    return out.getvalue()


def test_the_export_holds_everything_about_the_person(cast, channel) -> None:
    person = _max(cast, channel)
    data = actions.do_export_person(Actor(user=cast.alice), person)
    assert data["person"]["name"] == "Max Mustermann"
    assert data["person"]["tags"] == ["Stammgast"] and data["person"]["notes"] == "Kommt sonntags"
    assert [(i["network"], i["id"], i["handle"]) for i in data["identities"]] == [("sandbox", "u-max", "maxi")]
    assert [m["text"] for m in data["messages"]] == [
        "Habt ihr am Sonntag offen? Gruß, Max",
        "Privat: meine Nummer ist 0711 123",
    ]
    assert [i["kind"] for i in data["interactions"]] == ["like"]
    assert sorted(e["kind"] for e in data["engagements"]) == ["answered", "comment", "like", "message"]
    assert "Super Kuchen" not in str(data)  # Eva's
    assert AuditEvent.objects.filter(action="person.export", object_id=str(person.pk)).count() == 1


def test_erasure_removes_the_handle_from_every_table(cast, channel) -> None:
    person = _max(cast, channel)
    assert "maxi" in _dump() and "0711 123" in _dump()

    assert actions.do_erase_person(Actor(user=cast.alice), person)

    dump = _dump()
    for trace in ("maxi", "u-max", "Mustermann", "0711 123", "Gruß, Max", "Hallo Max", "Stammgast", "sonntags"):
        assert trace not in dump, trace
    assert "Super Kuchen" in dump and "eva" in dump  # nobody else's data was touched
    assert Message.objects.filter(text="[erased]").count() == 3  # two of theirs, our answer
    person.refresh_from_db()
    assert person.is_erased and person.display_name == ""
    assert not Identity.objects.filter(person=person).exists()
    assert not Engagement.objects.filter(person=person).exists()
    assert AuditEvent.objects.filter(action="person.erase").count() == 1


def test_erasing_twice_is_harmless(cast, channel) -> None:
    person = _max(cast, channel)
    assert actions.do_erase_person(Actor(user=cast.alice), person)
    assert not actions.do_erase_person(Actor(user=cast.alice), person)
    assert AuditEvent.objects.filter(action="person.erase").count() == 1


def test_an_erased_person_is_not_created_again(cast, channel) -> None:
    person = _max(cast, channel)
    actions.do_erase_person(Actor(user=cast.alice), person)
    assert Suppression.objects.count() == 2  # by id and by handle
    assert not Suppression.objects.filter(hash__contains="maxi").exists()

    message(channel, text="Ich bin wieder da")
    interaction(channel, "like", author_id="", handle="maxi")
    consume.AudienceCursor.objects.update(message_id=0, interaction_id=0)  # even the old rows again
    consume.consume(NOW)
    assert not Identity.objects.filter(handle="maxi").exists()
    assert set(Person.objects.filter(erased_at__isnull=True).values_list("display_name", flat=True)) == {"Eva"}


def test_retention_erases_people_inactive_too_long(cast, channel) -> None:
    message(channel, at=NOW - dt.timedelta(days=250))
    message(channel, author_id="u-eva", handle="eva", name="Eva", at=NOW - dt.timedelta(days=20))
    consume.consume(NOW)
    AudienceSettings.objects.create(workspace=cast.workspace, retention_months=6)
    assert jobs.daily(NOW) == (0, 1)  # (stages were right already) one erased
    assert set(Person.objects.filter(erased_at__isnull=True).values_list("display_name", flat=True)) == {"Eva"}
    assert AuditEvent.objects.get(action="person.erase").actor_label == "retention"
