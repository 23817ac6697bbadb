"""The people list's free-text search (audience/search.py): names, e-mail addresses and handles
containing the text, through the trigram index of each database, kept up to date by every write."""

from __future__ import annotations

from django.db import connection

from stammtisch.audience import actions, consume, search
from stammtisch.audience.models import Identity, Person
from stammtisch.audience.tests.conftest import NOW, message
from stammtisch.core.actions import Actor
from stammtisch.core.tests.clients import english_client


def found(cast, text: str) -> set[str]:
    rows = Person.objects.filter(workspace=cast.workspace, erased_at__isnull=True)
    return set(rows.filter(search.matching(cast.workspace, text)).values_list("display_name", flat=True))


def test_it_finds_names_emails_and_handles_containing_the_text(cast, channel) -> None:
    bob = Actor(user=cast.bob)
    actions.do_add_person(bob, cast.workspace, display_name="Jürgen Schäfer", email="js@weinstube.example")
    actions.do_add_person(bob, cast.workspace, display_name="Anna 100% Kaffee_Fan", network="x", handle="anna_k")
    message(channel, author_id="u-max", handle="maxi.muster", name="Max Mustermann")
    consume.consume(NOW)
    Person.objects.create(workspace=cast.other_workspace, display_name="Max Schäfer")  # charlie's

    assert found(cast, "muster") == {"Max Mustermann"}  # in the middle of a name and a handle
    assert found(cast, "SCHÄFER") == {"Jürgen Schäfer"}  # any case, umlauts too
    assert found(cast, "weinstube") == {"Jürgen Schäfer"}  # the e-mail
    assert found(cast, "@anna_k") == {"Anna 100% Kaffee_Fan"}  # a handle, typed with @
    assert found(cast, "xi.mu") == {"Max Mustermann"}
    assert found(cast, "Ma") == {"Max Mustermann"}  # shorter than a trigram: still found
    assert found(cast, "0%") == {"Anna 100% Kaffee_Fan"} and found(cast, "e_F") == {"Anna 100% Kaffee_Fan"}
    assert found(cast, '"') == set() and found(cast, 'a"b') == set()  # quotes are text, not syntax
    assert found(cast, "nobody") == set()

    page = english_client(cast.anna).get("/w/cafe-koenigsbau/people/?q=muster").content.decode()
    assert "Max Mustermann" in page and "Schäfer" not in page


def test_the_index_follows_renames_merges_and_erasure(cast, channel) -> None:
    message(channel, author_id="u-max", handle="maxi", name="Max")
    message(channel, author_id="u-eva", handle="eva", name="Eva")
    consume.consume(NOW)
    max_, eva = Person.objects.get(display_name="Max"), Person.objects.get(display_name="Eva")
    Identity.objects.filter(remote_id="u-max").update(handle="maximilian")  # a new handle on the network
    assert found(cast, "maximilian") == {"Max"}

    actions.do_merge_people(Actor(user=cast.bob), eva, max_)
    assert found(cast, "maximilian") == {"Eva"}  # the identity moved with the merge
    actions.do_update_person(
        Actor(user=cast.bob), eva, display_name="Eva Maria", email="", language="", consent="unknown", notes="", tags=[]
    )
    assert found(cast, "eva maria") == {"Eva Maria"}

    actions.do_erase_person(Actor(user=cast.alice), eva)
    if connection.vendor == "sqlite":  # nothing of them is left in the index either
        with connection.cursor() as cursor:
            cursor.execute("SELECT name, email, handles FROM audience_person_search WHERE rowid = %s", [eva.pk])
            assert cursor.fetchall() == [("", "", "")]
    assert not Person.objects.filter(search.matching(cast.workspace, "maximilian")).exists()


def test_the_index_is_there(db) -> None:
    """SQLite drops a table's triggers when a migration rebuilds the table: this catches that.
    On PostgreSQL the three trigram indexes exist (the test server may create extensions)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audience_%search_%'")
            assert len(cursor.fetchall()) == 6
        else:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'audience_%_trgm'")
            assert len(cursor.fetchall()) == 3
