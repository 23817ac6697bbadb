from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stammtisch.audience import consume
from stammtisch.audience.models import Person
from stammtisch.audience.tests.conftest import NOW, message
from stammtisch.core.models import AuditEvent


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("people", *args, stdout=out)
    return out.getvalue()


def test_an_operator_exports_and_erases_a_person(cast, channel) -> None:
    message(channel)
    consume.consume(NOW)
    person = Person.objects.get()
    data = json.loads(_run("export", "--workspace", cast.workspace.slug, "--person", str(person.pk)))
    assert data["identities"][0]["handle"] == "maxi"
    assert "erased person" in _run("erase", "--workspace", cast.workspace.slug, "--person", str(person.pk))
    assert "erased already" in _run("erase", "--workspace", cast.workspace.slug, "--person", str(person.pk))
    assert list(AuditEvent.objects.values_list("action", "actor_label").order_by("pk")) == [
        ("person.export", "cli"),
        ("person.erase", "cli"),
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("--workspace", "nope", "--person", "1"),
        ("--workspace", "cafe-koenigsbau", "--person", "abc"),
        ("--workspace", "cafe-koenigsbau", "--person", "999"),
        ("--workspace", "charlies-chili", "--person", "{person}"),
    ],
)
def test_bad_input_exits_2(cast, args) -> None:  # type: ignore[no-untyped-def]
    person = Person.objects.create(workspace=cast.workspace, display_name="Max")
    args = tuple(a.replace("{person}", str(person.pk)) for a in args)
    with pytest.raises(CommandError) as raised:
        _run("export", *args)
    assert raised.value.returncode == 2
