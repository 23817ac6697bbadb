"""The demo café has goals: its posts carry them, and each goal's page shows where it stands, a
forecast and the posts that helped, from the figures the simulation produced."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from conftest import client_for
from stammtisch.analytics.models import RollupState
from stammtisch.core.management.commands import demo
from stammtisch.core.models import Workspace
from stammtisch.links import attribution
from stammtisch.publishing.models import Post
from stammtisch.strategy import helped
from stammtisch.strategy.models import Goal


@pytest.fixture
def short_demo(settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(demo, "HISTORY_DAYS", 21)  # the real one covers 90 days; same code path


def test_the_demo_goals_have_posts_figures_and_pages(db, short_demo) -> None:
    call_command("demo", verbosity=0)
    workspace = Workspace.objects.get(is_demo=True)
    goals = {goal.kpi: goal for goal in Goal.objects.filter(workspace=workspace)}
    assert set(goals) == {"traffic.social_visits", "loyalty.returning_engagers", "image.net_sentiment"}
    traffic = goals["traffic.social_visits"]
    assert Post.objects.filter(workspace=workspace, goal=traffic).exclude(link="").exists()
    assert not Post.objects.filter(workspace=workspace, goal=traffic, link="").exists()  # visits need a link
    assert RollupState.objects.get(workspace=workspace).backfilled  # figures are there at once

    # The simulated audience's clicks count for the traffic goal, and its page lists the posts.
    figures = {row.goal: row for row in attribution.per_goal(workspace)}
    assert figures[traffic].clicks > 0 and figures[traffic].visits > 0
    result = helped.for_goal(traffic)
    assert result.rows and all(row.post.goal_id == traffic.pk for row in result.rows)

    alice = workspace.memberships.get(role="owner").user
    for goal in goals.values():
        url = reverse("strategy:goal", kwargs={"slug": workspace.slug, "goal_id": goal.pk})
        page = client_for(alice).get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
        assert goal.name in page and "Beiträge, die geholfen haben" in page
    traffic_page = client_for(alice).get(
        reverse("strategy:goal", kwargs={"slug": workspace.slug, "goal_id": traffic.pk}), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert result.rows[0].post.text[:30] in traffic_page.content.decode()
    assert traffic_page.context["status"].current.value > 0  # where it stands: the visits so far


def test_the_demo_requests_its_reports_and_the_worker_renders_them(db, short_demo) -> None:
    from stammtisch.reports import jobs
    from stammtisch.reports.models import Report
    from stammtisch.reports.tests.conftest import pdf_required

    pdf_required()
    call_command("demo", verbosity=0)
    workspace = Workspace.objects.get(is_demo=True)
    reports = Report.objects.filter(workspace=workspace)
    assert sorted(reports.values_list("kind", flat=True)) == ["month", "week"]
    assert set(reports.values_list("language", flat=True)) == {workspace.language}

    assert jobs.run_due("demo-test") == 2
    assert all(report.state == Report.State.DONE and report.file.name for report in reports)
    # The week (inside the shortened history) tells the simulation's figures: its goals and the
    # deliveries it published that week, as the rollups counted them.
    week = reports.get(kind="week")
    active = Goal.objects.filter(workspace=workspace, start__lte=week.last_day, deadline__gte=week.first_day)
    assert {goal["name"] for goal in week.data["goals"]} == set(active.values_list("name", flat=True))
    assert week.data["posts"]["value"] > 0
