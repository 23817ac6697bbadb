"""Goals, pillars, mix and cadence: who may change them, what is refused, what the pages show."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import translation

from conftest import client_for
from stammtisch.analytics import dashboard, rollups
from stammtisch.analytics.tests.builders import DAY, at, channel, message
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.links.models import Click, ShortLink
from stammtisch.strategy import actions
from stammtisch.strategy.models import Cadence, ContentPillar, Goal, MixTarget

pytestmark = pytest.mark.django_db

NOW = at(DAY, 12)


def goal_values(**changes):  # type: ignore[no-untyped-def]
    values = {
        "kind": "traffic",
        "name": "Mehr Besuche",
        "kpi": "traffic.clicks",
        "target": 100.0,
        "baseline": None,
        "start": DAY - dt.timedelta(days=20),
        "deadline": DAY + dt.timedelta(days=30),
    }
    return {**values, **changes}


def test_an_editor_creates_a_goal_and_it_is_audited(cast) -> None:
    goal = actions.do_create_goal(Actor(user=cast.bob), cast.workspace, now=NOW, **goal_values())
    assert goal.created_by == cast.bob
    assert AuditEvent.objects.filter(action="goal.create", workspace=cast.workspace).count() == 1


def test_an_analyst_may_not_create_a_goal(cast) -> None:
    with pytest.raises(PermissionDenied):
        actions.do_create_goal(Actor(user=cast.anna), cast.workspace, now=NOW, **goal_values())


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"deadline": DAY - dt.timedelta(days=1)}, "The deadline is in the past"),
        ({"deadline": DAY - dt.timedelta(days=30)}, "The deadline must be after the start"),
        ({"kpi": "image.net_sentiment"}, "This KPI does not measure this reason"),
        ({"kpi": "seo.referral_visits", "kind": "seo"}, "Choose one of the KPIs offered"),
        ({"baseline": 100.0}, "The target must differ from the baseline"),
    ],
)
def test_bad_goals_are_refused(cast, changes, problem) -> None:  # type: ignore[no-untyped-def]
    with translation.override("en"), pytest.raises(ActionError) as error:
        actions.do_create_goal(Actor(user=cast.alice), cast.workspace, now=NOW, **goal_values(**changes))
    assert problem in str(error.value.message)


def test_a_custom_goal_may_use_any_kpi(cast) -> None:
    goal = actions.do_create_goal(
        Actor(user=cast.alice),
        cast.workspace,
        now=NOW,
        **goal_values(kind="custom", kpi="image.net_sentiment", target=30.0),
    )
    assert goal.kpi == "image.net_sentiment"


def test_pillar_shares_may_not_exceed_100_and_names_are_unique(cast) -> None:
    alice = Actor(user=cast.alice)
    actions.do_save_pillar(alice, cast.workspace, name="Rezepte", target_share=60, colour="#ff0000")
    with pytest.raises(ActionError):
        actions.do_save_pillar(alice, cast.workspace, name="Events", target_share=50, colour="#00ff00")
    with pytest.raises(ActionError):
        actions.do_save_pillar(alice, cast.workspace, name=" rezepte", target_share=10, colour="#00ff00")
    with pytest.raises(ActionError):
        actions.do_save_pillar(alice, cast.workspace, name="Team", target_share=10, colour="red")
    pillar = ContentPillar.objects.get()
    actions.do_save_pillar(alice, cast.workspace, name="Rezepte", target_share=70, colour="#FF0000", pillar=pillar)
    pillar.refresh_from_db()
    assert (pillar.target_share, pillar.colour) == (70, "#ff0000")


def test_mix_target_defaults_to_80_and_cadence_is_set_per_channel(cast) -> None:
    assert actions.mix_target(cast.workspace).min_value_share == 80
    koenigsbau = channel(cast.workspace)
    bob = Actor(user=cast.bob)
    actions.do_set_mix_target(bob, cast.workspace, 70)
    actions.do_set_cadence(bob, cast.workspace, {koenigsbau.pk: 3})
    assert MixTarget.objects.get().min_value_share == 70
    assert Cadence.objects.get(channel=koenigsbau).posts_per_week == 3
    actions.do_set_cadence(bob, cast.workspace, {koenigsbau.pk: None})
    assert not Cadence.objects.exists()
    foreign = channel(cast.other_workspace, "chili")
    with pytest.raises(ActionError):
        actions.do_set_cadence(bob, cast.workspace, {foreign.pk: 3})


def _clicks_every_day(workspace, days: int) -> None:  # type: ignore[no-untyped-def]
    link = ShortLink.objects.create(workspace=workspace, target="https://example.org/")
    for back in range(days):
        day = DAY - dt.timedelta(days=back)
        for n in range(3):
            Click.objects.create(link=link, workspace=workspace, occurred_at=at(day, 10, n), visitor_hash=f"{back}-{n}")


def test_a_flow_goal_counts_since_its_start_and_forecasts_its_date(cast) -> None:
    workspace = cast.workspace
    _clicks_every_day(workspace, 40)
    rollups.refresh(workspace, DAY - dt.timedelta(days=60), DAY)
    goal = Goal.objects.create(workspace=workspace, **goal_values())  # 21 days at 3 clicks: 63 of 100

    status = dashboard.goal_status(goal, DAY)
    assert status.current.value == 63
    assert status.progress == 63.0
    # 3 a day: 37 more clicks take 13 days (63 + 39 = 102 after 13 days).
    assert status.expected == DAY + dt.timedelta(days=13)
    assert status.on_track is True
    assert status.this_month.value == 90 and status.last_month.value == 30
    assert status.values[-1] == 63 and status.values[0] is None  # before the start: nothing


def test_a_level_goal_with_too_little_data_says_so(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    message(workspace, koenigsbau, at(DAY, 10), sentiment="positive")
    rollups.refresh(workspace, DAY - dt.timedelta(days=5), DAY)
    goal = Goal.objects.create(workspace=workspace, **goal_values(kind="image", kpi="image.net_sentiment", target=40.0))
    with time_machine.travel(NOW, tick=False):
        response = client_for(cast.anna).get(
            reverse("strategy:goal", args=[workspace.slug, goal.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
    assert response.status_code == 200
    assert "Not enough data yet (1 of at least 20)." in response.content.decode()


def test_pages_render_for_members_and_are_hidden_from_outsiders(cast) -> None:
    workspace = cast.workspace
    _clicks_every_day(workspace, 30)
    rollups.refresh(workspace, DAY - dt.timedelta(days=40), DAY)
    goal = Goal.objects.create(workspace=workspace, **goal_values())
    pillar = ContentPillar.objects.create(workspace=workspace, name="Rezepte", target_share=40)
    urls = [
        reverse("strategy:goals", args=[workspace.slug]),
        reverse("strategy:goal", args=[workspace.slug, goal.pk]),
        reverse("analytics:dashboard", args=[workspace.slug]) + "?days=30",
    ]
    edit_urls = [
        reverse("strategy:goal_create", args=[workspace.slug]),
        reverse("strategy:goal_edit", args=[workspace.slug, goal.pk]),
        reverse("strategy:pillar_edit", args=[workspace.slug, pillar.pk]),
        reverse("strategy:mix", args=[workspace.slug]),
        reverse("strategy:cadence", args=[workspace.slug]),
    ]
    with time_machine.travel(NOW, tick=False):
        for url in urls:
            response = client_for(cast.anna).get(url, HTTP_ACCEPT_LANGUAGE="en")
            assert response.status_code == 200, url
            assert client_for(cast.charlie).get(url).status_code == 404
        for url in edit_urls:
            assert client_for(cast.bob).get(url).status_code == 200, url
            assert client_for(cast.anna).get(url).status_code == 403, url
        page = client_for(cast.anna).get(urls[1], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "On track" in page
    assert 'id="goal-chart"' in page and "<table>" in page


def test_the_goal_form_creates_a_goal_and_refuses_a_past_deadline(cast) -> None:
    url = reverse("strategy:goal_create", args=[cast.workspace.slug])
    data = {
        "kind": "loyalty",
        "name": "Schneller antworten",
        "kpi": "loyalty.response_minutes",
        "target": "30",
        "baseline": "120",
        "start": "2026-06-01",
        "deadline": "2026-06-09",
    }
    with time_machine.travel(NOW, tick=False):
        refused = client_for(cast.bob).post(url, data, HTTP_ACCEPT_LANGUAGE="en")
        assert refused.status_code == 200
        assert "The deadline is in the past" in refused.content.decode()
        response = client_for(cast.bob).post(url, {**data, "deadline": "2026-09-30"})
    goal = Goal.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/goals/{goal.pk}/")
    assert (goal.baseline, goal.target) == (120.0, 30.0)


def test_the_composer_suggests_the_workspaces_pillars(cast) -> None:
    ContentPillar.objects.create(workspace=cast.workspace, name="Rezepte", target_share=40)
    ContentPillar.objects.create(workspace=cast.other_workspace, name="Chili-Geheimnisse", target_share=40)
    page = client_for(cast.bob).get(reverse("publishing:compose", args=[cast.workspace.slug])).content.decode()
    assert 'list="pillar-choices"' in page
    assert '<datalist id="pillar-choices"><option value="Rezepte"></option></datalist>' in page
