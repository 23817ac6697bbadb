""" "Posts that helped" on a goal's page: the posts with the goal published in its period, ranked by
the per-post figure that measures what the goal's KPI measures, with the figures shown."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from conftest import client_for
from stammtisch.analytics import rollups
from stammtisch.analytics.models import PostMetricSnapshot
from stammtisch.analytics.tests.builders import DAY, at, channel, message
from stammtisch.audience.models import Engagement, Person
from stammtisch.inbox.models import Conversation
from stammtisch.publishing.models import Delivery, Post
from stammtisch.strategy import helped
from stammtisch.strategy.models import Goal

pytestmark = pytest.mark.django_db

NOW = at(DAY, 12)


def make_goal(workspace, kpi: str, **changes) -> Goal:  # type: ignore[no-untyped-def]
    values = {
        "kind": kpi.split(".")[0],
        "name": "Gute Stimmung",
        "kpi": kpi,
        "target": 40.0,
        "start": DAY - dt.timedelta(days=20),
        "deadline": DAY + dt.timedelta(days=30),
        **changes,
    }
    return Goal.objects.create(workspace=workspace, **values)


def post_with(workspace, on, goal, when: dt.datetime, text: str = "Guten Morgen") -> Delivery:  # type: ignore[no-untyped-def]
    post = Post.objects.create(workspace=workspace, text=text, goal=goal, status="published")
    return Delivery.objects.create(
        post=post, channel=on, text=text, state="published", published_at=when, remote_id=f"r-{post.pk}"
    )


def comments(workspace, on, delivery: Delivery, *sentiments: str, intent: str = "") -> Conversation:  # type: ignore[no-untyped-def]
    conversation = Conversation.objects.create(
        workspace=workspace,
        channel=on,
        kind="comments",
        root_remote_id=delivery.remote_id,
        delivery=delivery,
        intent=intent,
    )
    for sentiment in sentiments:
        message(
            workspace, on, delivery.published_at + dt.timedelta(hours=1), sentiment=sentiment, conversation=conversation
        )
    return conversation


def ranked(goal: Goal) -> helped.Helped:
    """The ranking after the rollup job's run (the page reads the per-post rollups it writes)."""
    rollups.refresh_recent(goal.workspace, NOW, backfill=True)
    return helped.for_goal(goal, now=NOW)


def goal_page(cast, goal: Goal, user=None) -> str:  # type: ignore[no-untyped-def]
    rollups.refresh_recent(cast.workspace, NOW, backfill=True)
    url = reverse("strategy:goal", kwargs={"slug": cast.workspace.slug, "goal_id": goal.pk})
    response = client_for(user or cast.anna).get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return str(response.content.decode())


def test_an_image_goal_ranks_its_posts_by_positive_minus_negative_comments(cast) -> None:
    goal = make_goal(cast.workspace, "image.net_sentiment")
    other = make_goal(cast.workspace, "image.positive_share", name="Anderes Ziel")
    on = channel(cast.workspace)
    best = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=5), 9), "Linsen mit Spätzle")
    good = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=3), 9), "Zimtschnecken")
    bad = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=2), 9), "Preiserhöhung")
    early = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=40), 9), "Vor dem Ziel")
    elsewhere = post_with(cast.workspace, on, other, at(DAY - dt.timedelta(days=4), 9), "Anderes Ziel")
    comments(cast.workspace, on, best, "positive", "positive", "positive", "negative", "neutral")
    under_good = comments(cast.workspace, on, good, "positive")
    comments(cast.workspace, on, bad, "negative", "negative")
    comments(cast.workspace, on, early, "positive", "positive", "positive", "positive")
    comments(cast.workspace, on, elsewhere, "positive", "positive", "positive", "positive")
    message(cast.workspace, on, at(DAY, 8), sentiment="positive", intent="spam", conversation=under_good)

    result = ranked(goal)

    assert [row.post for row in result.rows] == [best.post, good.post]
    assert result.rows[0].cells == [("net", 2), ("positive", 3), ("negative", 1), ("messages", 5)]
    assert result.rows[1].cells == [("net", 1), ("positive", 1), ("negative", 0), ("messages", 1)]
    assert (result.without, result.published, result.tagged) == (1, 3, 4)  # the early one is not in the period
    page = goal_page(cast, goal)
    assert "Posts that helped" in page and "Linsen mit Spätzle" in page and "Zimtschnecken" in page
    assert (
        "Preiserhöhung" not in page and "Vor dem Ziel" not in page and "Anderes Ziel" not in page.split("helped-h")[1]
    )
    assert "Positive minus negative" in page and "1 more post with this goal shows none of this yet." in page


def test_a_loyalty_goal_ranks_by_answered_questions_and_complaints(cast) -> None:
    goal = make_goal(cast.workspace, "loyalty.answered_feedback", target=90.0)
    on = channel(cast.workspace)
    answered = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=5), 9), "Frage an euch")
    ignored = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=4), 9), "Noch eine Frage")
    comments(cast.workspace, on, answered, "neutral", intent="question")
    Conversation.objects.filter(delivery=answered).update(first_response_at=NOW)
    comments(cast.workspace, on, ignored, "negative", intent="complaint")
    result = ranked(goal)
    assert [(row.post, row.cells) for row in result.rows] == [(answered.post, [("answered", 1), ("feedback", 1)])]
    assert result.without == 1


def test_returning_and_new_people_are_the_people_who_wrote_under_the_post(cast) -> None:
    returning_goal = make_goal(cast.workspace, "loyalty.returning_engagers", target=100.0)
    new_goal = make_goal(cast.workspace, "acquisition.new_people", target=100.0, name="Neue Gäste")
    on = channel(cast.workspace)
    delivery = post_with(cast.workspace, on, returning_goal, at(DAY - dt.timedelta(days=5), 9))
    conversation = comments(cast.workspace, on, delivery, "positive", "neutral", "neutral")
    first, second, third = conversation.messages.order_by("pk")
    regular = Person.objects.create(workspace=cast.workspace, first_seen=at(DAY - dt.timedelta(days=60), 9))
    newcomer = Person.objects.create(workspace=cast.workspace, first_seen=first.occurred_at)
    for person, row in ((regular, first), (regular, second), (newcomer, third)):
        Engagement.objects.create(
            workspace=cast.workspace,
            person=person,
            kind="comment",
            weight=1.0,
            occurred_at=first.occurred_at,
            source="message",
            source_id=row.pk,
        )
    result = ranked(returning_goal)
    assert result.rows[0].cells == [("returning", 1), ("messages", 3)]  # one person, however often
    Post.objects.filter(pk=delivery.post_id).update(goal=new_goal)
    assert ranked(new_goal).rows[0].cells == [("new_people", 1), ("messages", 3)]


def test_new_followers_cannot_be_traced_to_posts_and_the_page_says_what_it_ranks_by(cast) -> None:
    goal = make_goal(cast.workspace, "acquisition.new_followers", target=100.0, name="Mehr Follower")
    on = channel(cast.workspace)
    delivery = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=5), 9), "Sommerfest")
    for hours, likes in ((1, 3), (24, 10)):  # the latest reading counts
        PostMetricSnapshot.objects.create(
            workspace=cast.workspace,
            delivery=delivery,
            observed_at=delivery.published_at + dt.timedelta(hours=hours),
            likes=likes,
            comments=2,
            shares=1,
        )
    result = ranked(goal)
    assert result.rows[0].cells == [("engagement", 13), ("clicks", 0)]
    assert "A follow names no post" in goal_page(cast, goal)


def test_without_tagged_posts_the_page_says_so_and_suggests_tagging(cast) -> None:
    goal = make_goal(cast.workspace, "traffic.clicks", target=100.0, name="Mehr Klicks")
    page = goal_page(cast, goal, cast.bob)
    assert "No post carries this goal yet." in page
    assert "Compose a post" in page  # editors may compose
    assert "Compose a post" not in goal_page(cast, goal, cast.anna)

    Post.objects.create(workspace=cast.workspace, text="Entwurf", goal=goal)
    assert "1 post carries this goal, but none was published in this period yet." in goal_page(cast, goal)
    on = channel(cast.workspace)
    post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=2), 9))
    assert "shows none of this yet" in goal_page(cast, goal)


def test_the_list_is_short_and_says_how_many_more_helped(cast) -> None:
    goal = make_goal(cast.workspace, "image.positive_share")
    on = channel(cast.workspace)
    for n in range(helped.LIMIT + 2):
        delivery = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=1 + n % 10), 9), f"Beitrag {n}")
        comments(cast.workspace, on, delivery, *["positive"] * (n + 1))
    result = ranked(goal)
    assert len(result.rows) == helped.LIMIT and result.more == 2
    assert result.rows[0].post.text == f"Beitrag {helped.LIMIT + 1}"
    assert "2 more posts that helped" in goal_page(cast, goal)


def test_every_kpi_and_reason_has_a_measure() -> None:
    from stammtisch.analytics.kpis import KPIS

    assert set(Goal.Kind.values) - {"custom"} <= set(helped.BY_KIND)
    for key, kpi in KPIS.items():
        measure = helped.measure_for(key)
        assert measure.rank in measure.columns and set(measure.columns) <= set(helped.FIGURES)
        assert key in helped.MEASURES or measure is helped.BY_KIND[kpi.kind]


def test_a_goal_changed_on_the_post_page_moves_the_post_at_once(cast) -> None:
    from stammtisch.core.actions import Actor
    from stammtisch.publishing.actions import do_set_post_goal

    praise = make_goal(cast.workspace, "image.positive_share", name="Lob")
    other = make_goal(cast.workspace, "image.net_sentiment", name="Stimmung")
    on = channel(cast.workspace)
    delivery = post_with(cast.workspace, on, praise, at(DAY - dt.timedelta(days=3), 9), "Maultaschen")
    comments(cast.workspace, on, delivery, "positive")
    assert [row.post for row in ranked(praise).rows] == [delivery.post]

    do_set_post_goal(Actor(user=cast.bob), delivery.post, other)  # no rollup run in between
    assert helped.for_goal(praise, now=NOW).rows == []
    assert [row.post.text for row in helped.for_goal(other, now=NOW).rows] == ["Maultaschen"]


def test_a_post_published_since_the_last_rollup_run_counts_as_showing_nothing_yet(cast) -> None:
    goal = make_goal(cast.workspace, "image.positive_share")
    on = channel(cast.workspace)
    measured = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=3), 9), "Gemessen")
    comments(cast.workspace, on, measured, "positive")
    ranked(goal)
    post_with(cast.workspace, on, goal, at(DAY, 11), "Ganz neu")  # after the job's run
    result = helped.for_goal(goal, now=NOW)
    assert [row.post.text for row in result.rows] == ["Gemessen"]
    assert (result.published, result.without, result.tagged) == (2, 1, 2)


def test_the_list_downloads_as_csv_and_xlsx_with_the_figures_of_the_page(cast) -> None:
    import io

    import openpyxl

    goal = make_goal(cast.workspace, "image.net_sentiment")
    on = channel(cast.workspace)
    best = post_with(cast.workspace, on, goal, at(DAY - dt.timedelta(days=5), 9), "=Linsen mit Spätzle")
    comments(cast.workspace, on, best, "positive", "positive", "negative")
    rollups.refresh_recent(cast.workspace, NOW, backfill=True)
    url = reverse("strategy:goal", kwargs={"slug": cast.workspace.slug, "goal_id": goal.pk})
    page = client_for(cast.anna).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "export=helped&amp;format=csv" in page

    response = client_for(cast.anna).get(url, {"export": "helped", "format": "csv"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Post,Published,Channels,Positive minus negative,Positive,Negative,Comments and replies"
    assert lines[1] == f"'=Linsen mit Spätzle,{(DAY - dt.timedelta(days=5)).isoformat()},Koenigsbau (Sandbox),1,2,1,3"

    response = client_for(cast.anna).get(url, {"export": "helped", "format": "xlsx"}, HTTP_ACCEPT_LANGUAGE="en")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [cell.value for cell in sheet[2]][3:] == [1, 2, 1, 3]
