"""`stammtisch bench dashboard`: what it prints, that its data is deterministic, stays in its
workspace and is kept as generated between runs (tiny sizes; no timing assertions)."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3

import numpy as np
import pytest
from django.core.management import call_command
from django.db.models import Count, F, Max, Min, Q

from stammtisch.analytics import bench_dashboard
from stammtisch.analytics.bench_dashboard import CLICK, COMMENT, DAY_PREFIX, DAY_TABLES, QUESTION, Sizes

FIELDS = ["goal_p95_ms", "channel_p95_ms", "rollup_refresh_s"]
TINY = Sizes(channels=4, posts=80, interactions=3000, days=20)
ANCHOR = int(dt.datetime(2026, 3, 2, 17, 30, tzinfo=dt.UTC).timestamp())


def test_the_simulation_is_the_same_for_the_same_seed_and_sizes() -> None:
    first = bench_dashboard.simulate(TINY, ANCHOR)
    again = bench_dashboard.simulate(TINY, ANCHOR)

    for name, value in vars(first).items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, getattr(again, name)), name
    assert first.person_names == again.person_names
    other = bench_dashboard.simulate(Sizes(4, 80, 3001, 20), ANCHOR)
    assert not np.array_equal(first.act_time, other.act_time[: len(first.act_time)])


def test_the_history_has_exactly_m_interactions_and_a_day_follows_it() -> None:
    h = bench_dashboard.simulate(TINY, ANCHOR)

    history = h.act_time < ANCHOR
    assert history.sum() == TINY.interactions
    assert (h.act_time >= ANCHOR - TINY.days * 86400).all()
    assert (h.act_time[~history] < ANCHOR + 86400).all() and (~history).sum() > 0
    assert (np.diff(h.act_time) >= 0).all()  # time order: the added day's rows come last
    assert (h.post_time < ANCHOR).sum() == TINY.posts
    # Every interaction is on a published post of its own channel, after it was published.
    assert (h.delivery_channel[h.act_delivery] == h.act_channel).all()
    assert h.delivery_published[h.act_delivery].all()
    assert (h.act_time >= h.delivery_time[h.act_delivery]).all()
    # Each person acts on their own channels only, and is known (an engagement) in the history.
    own = (h.person_channels[h.act_person, 0] == h.act_channel) | (h.person_channels[h.act_person, 1] == h.act_channel)
    assert own.all()
    assert (h.person_first[h.person_order][: TINY.people] < ANCHOR).all()
    # Our answers come after the comment; only comments and questions are answered.
    answered = h.act_answer > 0
    assert ((h.act_kind[answered] == COMMENT) | (h.act_kind[answered] == QUESTION)).all()
    assert (h.act_answer[answered] > h.act_time[answered]).all()
    assert set(np.unique(h.act_kind)) >= {0, COMMENT, CLICK}


@pytest.mark.django_db
def test_the_generated_workspace_keeps_to_itself(cast) -> None:
    from stammtisch.analytics.models import ChannelMetricSnapshot, DailyRollup, PostMetricSnapshot, RollupState
    from stammtisch.audience.models import Engagement, Identity, Person, StageTransition
    from stammtisch.core.models import Workspace
    from stammtisch.inbox.models import Conversation, Message
    from stammtisch.links.models import Click, Conversion, ShortLink
    from stammtisch.networks.models import Channel
    from stammtisch.publishing.models import Delivery, Post

    theirs = Channel.objects.create(workspace=cast.workspace, network="mastodon", handle="koenigsbau", display_name="K")
    Post.objects.create(workspace=cast.workspace, text="Alice's own post")
    anchor = dt.datetime.fromtimestamp(ANCHOR, dt.UTC)

    _seconds, details = bench_dashboard.generate(TINY, anchor)

    bench = Workspace.objects.get(slug=bench_dashboard.WORKSPACE_SLUG)
    assert details["history_interactions"] == TINY.interactions
    engagements = Engagement.objects.filter(workspace=bench)
    clicks = Click.objects.filter(workspace=bench)
    assert engagements.exclude(kind="answered").count() + clicks.count() == TINY.interactions
    assert Person.objects.filter(workspace=bench).count() == TINY.people
    assert Post.objects.filter(workspace=bench).count() == TINY.posts
    assert Channel.objects.filter(workspace=bench).count() == TINY.channels
    # Nothing of the benchmark points into another workspace.
    assert not engagements.exclude(person__workspace=bench).exists()
    assert not engagements.exclude(identity__workspace=bench).exists()
    assert not engagements.exclude(channel__workspace=bench).exists()
    assert not Identity.objects.filter(workspace=bench).exclude(person__workspace=bench).exists()
    assert not StageTransition.objects.filter(workspace=bench).exclude(person__workspace=bench).exists()
    assert not Delivery.objects.filter(post__workspace=bench).exclude(channel__workspace=bench).exists()
    assert not ShortLink.objects.filter(workspace=bench).exclude(delivery__post__workspace=bench).exists()
    messages = Message.objects.filter(workspace=bench)
    assert messages.exists() and not messages.exclude(conversation__workspace=bench).exists()
    assert not messages.exclude(channel__workspace=bench).exists()
    conversations = Conversation.objects.filter(workspace=bench)
    assert not conversations.exclude(delivery__post__workspace=bench).exists()
    # Their figures are those the inbox keeps (counted from the history's messages).
    counted = conversations.annotate(
        n=Count("messages"),
        incoming=Count("messages", filter=Q(messages__direction="in")),
        answered=Min("messages__occurred_at", filter=Q(messages__direction="out")),
        last=Max("messages__occurred_at"),
    )
    assert not counted.exclude(message_count=F("n")).exists()
    assert not counted.exclude(incoming_count=F("incoming")).exists()
    assert not counted.exclude(last_message_at=F("last")).exists()
    assert not counted.filter(answered__isnull=False).exclude(first_response_at=F("answered")).exists()
    assert not counted.filter(answered__isnull=True, first_response_at__isnull=False).exists()
    assert conversations.filter(intent="question").exists()
    assert clicks.exists() and not clicks.exclude(link__workspace=bench).exclude(post__workspace=bench).exists()
    assert not Conversion.objects.filter(workspace=bench).exclude(click__workspace=bench).exists()
    snapshots = PostMetricSnapshot.objects.filter(workspace=bench)
    assert snapshots.exists() and not snapshots.exclude(delivery__post__workspace=bench).exists()
    assert not ChannelMetricSnapshot.objects.filter(workspace=bench).exclude(channel__workspace=bench).exists()
    # Alice's workspace is as it was (its rollups are computed by the job, as the worker would).
    assert list(Post.objects.filter(workspace=cast.workspace).values_list("text", flat=True)) == ["Alice's own post"]
    assert not Engagement.objects.filter(workspace=cast.workspace).exists()
    assert not Message.objects.filter(channel=theirs).exists()
    # The history ends at the anchor; the added day waits in the twin tables.
    assert not engagements.filter(occurred_at__gte=anchor).exists()
    assert RollupState.objects.get(workspace=bench).refreshed_at == anchor
    assert DailyRollup.objects.filter(workspace=bench, key="people.new").exists()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {DAY_PREFIX}audience_engagement")
        assert cursor.fetchone()[0] > 0
        cursor.execute(f"SELECT COUNT(*) FROM {DAY_PREFIX}audience_engagement WHERE workspace_id <> %s", [bench.pk])
        assert cursor.fetchone()[0] == 0


def test_a_tiny_run_prints_exactly_the_fields_and_keeps_its_data(settings, tmp_path, capfd) -> None:
    settings.DATA_DIR = tmp_path
    sizes = ["--channels", "4", "--posts", "80", "--interactions", "3000", "--days", "20"]
    first = io.StringIO()

    call_command("bench", "dashboard", "--database", "sqlite", *sizes, "--renders", "2", stdout=first)

    [line] = first.getvalue().splitlines()
    result = json.loads(line)
    assert list(result) == FIELDS
    assert all(value > 0 for value in result.values())
    path = tmp_path / "bench" / "dashboard-4-80-3000-20.sqlite3"
    assert path.exists()
    err = capfd.readouterr().err
    assert "generated in" in err and "added day" in err
    assert "channel page missing" not in err
    kept = _counts(path)

    again = io.StringIO()
    call_command("bench", "dashboard", "--database", "sqlite", *sizes, "--renders", "2", stdout=again)

    assert list(json.loads(again.getvalue())) == FIELDS
    assert "reusing the kept data" in capfd.readouterr().err
    # The added day was taken out again: the kept data is as generated.
    assert _counts(path) == kept


def _counts(path) -> dict[str, object]:
    with sqlite3.connect(path) as db:
        counts: dict[str, object] = {
            table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in DAY_TABLES
        }
        for table in DAY_TABLES:
            twin = f"SELECT COUNT(*) FROM {table} WHERE id IN (SELECT id FROM {DAY_PREFIX}{table})"
            assert db.execute(twin).fetchone()[0] == 0, table
        counts["rollups"] = db.execute("SELECT COUNT(*), SUM(value) FROM analytics_dailyrollup").fetchone()
        counts["state"] = db.execute("SELECT refreshed_at, backfilled FROM analytics_rollupstate").fetchone()
    return counts
