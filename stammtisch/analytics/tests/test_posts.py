"""Per-post rollups and the top and worst posts: honest minimums, scoped to the workspace."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from conftest import client_for
from stammtisch.analytics import ranking, rollups
from stammtisch.analytics.models import PostMetricSnapshot, PostRollup, RollupState
from stammtisch.analytics.tests.builders import DAY, at, channel, clicks, conversion, message, published

pytestmark = pytest.mark.django_db


def test_a_post_rollup_holds_its_latest_figures_clicks_and_conversions(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    delivery = published(workspace, koenigsbau, at(DAY, 18, 30), impressions=400, likes=20)
    clicks(workspace, delivery, at(DAY, 19), 3)
    clicks(workspace, delivery, at(DAY, 19), 2, bot=True)  # bots left out
    conversion(workspace, delivery, at(DAY, 20))
    conversion(workspace, delivery, at(DAY, 20), kind="visit")
    silent = published(workspace, koenigsbau, at(DAY, 8))  # never measured

    rollups.refresh(workspace, DAY, DAY)
    rollups.refresh(workspace, DAY, DAY)  # idempotent: still one row per delivery

    assert PostRollup.objects.filter(workspace=workspace).count() == 2
    row = PostRollup.objects.get(delivery=delivery)
    assert (row.weekday, row.hour) == (DAY.weekday(), 18)  # in Berlin, not UTC
    assert (row.impressions, row.engagements, row.rate) == (400, 20, 5.0)
    assert (row.link_clicks, row.conversions, row.visits) == (3, 1, 1)
    quiet = PostRollup.objects.get(delivery=silent)
    assert (quiet.impressions, quiet.rate, quiet.link_clicks) == (None, None, 0)


def test_clicks_on_an_older_post_reach_its_rollup(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    old = published(workspace, koenigsbau, at(DAY - dt.timedelta(days=60), 9), impressions=500, likes=5)
    rollups.refresh(workspace, DAY - dt.timedelta(days=60), DAY)
    assert PostRollup.objects.get(delivery=old).link_clicks == 0

    clicks(workspace, old, at(DAY, 12), 4)
    # The links group covers the last few days only; it refreshes the posts clicked in them.
    rollups.refresh(workspace, DAY - dt.timedelta(days=2), DAY, [g for g in rollups.GROUPS if g.name == "links"])
    assert PostRollup.objects.get(delivery=old).link_clicks == 4


def test_a_post_rollup_holds_its_dialog_goal_value_and_interactions(cast) -> None:
    from stammtisch.audience.models import Engagement, Person
    from stammtisch.inbox.models import Conversation
    from stammtisch.links.models import Conversion
    from stammtisch.strategy.models import Goal

    workspace = cast.workspace
    mastodon = channel(workspace, "mastodon")
    goal = Goal.objects.create(
        workspace=workspace,
        kind="loyalty",
        name="Stammgäste",
        kpi="loyalty.returning_engagers",
        target=10.0,
        start=DAY - dt.timedelta(days=10),
        deadline=DAY + dt.timedelta(days=10),
    )
    delivery = published(workspace, mastodon, at(DAY, 9))
    PostMetricSnapshot.objects.create(  # likes, comments and shares, but no impressions (as Mastodon)
        workspace=workspace, delivery=delivery, observed_at=at(DAY, 18), likes=4, comments=3, shares=1
    )
    delivery.post.goal = goal
    delivery.post.save(update_fields=["goal"])
    thread = Conversation.objects.create(
        workspace=workspace,
        channel=mastodon,
        kind="comments",
        root_remote_id="toot",
        delivery=delivery,
        intent="question",
        first_response_at=at(DAY, 11),
    )
    regular = Person.objects.create(workspace=workspace, first_seen=at(DAY - dt.timedelta(days=30), 9))
    newcomer = Person.objects.create(workspace=workspace, first_seen=at(DAY, 10))
    written = [
        (regular, message(workspace, mastodon, at(DAY, 10), sentiment="positive", conversation=thread)),
        (regular, message(workspace, mastodon, at(DAY, 10, 5), sentiment="negative", conversation=thread)),
        (newcomer, message(workspace, mastodon, at(DAY, 10), sentiment="positive", conversation=thread)),
    ]
    message(workspace, mastodon, at(DAY, 10, 7), intent="spam", conversation=thread)  # left out
    message(workspace, mastodon, at(DAY, 11), direction="out", conversation=thread)  # our answer: not counted
    for person, row in written:
        Engagement.objects.create(
            workspace=workspace,
            person=person,
            channel=mastodon,
            kind="comment",
            weight=1.0,
            occurred_at=row.occurred_at,
            source="message",
            source_id=row.pk,
        )
    for value in ("12.50", "7.50", None):
        Conversion.objects.create(
            workspace=workspace,
            kind="purchase",
            source="snippet",
            post=delivery.post,
            channel=mastodon,
            occurred_at=at(DAY, 12),
            value=value,
        )

    rollups.refresh(workspace, DAY, DAY)

    row = PostRollup.objects.get(delivery=delivery)
    assert row.goal_id == goal.pk
    assert (row.engagements, row.interactions, row.rate) == (None, 8, None)  # no rate without impressions
    assert (row.messages, row.positive, row.negative) == (3, 2, 1)
    assert (row.feedback, row.answered, row.returning, row.new_people) == (1, 1, 1, 1)
    assert (row.conversions, str(row.value)) == (3, "20.00")


def test_comments_and_answers_on_an_older_post_reach_its_rollup(cast) -> None:
    from stammtisch.inbox.models import Conversation

    workspace = cast.workspace
    koenigsbau = channel(workspace)
    old = published(workspace, koenigsbau, at(DAY - dt.timedelta(days=60), 9), impressions=500, likes=5)
    rollups.refresh_recent(workspace, at(DAY - dt.timedelta(days=50), 9), backfill=True)
    assert PostRollup.objects.get(delivery=old).messages == 0

    thread = Conversation.objects.create(
        workspace=workspace, channel=koenigsbau, kind="comments", root_remote_id="late", delivery=old, intent="question"
    )
    message(workspace, koenigsbau, at(DAY, 10), sentiment="positive", conversation=thread)
    rollups.refresh_recent(workspace, at(DAY, 12))  # the incremental run: a few days, 30 for posts
    row = PostRollup.objects.get(delivery=old)
    assert (row.messages, row.positive, row.feedback, row.answered) == (1, 1, 1, 0)

    Conversation.objects.filter(pk=thread.pk).update(first_response_at=at(DAY + dt.timedelta(days=1), 9))
    rollups.refresh_recent(workspace, at(DAY + dt.timedelta(days=1), 12))
    assert PostRollup.objects.get(delivery=old).answered == 1


def test_a_new_comment_on_a_recent_post_reaches_its_rollup_at_the_next_run(cast) -> None:
    """The posts group carries a row's dialog figures over; the runs after the first count them
    again for the deliveries that got a message or a first answer since the last run."""
    from stammtisch.inbox.models import Conversation

    workspace = cast.workspace
    koenigsbau = channel(workspace)
    recent = published(workspace, koenigsbau, at(DAY - dt.timedelta(days=5), 9), impressions=500, likes=5)
    quiet = published(workspace, koenigsbau, at(DAY - dt.timedelta(days=4), 9), impressions=500, likes=5)
    thread = Conversation.objects.create(
        workspace=workspace, channel=koenigsbau, kind="comments", root_remote_id="r", delivery=recent, intent="question"
    )
    message(workspace, koenigsbau, at(DAY - dt.timedelta(days=5), 10), sentiment="positive", conversation=thread)
    other = Conversation.objects.create(
        workspace=workspace, channel=koenigsbau, kind="comments", root_remote_id="q", delivery=quiet
    )
    message(workspace, koenigsbau, at(DAY - dt.timedelta(days=4), 10), sentiment="negative", conversation=other)
    rollups.run_due(at(DAY, 8))  # the first run: the backfill counts everything
    assert RollupState.objects.get(workspace=workspace).backfilled
    assert PostRollup.objects.get(delivery=recent).messages == 1

    message(workspace, koenigsbau, at(DAY, 8, 20), sentiment="positive", conversation=thread)
    Conversation.objects.filter(pk=thread.pk).update(first_response_at=at(DAY, 8, 25))
    rollups.run_due(at(DAY, 8, 30))
    assert RollupState.objects.get(workspace=workspace).refreshed_at == at(DAY, 8, 30)
    row = PostRollup.objects.get(delivery=recent)
    assert (row.messages, row.positive, row.feedback, row.answered) == (2, 2, 1, 1)
    assert (PostRollup.objects.get(delivery=quiet).messages, PostRollup.objects.get(delivery=quiet).negative) == (1, 1)


def make_posts(workspace, on, rates: list[int], impressions: int = 1000, days_ago: int = 10) -> list:  # type: ignore[no-untyped-def]
    """One measured post per rate (likes per 1,000 impressions, so rate = likes / 10 %)."""
    when = DAY - dt.timedelta(days=days_ago)
    return [
        published(workspace, on, at(when, 8 + n % 12, n), impressions=impressions, likes=r) for n, r in enumerate(rates)
    ]


def test_the_top_by_rate_needs_enough_impressions(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    make_posts(workspace, koenigsbau, [10, 30, 20])
    tiny = published(workspace, koenigsbau, at(DAY - dt.timedelta(days=3), 9), impressions=12, likes=6)  # 50 %
    first = DAY - dt.timedelta(days=29)
    rollups.refresh(workspace, first, DAY)

    result = ranking.post_ranking(workspace, first, DAY, DAY)
    assert [item.rate for item in result.by_rate] == [3.0, 2.0, 1.0]
    assert tiny.pk not in [item.delivery_id for item in result.by_rate]
    assert (result.published, result.measured, result.eligible) == (4, 4, 3)
    # Too few settled posts: no "did worst" list, and the table says why.
    assert result.worst == [] and not result.worst_shown
    worst = next(t for t in result.tables if t.name == "worst")
    assert "Not enough data yet" in str(worst.empty)


def test_the_worst_posts_are_settled_and_not_among_the_top(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    make_posts(workspace, koenigsbau, list(range(1, 13)))  # 12 settled posts, rates 0.1 ... 1.2 %
    fresh = make_posts(workspace, koenigsbau, [0], days_ago=2)  # the lowest, but too young to judge
    first = DAY - dt.timedelta(days=29)
    rollups.refresh(workspace, first, DAY)

    result = ranking.post_ranking(workspace, first, DAY, DAY, limit=5)
    assert result.worst_shown
    assert [item.rate for item in result.by_rate] == [1.2, 1.1, 1.0, 0.9, 0.8]
    assert [item.rate for item in result.worst] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert fresh[0].pk not in [item.delivery_id for item in result.worst]


def test_top_posts_by_clicks_and_conversions(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    a, b, _c = make_posts(workspace, koenigsbau, [1, 2, 3])
    clicks(workspace, a, at(DAY, 9), 5)
    clicks(workspace, b, at(DAY, 9), 9)
    conversion(workspace, a, at(DAY, 10))
    rollups.refresh(workspace, DAY - dt.timedelta(days=29), DAY)

    result = ranking.post_ranking(workspace, DAY - dt.timedelta(days=29), DAY, DAY)
    assert [item.delivery_id for item in result.by_clicks] == [b.pk, a.pk]
    assert [item.delivery_id for item in result.by_conversions] == [a.pk]
    table = next(t for t in result.tables if t.name == "top_clicks")
    link = table.rows[0][0]
    assert link.url == reverse("analytics:delivery_metrics", args=[workspace.slug, b.pk])


def test_the_posts_page_is_scoped_to_the_workspace(cast) -> None:
    workspace = cast.workspace
    koenigsbau = channel(workspace)
    make_posts(workspace, koenigsbau, [10, 20])
    foreign = channel(cast.other_workspace, "charlies")
    make_posts(cast.other_workspace, foreign, [90])
    rollups.refresh(workspace, DAY - dt.timedelta(days=29), DAY)
    rollups.refresh(cast.other_workspace, DAY - dt.timedelta(days=29), DAY)
    url = reverse("analytics:posts", args=[workspace.slug])

    with time_machine.travel(at(DAY, 12), tick=False):
        page = client_for(cast.anna).get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == 200
        body = page.content.decode()
        assert "Top posts by engagement rate" in body and "2.00" in body and "9.00" not in body
        assert client_for(cast.anna).get(url, {"channel": foreign.pk}).status_code == 404
        assert client_for(cast.anna).get(url, {"channel": "x"}).status_code == 400
        assert client_for(cast.anna).get(url, {"channel": koenigsbau.pk}).status_code == 200
        assert client_for(cast.charlie).get(url).status_code == 404
        german = client_for(cast.anna).get(url, HTTP_ACCEPT_LANGUAGE="de")
    assert "Beiträge mit der höchsten Interaktionsrate" in german.content.decode()
