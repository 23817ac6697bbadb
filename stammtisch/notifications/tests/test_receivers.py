"""Each event reaches the right people, and only them."""

from __future__ import annotations

import logging

from stammtisch.notifications import kinds
from stammtisch.notifications.models import Notification
from stammtisch.notifications.tests.conftest import (
    failed_delivery,
    send_approval_decided,
    send_approval_requested,
    send_failed,
)
from stammtisch.publishing import signals
from stammtisch.publishing.models import Post


def recipients(kind: str) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True))


def test_a_failed_post_tells_its_author_and_the_owners_and_admins(cast, channel, frozen):
    delivery = failed_delivery(cast, channel, author=cast.bob)

    send_failed(delivery, error="Sandbox: 503 Service Unavailable")

    assert recipients(kinds.PUBLISHING_FAILED) == {"bob", "alice", "adam"}
    bobs = Notification.objects.get(recipient=cast.bob)
    assert bobs.workspace == cast.workspace
    assert bobs.count == 1
    assert bobs.link == f"/w/cafe-koenigsbau/posts/{delivery.post_id}/"
    assert (bobs.object_type, bobs.object_id) == ("delivery", str(delivery.pk))
    assert bobs.data["channel"] == "Café Facebook"
    assert bobs.data["error"] == "Sandbox: 503 Service Unavailable"
    assert bobs.read_at is None and bobs.emailed_at is None


def test_a_failed_post_without_author_tells_owners_and_admins(cast, channel, frozen):
    send_failed(failed_delivery(cast, channel, author=None))

    assert recipients(kinds.PUBLISHING_FAILED) == {"alice", "adam"}


def test_a_channel_needing_reconnection_tells_owners_and_admins(cast, channel, frozen):
    signals.channel_needs_reconnect.send(type(channel), channel=channel, error="401 token revoked")

    assert recipients(kinds.CHANNEL_RECONNECT) == {"alice", "adam"}
    notification = Notification.objects.get(recipient=cast.alice)
    assert notification.link == "/w/cafe-koenigsbau/channels/"
    assert notification.data["error"] == "401 token revoked"


def test_an_approval_request_asks_everyone_who_may_approve_except_the_author(cast, channel, frozen):
    post = Post.objects.create(workspace=cast.workspace, author=cast.bob, text="Neue Herbstkarte")

    send_approval_requested(post, cast.bob)

    # carol (reviewer), alice (owner) and adam (admin) may approve; bob wrote it, anna only reads.
    assert recipients(kinds.APPROVAL_REQUESTED) == {"carol", "alice", "adam"}
    first = Notification.objects.filter(kind=kinds.APPROVAL_REQUESTED).order_by("id").first()
    assert first is not None and first.recipient == cast.carol  # reviewers first
    assert first.data["actor"] == "Bob"


def test_whoever_submits_for_someone_else_is_not_asked_either(cast, channel, frozen):
    post = Post.objects.create(workspace=cast.workspace, author=cast.bob, text="Neue Herbstkarte")

    send_approval_requested(post, cast.adam)

    assert recipients(kinds.APPROVAL_REQUESTED) == {"carol", "alice"}


def test_an_approval_decision_tells_the_author(cast, channel, frozen):
    post = Post.objects.create(workspace=cast.workspace, author=cast.bob, text="Neue Herbstkarte")

    send_approval_decided(post, cast.carol, "changes_requested", comment="Bitte mit Foto")

    assert recipients(kinds.APPROVAL_DECIDED) == {"bob"}
    notification = Notification.objects.get(recipient=cast.bob)
    assert notification.data["decision"] == "changes_requested"
    assert notification.data["comment"] == "Bitte mit Foto"


def test_deciding_on_your_own_post_tells_nobody(cast, channel, frozen):
    post = Post.objects.create(workspace=cast.workspace, author=cast.alice, text="Neue Herbstkarte")

    send_approval_decided(post, cast.alice, "approved")

    assert not Notification.objects.exists()


def test_titles_render_in_the_readers_language_from_stored_data(cast, channel, frozen):
    from django.utils import translation

    post = Post.objects.create(workspace=cast.workspace, author=cast.bob, text="Neue Herbstkarte")
    send_approval_decided(post, cast.carol, "approved")
    notification = Notification.objects.get(recipient=cast.bob)

    with translation.override("en"):
        assert notification.title == "Carol approved your post"
        assert notification.body == "“Neue Herbstkarte”"


def test_outsiders_and_former_members_hear_nothing(cast, channel, frozen):
    from stammtisch.core.models import Membership

    Membership.objects.filter(user=cast.adam).delete()  # adam left the café
    send_failed(failed_delivery(cast, channel, author=cast.bob))

    assert recipients(kinds.PUBLISHING_FAILED) == {"bob", "alice"}
    assert not Notification.objects.filter(recipient=cast.charlie).exists()


def test_a_failing_receiver_never_raises_into_the_publisher(cast, channel, frozen, monkeypatch, caplog):
    from stammtisch.notifications import receivers

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(receivers, "notify", broken)
    delivery = failed_delivery(cast, channel, author=cast.bob)

    with caplog.at_level(logging.ERROR):
        results = signals.delivery_failed.send(type(delivery), delivery=delivery, error="x")

    assert [result for _receiver, result in results] == [None]
    assert "notification receiver on_delivery_failed failed" in caplog.text
    assert not Notification.objects.exists()


def test_notify_refuses_links_to_other_sites(cast):
    import pytest

    from stammtisch.notifications.notify import notify

    for link in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        with pytest.raises(ValueError):
            notify(kinds.CHANNEL_RECONNECT, cast.workspace, [cast.alice], data={}, link=link)
    with pytest.raises(ValueError):
        notify("no_such_kind", cast.workspace, [cast.alice], data={})
    assert not Notification.objects.exists()
