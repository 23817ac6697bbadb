"""A post's strategy goal: chosen in the composer and the edit form among the workspace's running
goals, set on the post page (also after publishing), copied by "Duplicate", read from the CSV
import's "goal" column; a goal of another workspace is refused everywhere."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from conftest import client_for
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.models import Channel
from stammtisch.publishing import imports
from stammtisch.publishing.actions import do_create_post, do_set_post_goal, do_update_post
from stammtisch.publishing.forms import ComposeForm, PostEditForm
from stammtisch.publishing.models import Delivery, Post
from stammtisch.strategy.models import Goal

NOW = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 6, 1)


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def make_goal(workspace, name: str = "Mehr Besuche aus Social", **changes) -> Goal:  # type: ignore[no-untyped-def]
    values = {
        "kind": "traffic",
        "kpi": "traffic.social_visits",
        "target": 200.0,
        "start": TODAY - dt.timedelta(days=10),
        "deadline": TODAY + dt.timedelta(days=60),
        **changes,
    }
    return Goal.objects.create(workspace=workspace, name=name, **values)


@pytest.fixture
def channel(cast) -> Channel:  # type: ignore[no-untyped-def]
    return Channel.objects.create(workspace=cast.workspace, network="sandbox", handle="koenigsbau", display_name="K")


def page(cast, name: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
    return reverse(f"publishing:{name}", kwargs={"slug": cast.workspace.slug, **kwargs})


def test_the_composer_offers_the_running_goals_and_saves_the_chosen_one(cast, channel) -> None:
    running = make_goal(cast.workspace)
    ended = make_goal(cast.workspace, "Frühjahr", start=TODAY - dt.timedelta(days=90), deadline=TODAY - dt.timedelta(1))
    make_goal(cast.other_workspace, "Charlies Ziel")

    form = ComposeForm(workspace=cast.workspace)
    assert list(form.fields["goal"].queryset) == [running]  # type: ignore[attr-defined]
    html = client_for(cast.bob).get(page(cast, "compose"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Mehr Besuche aus Social" in html and "Frühjahr" not in html and "Charlies Ziel" not in html

    response = client_for(cast.bob).post(
        page(cast, "compose"),
        {"text": "Neue Karte!", "channels": [channel.pk], "purpose": "value", "when": "draft", "goal": running.pk},
    )
    assert response.status_code == 302
    post = Post.objects.get()
    assert post.goal == running
    assert AuditEvent.objects.get(action="post.create_draft").data["goal"] == running.pk
    assert ended.posts.count() == 0


def test_the_goal_is_optional(cast, channel) -> None:
    make_goal(cast.workspace)
    response = client_for(cast.bob).post(
        page(cast, "compose"), {"text": "Hallo", "channels": [channel.pk], "purpose": "value", "when": "draft"}
    )
    assert response.status_code == 302
    assert Post.objects.get().goal is None


def test_a_goal_of_another_workspace_is_refused(cast, channel) -> None:
    theirs = make_goal(cast.other_workspace, "Charlies Ziel")
    response = client_for(cast.bob).post(
        page(cast, "compose"),
        {"text": "Hallo", "channels": [channel.pk], "purpose": "value", "when": "draft", "goal": theirs.pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Post.objects.exists()

    with pytest.raises(ActionError):
        do_create_post(Actor.system("t"), cast.workspace, text="Hallo", channels=[channel], goal=theirs)
    post = do_create_post(Actor.system("t"), cast.workspace, text="Hallo", channels=[channel])
    with pytest.raises(ActionError):
        do_set_post_goal(Actor(user=cast.bob), post, theirs)
    with pytest.raises(ActionError):
        do_update_post(Actor(user=cast.bob), post, text="Hallo", goal=theirs)
    post.refresh_from_db()
    assert post.goal is None


def test_editing_changes_the_goal_and_keeps_an_ended_one_the_post_has(cast, channel) -> None:
    running = make_goal(cast.workspace)
    ended = make_goal(cast.workspace, "Frühjahr", start=TODAY - dt.timedelta(days=90), deadline=TODAY - dt.timedelta(1))
    post = do_create_post(Actor.system("t"), cast.workspace, text="Hallo", channels=[channel], goal=ended)

    form = PostEditForm(workspace=cast.workspace, current_goal=post.goal_id, channels=[channel])
    assert set(form.fields["goal"].queryset) == {running, ended}  # type: ignore[attr-defined]
    url = page(cast, "post_edit", post_id=post.pk)
    base = {"text": "Hallo", "purpose": "value"}
    assert client_for(cast.bob).post(url, {**base, "goal": ended.pk}).status_code == 302
    post.refresh_from_db()
    assert post.goal == ended  # saving without touching it keeps it
    assert client_for(cast.bob).post(url, {**base, "goal": running.pk}).status_code == 302
    post.refresh_from_db()
    assert post.goal == running
    assert client_for(cast.bob).post(url, {**base, "goal": ""}).status_code == 302
    post.refresh_from_db()
    assert post.goal is None


def test_other_edits_leave_the_goal_alone(cast, channel) -> None:
    goal = make_goal(cast.workspace)
    post = do_create_post(Actor.system("t"), cast.workspace, text="Hallo", channels=[channel], goal=goal)
    do_update_post(Actor(user=cast.bob), post, text="Hallo Welt")
    post.refresh_from_db()
    assert (post.text, post.goal) == ("Hallo Welt", goal)


def test_a_published_post_gets_its_goal_on_the_post_page(cast, channel) -> None:
    goal = make_goal(cast.workspace)
    post = do_create_post(Actor.system("t"), cast.workspace, text="Hallo", channels=[channel])
    Delivery.objects.filter(post=post).update(state="published", published_at=NOW)
    Post.objects.filter(pk=post.pk).update(status="published")

    html = client_for(cast.bob).get(page(cast, "post", post_id=post.pk), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page(cast, "post_goal", post_id=post.pk) in html and "Mehr Besuche aus Social" in html

    url = page(cast, "post_goal", post_id=post.pk)
    assert client_for(cast.anna).post(url, {"goal": goal.pk}).status_code == 403  # analysts read
    assert client_for(cast.charlie).post(url, {"goal": goal.pk}).status_code == 404
    assert client_for(cast.bob).post(url, {"goal": goal.pk}).status_code == 302
    post.refresh_from_db()
    assert post.goal == goal
    event = AuditEvent.objects.get(action="post.goal")
    assert event.data == {"from": None, "to": goal.pk}

    theirs = make_goal(cast.other_workspace, "Charlies Ziel")
    client_for(cast.bob).post(url, {"goal": theirs.pk})
    post.refresh_from_db()
    assert post.goal == goal  # refused with a message, nothing changed


def test_duplicate_copies_the_goal(cast, channel) -> None:
    goal = make_goal(cast.workspace)
    original = do_create_post(Actor.system("t"), cast.workspace, text="Hallo", channels=[channel], goal=goal)
    client_for(cast.bob).post(page(cast, "post_duplicate", post_id=original.pk))
    copy = Post.objects.exclude(pk=original.pk).get()
    assert copy.goal == goal


def test_a_deleted_goal_leaves_its_posts_without_one(cast, channel) -> None:
    goal = make_goal(cast.workspace)
    post = do_create_post(Actor.system("t"), cast.workspace, text="Hallo", channels=[channel], goal=goal)
    goal.delete()
    post.refresh_from_db()
    assert post.goal is None


# --- CSV import ----------------------------------------------------------------------------


def read(cast, content: str) -> imports.Preview:  # type: ignore[no-untyped-def]
    return imports.read_csv(cast.workspace, content.encode(), now=NOW)


def test_the_goal_column_names_a_running_goal(cast, channel) -> None:
    goal = make_goal(cast.workspace)
    content = "text,channels,goal\nHallo,koenigsbau,  mehr besuche AUS social \nOhne,koenigsbau,\n"
    preview = read(cast, content)
    assert preview.ok, preview.problems
    assert [row.goal for row in preview.rows] == [goal, None]

    posts = imports.do_import_csv(Actor(user=cast.bob), cast.workspace, content.encode(), now=NOW)
    assert [post.goal for post in posts] == [goal, None]


def test_german_files_name_the_column_ziel(cast, channel) -> None:
    goal = make_goal(cast.workspace, "Stammgäste")
    preview = read(cast, "Text;Kanäle;Ziel\nHallo;koenigsbau;Stammgäste\n")
    assert preview.ok and preview.rows[0].goal == goal


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "Weltherrschaft",
            "There is no goal “Weltherrschaft” in this workspace. Running goals: Doppelt, doppelt, Mehr Besuche "
            "aus Social.",
        ),
        ("Frühjahr", "The goal “Frühjahr” ended on 2026-05-31"),
        ("Charlies Ziel", "There is no goal “Charlies Ziel”"),
        ("Doppelt", "2 goals are called “Doppelt”"),
    ],
)
def test_a_goal_that_is_not_there_is_a_row_error(cast, channel, value: str, problem: str) -> None:
    make_goal(cast.workspace)
    make_goal(cast.workspace, "Frühjahr", start=TODAY - dt.timedelta(days=90), deadline=TODAY - dt.timedelta(1))
    make_goal(cast.workspace, "Doppelt")
    make_goal(cast.workspace, "doppelt ")
    make_goal(cast.other_workspace, "Charlies Ziel")
    with translation.override("en"):
        preview = read(cast, f"text,channels,goal\nHallo,koenigsbau,{value}\n")
    assert not preview.ok
    [found] = preview.problems
    assert (found.row, found.column) == (2, "goal")
    assert problem in found.message


def test_the_import_page_shows_the_goal_and_refuses_a_file_with_an_unknown_one(cast, channel) -> None:
    make_goal(cast.workspace)
    client = client_for(cast.bob)
    good = SimpleUploadedFile("p.csv", b"text,channels,goal\nHallo,koenigsbau,Mehr Besuche aus Social\n")
    html = client.post(
        page(cast, "import"), {"file": good, "undated": "draft"}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Goal: Mehr Besuche aus Social" in html
    bad = SimpleUploadedFile("p.csv", b"text,channels,goal\nHallo,koenigsbau,Unbekannt\n")
    html = client.post(
        page(cast, "import"), {"file": bad, "undated": "draft"}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "There is no goal “Unbekannt”" in html
    assert not Post.objects.exists()


def test_the_template_names_the_goal_column(cast, channel) -> None:
    make_goal(cast.workspace)
    english = imports.template_csv(cast.workspace, "en", today=TODAY).decode()
    assert english.splitlines()[0].endswith(",goal") and "Mehr Besuche aus Social" in english
    german = imports.template_csv(cast.workspace, "de", today=TODAY).decode("utf-8-sig")
    assert german.splitlines()[0].endswith(";Ziel")
