"""Live updates of the inbox list: the poller's endpoint returns only what is newer than the
newest row shown, with the list's filters, and the poller again with the new `since`."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stammtisch.inbox.models import Conversation
from stammtisch.networks.models import Channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(cast) -> dict[str, Conversation]:
    channel = Channel.objects.create(workspace=cast.workspace, network="sandbox", handle="c", display_name="C")
    base = timezone.now() - dt.timedelta(hours=1)

    def make(name: str, minutes: int, status: str = "open") -> Conversation:
        return Conversation.objects.create(
            workspace=cast.workspace,
            channel=channel,
            kind="comments",
            root_remote_id=name,
            status=status,
            last_message_at=base + dt.timedelta(minutes=minutes),
            excerpt=f"text of {name}",
            author_name=name,
        )

    return {"old": make("old", 0), "shown": make("shown", 10), "new": make("new", 20), "done": make("done", 30, "done")}


def client(user) -> Client:
    found = Client(HTTP_ACCEPT_LANGUAGE="en")
    found.force_login(user)
    return found


def live(user, since: dt.datetime, **filters: str):
    return client(user).get(reverse("inbox:live", args=["cafe-koenigsbau"]), {"since": since.isoformat(), **filters})


def test_the_list_carries_a_poller_starting_at_its_newest_row(cast, rows) -> None:
    page = client(cast.carol).get(reverse("inbox:list", args=[cast.workspace.slug]))
    text = page.content.decode()
    assert 'id="inbox-live"' in text and 'hx-trigger="every 10s"' in text
    assert "since=" + quote(rows["done"].last_message_at.astimezone(cast.workspace.tz).isoformat()) in text
    oldest = client(cast.carol).get(reverse("inbox:list", args=[cast.workspace.slug]), {"order": "oldest"})
    assert 'id="inbox-live"' not in oldest.content.decode()  # new rows would not belong at the top


def test_only_rows_newer_than_the_newest_shown_come_back(cast, rows) -> None:
    answer = live(cast.carol, rows["shown"].last_message_at)
    assert answer.status_code == 200
    text = answer.content.decode()
    assert [r.pk for r in answer.context["rows"]] == [rows["done"].pk, rows["new"].pk]
    assert f'id="inbox-row-{rows["new"].pk}"' in text and f'id="inbox-row-{rows["old"].pk}"' not in text
    assert 'hx-swap-oob="afterbegin:#inbox-rows"' in text
    assert "2 new or updated conversations" in text
    assert answer.context["since"] == rows["done"].last_message_at  # the next poll starts there


def test_the_filters_of_the_list_apply_and_nothing_new_is_an_empty_poller(cast, rows) -> None:
    answer = live(cast.carol, rows["shown"].last_message_at, status="open")
    assert [r.pk for r in answer.context["rows"]] == [rows["new"].pk]
    assert "status=open" in answer.content.decode()  # the next poll keeps the filter
    quiet = live(cast.carol, rows["done"].last_message_at)
    assert quiet.context["rows"] == [] and "inbox-row-" not in quiet.content.decode()
    assert quiet.context["since"] == rows["done"].last_message_at


def test_an_updated_conversation_comes_back_and_text_is_escaped(cast, rows) -> None:
    old = rows["old"]
    old.last_message_at = timezone.now()
    old.excerpt = "<script>alert(1)</script>"
    old.save()
    answer = live(cast.carol, rows["done"].last_message_at)
    text = answer.content.decode()
    assert [r.pk for r in answer.context["rows"]] == [old.pk]
    assert "<script>alert(1)" not in text and "&lt;script&gt;" in text


def test_a_garbled_since_means_now(cast, rows) -> None:
    answer = client(cast.carol).get(reverse("inbox:live", args=[cast.workspace.slug]), {"since": "yesterday"})
    assert answer.status_code == 200 and answer.context["rows"] == []


def test_the_poll_keeps_the_lists_label_filter(cast, rows) -> None:
    from stammtisch.inbox.models_rules import ConversationLabel

    ConversationLabel.objects.create(workspace=cast.workspace, conversation=rows["new"], name="Rückruf")
    answer = live(cast.carol, rows["shown"].last_message_at, label="Rückruf")
    assert [r.pk for r in answer.context["rows"]] == [rows["new"].pk]
