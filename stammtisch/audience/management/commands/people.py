"""`stammtisch people export|erase --workspace SLUG --person ID`: GDPR tools for operators.

`export` prints the person's data as one JSON document; `erase` erases the person (erasing twice
is harmless: the second run says so and exits 0). Both are written to the audit log with the
actor "cli". Exit codes: 0 done, 2 bad usage (unknown workspace or person), with a line on
standard error.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stammtisch.audience import actions
from stammtisch.audience.models import Person
from stammtisch.core.actions import Actor
from stammtisch.core.models import Workspace


class Command(BaseCommand):
    help = "Export or erase a person's data (GDPR Art. 15 and 17)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("--workspace", required=True, help="the workspace's short name (slug)")
        parser.add_argument("--person", required=True, help="the person's number")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"no workspace {options['workspace']!r}", returncode=2)
        try:
            person_id = int(options["person"])
        except ValueError:
            raise CommandError(f"--person must be a number, not {options['person']!r}", returncode=2) from None
        person = Person.objects.filter(pk=person_id, workspace=workspace).first()
        if person is None:
            raise CommandError(f"no person {person_id} in workspace {workspace.slug!r}", returncode=2)
        actor = Actor.system("cli")
        if options["action"] == "export":
            data = actions.do_export_person(actor, person)
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        elif actions.do_erase_person(actor, person):
            self.stdout.write(f"erased person {person.pk} of {workspace.slug}")
        else:
            self.stdout.write(f"person {person.pk} of {workspace.slug} was erased already")
