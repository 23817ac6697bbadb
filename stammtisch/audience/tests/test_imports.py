from __future__ import annotations

import pytest
from django.utils import translation

from stammtisch.audience import imports
from stammtisch.audience.models import Identity, Person
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent

GOOD = (
    "Name;E-Mail;Sprache;Tags;Netzwerk;Handle;Einwilligung\n"
    "Frau Berger;berger@example.org;de;Stammgast, Kuchen;;;ja\n"
    "Tom;;en;;instagram;@tom_eats;\n"
)


def test_it_imports_every_row(cast) -> None:
    people = imports.do_import_people(Actor(user=cast.bob), cast.workspace, GOOD.encode())
    assert [p.display_name for p in people] == ["Frau Berger", "Tom"]
    berger = Person.objects.get(display_name="Frau Berger")
    assert berger.email == "berger@example.org" and berger.consent == "given" and berger.source == "import"
    assert sorted(t.name for t in berger.tags.all()) == ["Kuchen", "Stammgast"]
    assert Identity.objects.get().remote_id == "@tom_eats"
    assert AuditEvent.objects.filter(action="person.import_csv").count() == 1


def test_bad_rows_import_nothing_and_each_is_listed(cast) -> None:
    Person.objects.create(workspace=cast.workspace, display_name="Someone")
    bad = (
        GOOD
        + ";nobody@example.org;;;;;\n"
        + "Anna;not-an-address;fr;;;;\n"
        + "Zoe;;;;myspace;zoe;vielleicht\n"
        + "Tim;;;;instagram;tom_eats;\n"
    )
    with translation.override("en"):
        preview = imports.read_csv(cast.workspace, bad.encode())
        assert not preview.ok
        assert sorted({p.row for p in preview.problems}) == [4, 5, 6, 7]
        messages = [p.message for p in preview.problems]
        assert "The name is missing." in messages
        assert "“not-an-address” is not an e-mail address." in messages
        assert "@tom_eats on instagram appears twice in the file." in messages
        with pytest.raises(ActionError, match="nothing was imported"):
            imports.do_import_people(Actor(user=cast.bob), cast.workspace, bad.encode())
    assert Person.objects.count() == 1
    assert not Identity.objects.exists()


def test_a_file_without_a_name_column_is_refused(cast) -> None:
    with pytest.raises(ActionError):
        imports.read_csv(cast.workspace, b"email\na@example.org\n")
