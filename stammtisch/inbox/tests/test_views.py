"""The inbox pages: list and filters, the conversation, replies, labels, access, escaping."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from conftest import client_for
from stammtisch.inbox import ingest
from stammtisch.inbox.models import Conversation, Message, Reply, SavedReply, TriageCorrection
from stammtisch.inbox.tests.fake import comment
from stammtisch.inbox.tests.test_ingest import BAD_TEXTS
from stammtisch.networks.base import Event

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _store(channel, now, *events: Event) -> None:  # type: ignore[no-untyped-def]
    ingest.store_events(channel, list(events), now=now)


def _list(user, slug: str = "cafe-koenigsbau", **filters: str) -> str:  # type: ignore[no-untyped-def]
    response = client_for(user).get(reverse("inbox:list", args=[slug]), filters, **EN)
    assert response.status_code == 200
    return response.content.decode()


def test_the_list_shows_conversations_newest_first_and_oldest_first(cast, channel, now) -> None:
    _store(channel, now, comment(1, post="post-1", text="Erster Kommentar"), comment(2, post="post-2", text="Zweiter"))
    page = _list(cast.bob)
    assert page.index("Zweiter") < page.index("Erster Kommentar")
    page = _list(cast.bob, order="oldest")
    assert page.index("Erster Kommentar") < page.index("Zweiter")


def test_the_list_filters_by_status_labels_channel_and_assignee(cast, channel, now) -> None:
    _store(channel, now, comment(1, post="post-1", text="Alpha"), comment(2, post="post-2", text="Beta"))
    Conversation.objects.filter(root_remote_id="post-1").update(
        status="done", sentiment="negative", intent="complaint", language="de", assignee=cast.bob
    )
    assert "Alpha" in _list(cast.bob, status="done") and "Beta" not in _list(cast.bob, status="done")
    assert "Beta" in _list(cast.bob, status="open") and "Alpha" not in _list(cast.bob, status="open")
    assert "Alpha" in _list(cast.bob, sentiment="negative") and "Beta" not in _list(cast.bob, sentiment="negative")
    assert "Beta" not in _list(cast.bob, intent="complaint")
    assert "Beta" not in _list(cast.bob, language="de")
    assert "Beta" not in _list(cast.bob, assignee="me") and "Alpha" in _list(cast.bob, assignee="me")
    assert "Alpha" not in _list(cast.bob, assignee="none")
    assert "Alpha" in _list(cast.bob, channel=str(channel.pk))
    from stammtisch.networks.models import Channel

    other = Channel.objects.create(workspace=cast.workspace, network="inboxfake", handle="zwei", display_name="Zwei")
    assert "Alpha" not in _list(cast.bob, channel=str(other.pk))
    assert "Alpha" in _list(cast.bob, status="nonsense", channel="999999")  # unknown values are ignored
    assert "Beta" not in _list(cast.bob, status="done", channel="999999")  # ... the other filters are not


def test_the_conversation_shows_our_post_and_is_a_partial_for_htmx(cast, channel, now) -> None:
    from stammtisch.publishing.models import Delivery, Post

    post = Post.objects.create(workspace=cast.workspace, text="Maultaschen heute!")
    Delivery.objects.create(post=post, channel=channel, text="Maultaschen heute, auch vegan!", remote_id="post-1")
    _store(channel, now, comment(1, text="Auch vegan?"))
    conversation = Conversation.objects.get()
    url = reverse("inbox:conversation", args=["cafe-koenigsbau", conversation.pk])
    whole = client_for(cast.bob).get(url, **EN).content.decode()
    assert "Maultaschen heute, auch vegan!" in whole and "Auch vegan?" in whole and "<html" in whole
    partial = client_for(cast.bob).get(url, HTTP_HX_REQUEST="true", **EN).content.decode()
    assert "Auch vegan?" in partial and "<html" not in partial


def test_a_reply_from_the_form_is_queued_and_shown_as_pending(cast, channel, now) -> None:
    _store(channel, now, comment(1))
    conversation = Conversation.objects.get()
    url = reverse("inbox:reply", args=["cafe-koenigsbau", conversation.pk])
    response = client_for(cast.bob).post(url, {"text": "Ja, ab 10 Uhr!"}, HTTP_HX_REQUEST="true", **EN)
    assert response.status_code == 200
    reply = Reply.objects.get()
    assert (reply.text, reply.in_reply_to, reply.author) == ("Ja, ab 10 Uhr!", "c-1", cast.bob)
    page = response.content.decode()
    assert "Ja, ab 10 Uhr!" in page and "Waiting to be sent" in page


def test_an_empty_reply_is_refused(cast, channel, now) -> None:
    _store(channel, now, comment(1))
    url = reverse("inbox:reply", args=["cafe-koenigsbau", Conversation.objects.get().pk])
    assert client_for(cast.bob).post(url, {"text": "   "}, **EN).status_code == 400
    assert not Reply.objects.exists()


def test_done_reopen_and_assign(cast, channel, now) -> None:
    _store(channel, now, comment(1))
    conversation = Conversation.objects.get()
    client = client_for(cast.bob)
    client.post(reverse("inbox:status", args=["cafe-koenigsbau", conversation.pk]), {"status": "done"})
    conversation.refresh_from_db()
    assert conversation.status == "done"
    client.post(reverse("inbox:status", args=["cafe-koenigsbau", conversation.pk]), {"status": "open"})
    from stammtisch.core.models import Membership

    bob = Membership.objects.get(user=cast.bob, workspace=cast.workspace)
    client.post(reverse("inbox:assign", args=["cafe-koenigsbau", conversation.pk]), {"member": str(bob.pk)})
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee) == ("open", cast.bob)
    anna = Membership.objects.get(user=cast.anna, workspace=cast.workspace)  # an analyst cannot answer
    response = client.post(reverse("inbox:assign", args=["cafe-koenigsbau", conversation.pk]), {"member": str(anna.pk)})
    assert response.status_code == 400


def test_correcting_a_label_keeps_the_correction(cast, channel, now, monkeypatch) -> None:
    from stammtisch.inbox import labels

    monkeypatch.setattr(labels, "_triage", lambda text: {"language": "de", "sentiment": "neutral", "intent": "other"})
    _store(channel, now, comment(1))
    message = Message.objects.get()
    url = reverse("inbox:label", args=["cafe-koenigsbau", message.pk])
    client_for(cast.bob).post(url, {"field": "intent", "value": "question"})
    message.refresh_from_db()
    assert (message.intent, message.corrected_by) == ("question", cast.bob)
    correction = TriageCorrection.objects.get()
    assert (correction.field, correction.old_value, correction.new_value) == ("intent", "other", "question")
    assert Conversation.objects.get().intent == "question"
    assert client_for(cast.bob).post(url, {"field": "intent", "value": "nonsense"}).status_code == 400


def test_saved_replies_are_offered_with_the_first_name_filled_in(cast, channel, now) -> None:
    SavedReply.objects.create(workspace=cast.workspace, title="Zeiten", text="Hallo {first_name}, ab 10 Uhr! {unknown}")
    _store(channel, now, comment(1))
    url = reverse("inbox:conversation", args=["cafe-koenigsbau", Conversation.objects.get().pk])
    page = client_for(cast.bob).get(url, **EN).content.decode()
    assert 'data-text="Hallo Fan, ab 10 Uhr! {unknown}"' in page


def test_saved_replies_can_be_made_by_editors_only(cast) -> None:
    url = reverse("inbox:saved_replies", args=["cafe-koenigsbau"])
    data = {"title": "Danke", "text": "Danke {first_name}!", "language": "de"}
    assert client_for(cast.carol).post(url, data).status_code == 403
    assert client_for(cast.bob).post(url, data).status_code == 302
    assert SavedReply.objects.get().title == "Danke"


@pytest.mark.parametrize("who", ["anna", "carol"])
def test_analysts_and_reviewers_read_but_change_nothing(cast, channel, now, who: str) -> None:
    _store(channel, now, comment(1, text="Lesbar für alle"))
    conversation = Conversation.objects.get()
    user = getattr(cast, who)
    page = client_for(user).get(reverse("inbox:conversation", args=["cafe-koenigsbau", conversation.pk]), **EN)
    assert page.status_code == 200 and "Lesbar für alle" in page.content.decode()
    assert "Send reply" not in page.content.decode()
    url = reverse("inbox:reply", args=["cafe-koenigsbau", conversation.pk])
    assert client_for(user).post(url, {"text": "Hallo"}).status_code == 403
    assert not Reply.objects.exists()


def test_charlie_sees_nothing(cast, channel, now) -> None:
    _store(channel, now, comment(1))
    conversation = Conversation.objects.get()
    charlie = client_for(cast.charlie)
    assert charlie.get(reverse("inbox:list", args=["cafe-koenigsbau"])).status_code == 404
    own = reverse("inbox:conversation", args=["charlies-chili", conversation.pk])
    assert charlie.get(own).status_code == 404
    page = charlie.get(reverse("inbox:list", args=["charlies-chili"])).content.decode()
    assert "Kommentar 1" not in page


def test_untrusted_text_is_rendered_escaped(cast, channel, now) -> None:
    evil = '<script>alert("x")</script><img src=x onerror="alert(1)">'
    event = comment(1, text=evil)
    event = Event(**{**event.__dict__, "author_name": "<b onmouseover=alert(2)>Mallory</b>"})
    _store(channel, now, event)
    conversation = Conversation.objects.get()
    for url in (
        reverse("inbox:list", args=["cafe-koenigsbau"]),
        reverse("inbox:conversation", args=["cafe-koenigsbau", conversation.pk]),
    ):
        page = client_for(cast.bob).get(url, **EN).content.decode()
        assert "<script>alert" not in page
        assert "<img src=x onerror" not in page
        assert "<b onmouseover" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
        assert "onerror=&quot;alert(1)&quot;" in page


@pytest.mark.parametrize("name", list(BAD_TEXTS))
def test_bad_texts_render(cast, channel, now, name: str) -> None:
    _store(channel, now, comment(1, text=BAD_TEXTS[name] or " "))
    conversation = Conversation.objects.get()
    client = client_for(cast.bob)
    assert client.get(reverse("inbox:list", args=["cafe-koenigsbau"]), **EN).status_code == 200
    url = reverse("inbox:conversation", args=["cafe-koenigsbau", conversation.pk])
    response = client.get(url, **EN)
    assert response.status_code == 200
    assert "\x00" not in response.content.decode()


def test_the_age_is_shown(cast, channel, now) -> None:
    _store(channel, now, comment(1))
    Conversation.objects.update(last_message_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))
    assert "3\xa0hours ago" in _list(cast.bob)
