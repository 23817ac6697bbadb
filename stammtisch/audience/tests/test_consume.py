from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from stammtisch.audience import actions, consume
from stammtisch.audience.models import Engagement, Identity, Person, StageTransition
from stammtisch.audience.tests.conftest import NOW, answer, interaction, message
from stammtisch.core.actions import Actor


def test_it_makes_one_person_per_author_with_one_engagement_per_row(cast, channel) -> None:
    first = message(channel, text="Wann habt ihr offen?", intent="question")
    message(channel, text="Danke!", at=NOW + dt.timedelta(minutes=5))
    interaction(channel, "like")
    interaction(channel, "share")
    message(channel, author_id="u-eva", handle="eva", name="Eva")
    answer(channel, first)

    assert consume.consume(NOW) == 6
    assert consume.consume(NOW) == 0  # read again (the overlap window): nothing new

    max_ = Person.objects.get(identities__remote_id="u-max")
    assert Person.objects.count() == 2
    assert sorted(max_.engagements.values_list("kind", flat=True)) == [
        "answered",
        "comment",
        "comment",
        "like",
        "share",
    ]
    assert max_.counts == {"comment": 2, "like": 1, "share": 1, "answered": 1}
    assert max_.engagements.get(source="message", source_id=first.pk).answered
    assert max_.language == "de" and max_.display_name == "Max Mustermann"
    assert max_.last_seen == NOW + dt.timedelta(minutes=5)
    # The cursor was reset: reading everything again still counts every row once.
    consume.AudienceCursor.objects.update(message_id=0, interaction_id=0)
    assert consume.consume(NOW) == 0
    assert Engagement.objects.count() == 6
    assert Identity.objects.count() == 2


def test_it_resolves_a_batch_with_a_fixed_number_of_queries(cast, channel) -> None:
    consume.consume(NOW)  # creates the cursor
    for n in range(30):
        message(channel, author_id=f"u-{n}", handle=f"fan{n}", name=f"Fan {n}")
        interaction(channel, "like", author_id=f"u-{n}", handle=f"fan{n}")
    with CaptureQueriesContext(connection) as few:
        consume.consume(NOW)
    for n in range(30, 90):
        message(channel, author_id=f"u-{n}", handle=f"fan{n}", name=f"Fan {n}")
        interaction(channel, "like", author_id=f"u-{n}", handle=f"fan{n}")
    with CaptureQueriesContext(connection) as many:
        consume.consume(NOW)
    assert Person.objects.count() == 90
    # Twice the rows, no more queries (SQLite splits a large bulk insert by its parameter limit).
    assert len(many.captured_queries) <= len(few.captured_queries) + 3


def test_it_skips_our_own_account_and_authorless_rows(cast, channel) -> None:
    message(channel, author_id="acct-us", handle="koenigsbau")
    message(channel, author_id="", handle="")
    assert consume.consume(NOW) == 0
    assert not Person.objects.exists()


def test_a_handle_only_identity_gets_the_network_id_later(cast, channel) -> None:
    interaction(channel, "like", author_id="", handle="maxi")
    consume.consume(NOW)
    identity = Identity.objects.get()
    assert identity.remote_id == "@maxi"
    message(channel, author_id="u-max", handle="maxi")
    consume.consume(NOW)
    identity.refresh_from_db()
    assert identity.remote_id == "u-max"
    assert Person.objects.count() == 1


def test_an_offline_person_is_found_when_they_comment(cast, channel) -> None:
    person = actions.do_add_person(
        Actor.system(), cast.workspace, display_name="Max vom Stammtisch", network="sandbox", handle="@maxi"
    )
    message(channel, author_id="u-max", handle="maxi")
    consume.consume(NOW)
    assert Person.objects.count() == 1
    assert person.engagements.count() == 1


def test_people_of_two_workspaces_stay_apart(cast, channel) -> None:
    from stammtisch.networks.models import Channel

    other = Channel.objects.create(
        workspace=cast.other_workspace, network="sandbox", handle="chili", display_name="Chili", credentials={}
    )
    message(channel)
    message(other)
    consume.consume(NOW)
    assert Person.objects.filter(workspace=cast.workspace).count() == 1
    assert Person.objects.filter(workspace=cast.other_workspace).count() == 1


def test_it_records_the_first_stage(cast, channel) -> None:
    message(channel)
    consume.consume(NOW)
    assert list(StageTransition.objects.values_list("from_stage", "to_stage")) == [("", "new")]
