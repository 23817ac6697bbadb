"""The inbox's team tools: saved views, bulk actions, labels, @mentions in notes, reply approval
and like / hide / delete on the network."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import client_for
from stammtisch.core.actions import ActionError, Actor
from stammtisch.inbox import actions, actions_team, ingest, replies
from stammtisch.inbox.models import (
    Conversation,
    ConversationLabel,
    InboxSettings,
    Message,
    NetworkAction,
    Reply,
    SavedView,
)
from stammtisch.inbox.tests import fake
from stammtisch.inbox.tests.fake import comment
from stammtisch.networks import registry
from stammtisch.networks.base import NetworkError, Remote
from stammtisch.networks.models import Channel
from stammtisch.notifications import kinds
from stammtisch.notifications.models import Notification

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
SLUG = "cafe-koenigsbau"


def _actor(user) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=user, label=user.get_username())


def _two(channel, now) -> tuple[Conversation, Conversation]:  # type: ignore[no-untyped-def]
    ingest.store_events(
        channel, [comment(1, post="post-1", text="Alpha"), comment(2, post="post-2", text="Beta")], now=now
    )
    return Conversation.objects.get(root_remote_id="post-1"), Conversation.objects.get(root_remote_id="post-2")


# --- saved views -----------------------------------------------------------------------------------


def test_a_saved_view_keeps_only_known_filters_and_shows_as_a_tab(cast, channel, now) -> None:
    _two(channel, now)
    url = reverse("inbox:save_view", args=[SLUG])
    query = "status=done&evil=%3Cscript%3E&intent=complaint"
    assert client_for(cast.bob).post(url, {"name": "Erledigte <Beschwerden>", "query": query}).status_code == 302
    view = SavedView.objects.get()
    assert view.query == "status=done&intent=complaint" and view.owner == cast.bob and not view.shared

    page = client_for(cast.bob).get(reverse("inbox:list", args=[SLUG]), **EN).content.decode()
    assert "Erledigte &lt;Beschwerden&gt;" in page and "?status=done&amp;intent=complaint" in page
    # private: alice does not see bob's view
    assert "Erledigte" not in client_for(cast.alice).get(reverse("inbox:list", args=[SLUG])).content.decode()


def test_a_shared_view_is_seen_by_the_team_and_only_members_who_answer_share(cast, channel, now) -> None:
    url = reverse("inbox:save_view", args=[SLUG])
    client_for(cast.bob).post(url, {"name": "Offen", "query": "status=open", "shared": "1"})
    assert "Offen" in client_for(cast.anna).get(reverse("inbox:list", args=[SLUG])).content.decode()
    with pytest.raises(ActionError):
        actions_team.do_save_view(_actor(cast.anna), cast.workspace, name="Meins", query="", shared=True)
    actions_team.do_save_view(_actor(cast.anna), cast.workspace, name="Meins", query="", shared=False)


def test_only_the_owner_deletes_a_view_and_a_private_one_is_invisible(cast) -> None:
    private = SavedView.objects.create(workspace=cast.workspace, owner=cast.bob, name="Bobs")
    shared = SavedView.objects.create(workspace=cast.workspace, owner=cast.bob, name="Team", shared=True)
    assert client_for(cast.alice).post(reverse("inbox:delete_view", args=[SLUG, private.pk])).status_code == 404
    client_for(cast.anna).post(reverse("inbox:delete_view", args=[SLUG, shared.pk]))
    assert SavedView.objects.filter(pk=shared.pk).exists()  # an analyst cannot delete the team's view
    client_for(cast.bob).post(reverse("inbox:delete_view", args=[SLUG, private.pk]))
    assert not SavedView.objects.filter(pk=private.pk).exists()


# --- bulk ------------------------------------------------------------------------------------------


def test_bulk_marks_done_assigns_and_labels_only_this_workspaces_conversations(cast, channel, now) -> None:
    alpha, beta = _two(channel, now)
    foreign_channel = Channel.objects.create(workspace=cast.other_workspace, network="inboxfake", handle="chili")
    ingest.store_events(foreign_channel, [comment(9, post="post-9", text="Fremd")], now=now)
    foreign = Conversation.objects.get(channel=foreign_channel)
    url = reverse("inbox:bulk", args=[SLUG])
    client = client_for(cast.bob)

    response = client.post(url, {"conversation": [alpha.pk, beta.pk, foreign.pk], "operation": "done"})
    assert response.status_code == 302
    assert set(Conversation.objects.filter(status="done").values_list("pk", flat=True)) == {alpha.pk, beta.pk}

    from stammtisch.core.models import Membership

    bob = Membership.objects.get(workspace=cast.workspace, user=cast.bob)
    client.post(url, {"conversation": [alpha.pk, foreign.pk], "operation": "assign", "member": bob.pk})
    assert Conversation.objects.get(pk=alpha.pk).assignee == cast.bob
    assert Conversation.objects.get(pk=foreign.pk).assignee is None

    client.post(url, {"conversation": [alpha.pk, beta.pk, foreign.pk], "operation": "label", "label": "Rückruf"})
    assert set(ConversationLabel.objects.values_list("conversation_id", flat=True)) == {alpha.pk, beta.pk}
    page = client.get(reverse("inbox:list", args=[SLUG]), {"label": "Rückruf", "status": "done"}).content.decode()
    assert "Alpha" in page and "Beta" in page

    # another workspace's member cannot be chosen
    charlie = Membership.objects.get(user=cast.charlie)
    assert client.post(url, {"conversation": [beta.pk], "operation": "assign", "member": charlie.pk}).status_code == 404


def test_bulk_needs_edit(cast, channel, now) -> None:
    alpha, _beta = _two(channel, now)
    url = reverse("inbox:bulk", args=[SLUG])
    assert client_for(cast.anna).post(url, {"conversation": [alpha.pk], "operation": "done"}).status_code == 403
    assert Conversation.objects.get(pk=alpha.pk).status == "open"


# --- labels and mentions ---------------------------------------------------------------------------


def test_a_label_is_added_and_removed_and_escaped(cast, channel, now) -> None:
    alpha, _beta = _two(channel, now)
    client = client_for(cast.bob)
    client.post(reverse("inbox:add_label", args=[SLUG, alpha.pk]), {"name": "<img src=x onerror=alert(1)>"})
    label = ConversationLabel.objects.get()
    page = client.get(reverse("inbox:conversation", args=[SLUG, alpha.pk])).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    client.post(reverse("inbox:remove_label", args=[SLUG, label.pk]))
    assert not ConversationLabel.objects.exists()


def test_a_note_notifies_the_members_it_mentions(cast, channel, now) -> None:
    alpha, _beta = _two(channel, now)
    text = "@alice @Carol bitte schauen, @charlie, @anna und @bob (ich selbst) nicht; mail@adam.de auch nicht"
    response = client_for(cast.bob).post(reverse("inbox:note", args=[SLUG, alpha.pk]), {"text": text})
    assert response.status_code == 302
    notified = set(
        Notification.objects.filter(kind=kinds.INBOX_MENTIONED).values_list("recipient__username", flat=True)
    )
    assert notified == {"alice", "carol"}
    assert alpha.notes.get().text == text


def test_assigning_someone_else_notifies_them(cast, channel, now) -> None:
    from stammtisch.core.models import Membership

    alpha, _beta = _two(channel, now)
    actions.do_assign(_actor(cast.alice), alpha, Membership.objects.get(workspace=cast.workspace, user=cast.bob))
    actions.do_assign(_actor(cast.bob), alpha, Membership.objects.get(workspace=cast.workspace, user=cast.bob))
    assert list(Notification.objects.values_list("kind", "recipient__username")) == [(kinds.INBOX_ASSIGNED, "bob")]


# --- reply approval --------------------------------------------------------------------------------


@pytest.fixture
def approval(cast) -> None:  # type: ignore[no-untyped-def]
    InboxSettings.objects.create(workspace=cast.workspace, replies_need_approval=True)


def test_an_editors_reply_waits_and_is_never_sent_until_approved(cast, channel, now, approval) -> None:
    alpha, _beta = _two(channel, now)
    reply = actions.do_reply(_actor(cast.bob), alpha, "Ja, gerne!")
    assert reply.state == Reply.State.AWAITING_APPROVAL
    assert Notification.objects.filter(kind=kinds.INBOX_REPLY_APPROVAL, recipient=cast.carol).exists()
    assert not Notification.objects.filter(kind=kinds.INBOX_REPLY_APPROVAL, recipient=cast.bob).exists()

    assert replies.run_due("w1", now=now) == 0
    assert fake.STATE.reply_calls() == 0 and Reply.objects.get().state == "approval"

    page = client_for(cast.carol).get(reverse("inbox:conversation", args=[SLUG, alpha.pk]), **EN).content.decode()
    assert "Waiting for approval" in page and "Approve and send" in page
    url = reverse("inbox:decide_reply", args=[SLUG, reply.pk])
    refused = client_for(cast.bob).post(url, {"decision": "approve"}, **EN)  # editors do not approve
    assert refused.status_code == 400 and "Only reviewers, admins and owners" in refused.content.decode()
    assert Reply.objects.get().state == "approval"
    assert client_for(cast.carol).post(url, {"decision": "approve"}).status_code == 302
    reply.refresh_from_db()
    assert reply.state == "pending" and reply.decided_by == cast.carol

    assert replies.run_due("w1", now=timezone.now()) == 1
    assert fake.STATE.reply_calls() == 1


def test_a_rejected_reply_is_never_sent(cast, channel, now, approval) -> None:
    alpha, _beta = _two(channel, now)
    reply = actions.do_reply(_actor(cast.bob), alpha, "Nein.")
    actions_team.do_decide_reply(_actor(cast.adam), reply, approve=False)
    assert Reply.objects.get().state == "rejected"
    with pytest.raises(ActionError):  # decided once
        actions_team.do_decide_reply(_actor(cast.alice), reply, approve=True)
    assert replies.run_due("w1", now=now) == 0 and fake.STATE.reply_calls() == 0


def test_admins_replies_go_at_once_and_without_the_setting_nothing_waits(cast, channel, now, approval) -> None:
    alpha, beta = _two(channel, now)
    assert actions.do_reply(_actor(cast.adam), alpha, "Sofort").state == "pending"
    InboxSettings.objects.update(replies_need_approval=False)
    assert actions.do_reply(_actor(cast.bob), beta, "Auch sofort").state == "pending"


def test_the_setting_is_changed_by_owners_and_admins(cast) -> None:
    url = reverse("inbox:settings", args=[SLUG])
    assert client_for(cast.bob).post(url, {"replies_need_approval": "on"}).status_code == 403
    assert client_for(cast.adam).post(url, {"replies_need_approval": "on"}).status_code == 302
    assert actions_team.replies_need_approval(cast.workspace)


# --- like, hide, delete on the network -------------------------------------------------------------


class ModeratingFake(fake.InboxFakeNetwork):
    key = "inboxmod"
    supports_moderation = frozenset({"like", "hide", "unhide"})
    calls: list[tuple[str, str, bool]] = []
    fail_with: NetworkError | None = None

    def like(self, channel: object, remote: Remote) -> None:
        self._call("like", remote.id, True)

    def hide(self, channel: object, remote: Remote, hidden: bool = True) -> None:
        self._call("hide", remote.id, hidden)

    def _call(self, what: str, remote_id: str, flag: bool) -> None:
        if ModeratingFake.fail_with is not None:
            raise ModeratingFake.fail_with
        ModeratingFake.calls.append((what, remote_id, flag))


@pytest.fixture
def moderating(cast, settings, monkeypatch) -> Channel:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(registry.CONNECTORS, "inboxmod", ("Moderating fake", f"{__name__}.ModeratingFake"))
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "inboxmod": True}
    monkeypatch.setattr(ModeratingFake, "calls", [])
    monkeypatch.setattr(ModeratingFake, "fail_with", None)
    return Channel.objects.create(workspace=cast.workspace, network="inboxmod", handle="mod")


def test_like_and_hide_call_the_network_and_are_recorded(cast, moderating, now) -> None:
    ingest.store_events(moderating, [comment(1, text="Schön hier")], now=now)
    message = Message.objects.get()
    page = client_for(cast.bob).get(reverse("inbox:conversation", args=[SLUG, message.conversation_id]), **EN)
    html = page.content.decode()
    assert "Like on the network" in html and "Hide on the network" in html and "Delete on the network" not in html

    url = reverse("inbox:network", args=[SLUG, message.pk])
    assert client_for(cast.bob).post(url, {"kind": "like"}).status_code == 302
    assert client_for(cast.bob).post(url, {"kind": "hide"}).status_code == 302
    message.refresh_from_db()
    assert message.liked and message.hidden
    assert ModeratingFake.calls == [("like", "c-1", True), ("hide", "c-1", True)]
    assert list(NetworkAction.objects.values_list("kind", "ok")) == [("like", True), ("hide", True)]

    # not supported here: refused before any call
    assert client_for(cast.bob).post(url, {"kind": "delete"}, **EN).status_code == 400
    assert len(ModeratingFake.calls) == 2
    assert client_for(cast.anna).post(url, {"kind": "like"}).status_code == 403


def test_a_network_error_is_shown_and_recorded(cast, moderating, now) -> None:
    ingest.store_events(moderating, [comment(1, text="Schön hier")], now=now)
    message = Message.objects.get()
    ModeratingFake.fail_with = NetworkError("403 <b>not allowed</b>", permanent=True)
    url = reverse("inbox:network", args=[SLUG, message.pk])
    response = client_for(cast.bob).post(url, {"kind": "hide"}, HTTP_HX_REQUEST="true", **EN)
    assert response.status_code == 400
    assert "403 &lt;b&gt;not allowed&lt;/b&gt;" in response.content.decode()
    record = NetworkAction.objects.get()
    assert not record.ok and "not allowed" in record.error
    message.refresh_from_db()
    assert not message.hidden


def test_networks_without_moderation_show_no_buttons(cast, channel, now) -> None:
    ingest.store_events(channel, [comment(1, text="Hallo")], now=now)
    message = Message.objects.get()
    html = client_for(cast.bob).get(reverse("inbox:conversation", args=[SLUG, message.conversation_id]), **EN)
    assert "on the network" not in html.content.decode().replace("deleted on the network", "")
    url = reverse("inbox:network", args=[SLUG, message.pk])
    assert client_for(cast.bob).post(url, {"kind": "like"}).status_code == 400
    assert not NetworkAction.objects.exists()
