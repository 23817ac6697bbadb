"""Inbox rules: run once on each new incoming message at ingestion; assign and notify, hide spam
in Stammtisch (with an undo), label; the rules page for owners and admins."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import ActionError, Actor
from stammtisch.inbox import actions_team, ingest, labels, rules
from stammtisch.inbox.models import Conversation, ConversationLabel, Message, Rule
from stammtisch.inbox.tests.fake import comment
from stammtisch.notifications import kinds
from stammtisch.notifications.models import Notification

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _labels(text: str) -> dict[str, object]:
    if "Kaufen Sie" in text:
        return {"language": "de", "sentiment": "neutral", "intent": "spam", "confidence": 0.9}
    if "kalt" in text:
        return {"language": "de", "sentiment": "negative", "intent": "complaint", "confidence": 0.8}
    return {"language": "de", "sentiment": "positive", "intent": "question", "confidence": 0.7}


@pytest.fixture(autouse=True)
def scripted_triage(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(labels, "_triage", _labels)


def _actor(user) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=user, label=user.get_username())


def test_a_complaint_is_assigned_and_the_assignee_notified(cast, channel, now) -> None:
    rules.do_create_rule(
        _actor(cast.alice), cast.workspace, {"name": "Beschwerden", "intent": "complaint", "assign_to": cast.bob}
    )
    ingest.store_events(
        channel, [comment(1, post="post-1", text="Der Kaffee war kalt"), comment(2, post="post-2")], now=now
    )

    complaint = Conversation.objects.get(root_remote_id="post-1")
    question = Conversation.objects.get(root_remote_id="post-2")
    assert complaint.assignee == cast.bob and question.assignee is None
    [notification] = Notification.objects.filter(kind=kinds.INBOX_ASSIGNED)
    assert notification.recipient == cast.bob
    assert notification.link == reverse("inbox:conversation", args=[cast.workspace.slug, complaint.pk])
    assert Rule.objects.get().matched == 1


def test_rules_run_once_per_message_even_when_it_is_delivered_again(cast, channel, now) -> None:
    rules.do_create_rule(
        _actor(cast.alice), cast.workspace, {"name": "Negativ", "sentiment": "negative", "label": "Ärger"}
    )
    ingest.store_events(channel, [comment(1, text="Der Kaffee war kalt")], now=now)
    ingest.store_events(channel, [comment(1, text="Der Kaffee war kalt")], now=now)

    assert Rule.objects.get().matched == 1
    assert list(ConversationLabel.objects.values_list("name", flat=True)) == ["Ärger"]


def test_a_human_assignment_is_not_overridden(cast, channel, now) -> None:
    rules.do_create_rule(
        _actor(cast.alice), cast.workspace, {"name": "B", "intent": "complaint", "assign_to": cast.bob}
    )
    ingest.store_events(channel, [comment(1, text="Frage")], now=now)
    Conversation.objects.update(assignee=cast.alice)
    ingest.store_events(channel, [comment(2, text="Der Kaffee war kalt")], now=now)

    assert Conversation.objects.get().assignee == cast.alice
    assert not Notification.objects.filter(kind=kinds.INBOX_ASSIGNED).exists()


def test_spam_is_hidden_and_the_undo_shows_it_again(cast, channel, now) -> None:
    rules.do_create_rule(_actor(cast.alice), cast.workspace, {"name": "Spam", "intent": "spam", "hide": True})
    ingest.store_events(
        channel, [comment(1, post="post-1", text="Kaufen Sie jetzt Follower!"), comment(2, post="post-2")], now=now
    )
    spam = Message.objects.get(remote_id="c-1")
    assert spam.muted_at is not None and spam.muted_by_rule is not None
    assert spam.conversation.status == "done"  # nothing else to answer there

    page = client_for(cast.bob).get(reverse("inbox:list", args=[cast.workspace.slug]), **EN).content.decode()
    assert "Kaufen Sie" not in page and "Kommentar 2" in page
    hidden = client_for(cast.bob).get(reverse("inbox:list", args=[cast.workspace.slug]), {"hidden": "1"}, **EN)
    assert "Kaufen Sie" in hidden.content.decode() and "Kommentar 2" not in hidden.content.decode()

    url = reverse("inbox:mute", args=[cast.workspace.slug, spam.pk])
    assert client_for(cast.bob).post(url, {"undo": "1"}).status_code == 302
    spam.refresh_from_db()
    assert spam.muted_at is None and spam.conversation.status == "open"
    page = client_for(cast.bob).get(reverse("inbox:list", args=[cast.workspace.slug]), **EN).content.decode()
    assert "Kaufen Sie" in page


def test_conditions_must_all_match_and_disabled_rules_do_nothing(cast, channel, now) -> None:
    other = channel.__class__.objects.create(workspace=cast.workspace, network="inboxfake", handle="zwei")
    rules.do_create_rule(
        _actor(cast.alice), cast.workspace, {"name": "Nur Zwei", "intent": "complaint", "channel": other, "label": "X"}
    )
    off = rules.do_create_rule(_actor(cast.alice), cast.workspace, {"name": "Aus", "intent": "complaint", "label": "Y"})
    rules.do_set_rule_enabled(_actor(cast.alice), off, False)
    ingest.store_events(channel, [comment(1, text="Der Kaffee war kalt")], now=now)

    assert not ConversationLabel.objects.exists()


def test_a_rule_needs_a_condition_and_an_action_and_a_member_who_may_answer(cast) -> None:
    with pytest.raises(ActionError):
        rules.do_create_rule(_actor(cast.alice), cast.workspace, {"name": "leer", "label": "x"})
    with pytest.raises(ActionError):
        rules.do_create_rule(_actor(cast.alice), cast.workspace, {"name": "nichts", "intent": "spam"})
    with pytest.raises(ActionError):  # carol reviews, she does not answer
        rules.do_create_rule(
            _actor(cast.alice), cast.workspace, {"name": "c", "intent": "spam", "assign_to": cast.carol}
        )
    with pytest.raises(ActionError):  # charlie is no member
        rules.do_create_rule(
            _actor(cast.alice), cast.workspace, {"name": "c", "intent": "spam", "assign_to": cast.charlie}
        )


def test_owners_and_admins_manage_rules_editors_only_read_them(cast) -> None:
    url = reverse("inbox:rules", args=[cast.workspace.slug])
    data = {"name": "Lob", "intent": "praise", "label": "Lob", "enabled": "on"}
    assert client_for(cast.bob).post(url, data).status_code == 403
    assert client_for(cast.bob).get(url).status_code == 200
    assert client_for(cast.adam).post(url, data).status_code == 302
    rule = Rule.objects.get()
    assert rule.enabled and rule.label == "Lob" and rule.created_by == cast.adam

    edit = reverse("inbox:rule_edit", args=[cast.workspace.slug, rule.pk])
    assert client_for(cast.bob).post(edit, {**data, "name": "Anders"}).status_code == 403
    response = client_for(cast.alice).post(edit, {**data, "name": "Lob <b>fett</b>", "sentiment": "positive"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Lob <b>fett</b>" and rule.sentiment == "positive"
    page = client_for(cast.bob).get(url, **EN).content.decode()
    assert "Lob &lt;b&gt;fett&lt;/b&gt;" in page and "<b>fett</b>" not in page

    client_for(cast.alice).post(reverse("inbox:rule_enable", args=[cast.workspace.slug, rule.pk]), {"enabled": "0"})
    assert not Rule.objects.get().enabled
    client_for(cast.alice).post(reverse("inbox:rule_delete", args=[cast.workspace.slug, rule.pk]))
    assert not Rule.objects.exists()


def test_an_invalid_rule_form_is_shown_again(cast) -> None:
    url = reverse("inbox:rules", args=[cast.workspace.slug])
    response = client_for(cast.alice).post(url, {"name": "Ohne Bedingung", "label": "x"}, **EN)
    assert response.status_code == 400
    assert "at least one condition" in response.content.decode()
    assert not Rule.objects.exists()


def test_another_workspaces_rule_is_not_found(cast) -> None:
    rule = Rule.objects.create(workspace=cast.other_workspace, name="Fremd", intent="spam", hide=True)
    url = reverse("inbox:rule_edit", args=[cast.workspace.slug, rule.pk])
    assert client_for(cast.alice).get(url).status_code == 404


def test_unmuting_by_action_reopens_only_incoming(cast, channel, now) -> None:
    ingest.store_events(channel, [comment(1, text="Kaufen Sie hier")], now=now)
    message = Message.objects.get()
    actions_team.do_mute(_actor(cast.bob), message)
    message.refresh_from_db()
    assert message.muted_at is not None and Conversation.objects.get().status == "done"
    actions_team.do_unmute(_actor(cast.bob), message)
    assert Conversation.objects.get().status == "open"
