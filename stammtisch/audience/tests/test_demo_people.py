"""The demo's 90 simulated days go through the inbox: our answers are inbox replies, the audience
job reads the people as the days pass, so their stages differ and moved over time."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from stammtisch.audience import suggest
from stammtisch.audience.models import Engagement, Person, SegmentCount, StageTransition
from stammtisch.core.models import Workspace
from stammtisch.inbox.models import Message, Reply


@pytest.fixture
def demo_dir(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path


def test_loyalty_stages_move_in_the_demo_as_the_audience_gets_answers(db, demo_dir) -> None:
    call_command("demo", verbosity=0)

    workspace = Workspace.objects.get(is_demo=True)
    assert Reply.objects.filter(workspace=workspace, state="sent").exists()
    assert Message.objects.filter(workspace=workspace, direction="out").exists()
    assert Engagement.objects.filter(workspace=workspace, kind="answered").exists()
    stages = set(Person.objects.filter(workspace=workspace).values_list("stage", flat=True))
    assert len(stages) >= 3, stages
    assert stages & {"loyal", "advocate"}, stages
    assert stages & {"at_risk", "lapsed"}, stages
    week_ago = timezone.now() - timezone.timedelta(days=7)
    moved = StageTransition.objects.filter(workspace=workspace, at__lt=week_ago).exclude(from_stage="")
    assert moved.exists(), "stages moved during the simulated days, not only at the end"
    assert SegmentCount.objects.filter(segment__workspace=workspace).values("day").distinct().count() > 10
    # Some Sandbox personas name their second account in their bio: suggested for a merge.
    linked = [s for s in suggest.suggestions(workspace) if s.reason == "links"]
    assert linked and all(len(s.people) == 2 for s in linked)
