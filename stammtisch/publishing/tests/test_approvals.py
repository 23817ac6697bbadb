"""Approvals as stories (docs/approvals.md): bob submits, carol approves or asks for changes;
nothing waiting for approval is ever claimed by the publisher."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import translation

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.publishing import approvals, publisher, signals
from stammtisch.publishing.actions import (
    do_create_post,
    do_publish_now,
    do_reschedule_post,
    do_retry_delivery,
    do_update_post,
)
from stammtisch.publishing.models import ApprovalEvent, ApprovalLink, Delivery, Post

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
LATER = NOON + dt.timedelta(hours=2)
Kind = ApprovalEvent.Kind
Status = Post.Status


@pytest.fixture(autouse=True)
def english():
    """Refusals are matched by their English text."""
    with translation.override("en"):
        yield


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def required(cast):
    approvals.do_set_approval_settings(Actor(user=cast.alice), cast.workspace, required=True, link_days=7)


def as_(user) -> Actor:
    return Actor(user=user)


def draft(cast, channels, text="Heute: Maultaschen mit Kartoffelsalat!", author=None):
    return do_create_post(as_(author or cast.bob), cast.workspace, text=text, channels=channels)


def submitted(cast, channels, at=LATER, **kwargs):
    return approvals.do_submit_for_approval(as_(cast.bob), draft(cast, channels, **kwargs), at)


def dues(post) -> list:
    return list(Delivery.objects.filter(post=post).values_list("due_at", flat=True))


def kinds(post) -> list[str]:
    return list(ApprovalEvent.objects.filter(post=post).values_list("kind", flat=True))


@pytest.fixture
def captured():
    """Every approval signal sent, as (signal name, kwargs)."""
    sent: list[tuple[str, dict]] = []

    def requested(sender, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(("requested", kwargs))

    def decided(sender, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(("decided", kwargs))

    signals.approval_requested.connect(requested)
    signals.approval_decided.connect(decided)
    yield sent
    signals.approval_requested.disconnect(requested)
    signals.approval_decided.disconnect(decided)


# --- Submitting: the post waits and cannot go out -------------------------------------------------


def test_a_submitted_post_waits_without_due_times_and_is_never_claimed(cast, channel, fake_network, frozen, required):
    post = submitted(cast, [channel])

    post.refresh_from_db()
    assert post.status == Status.PENDING_APPROVAL
    assert post.scheduled_at == LATER
    assert dues(post) == [None]
    assert kinds(post) == [Kind.SUBMITTED]
    assert publisher.run_once("w1", now=LATER + dt.timedelta(days=30)) == 0
    assert publisher.next_due() is None
    assert fake_network.publishes() == 0
    assert AuditEvent.objects.filter(action="post.submit_for_approval", object_id=str(post.pk)).count() == 1


def test_creating_a_post_with_a_time_holds_it_when_approval_is_required(cast, channel, fake_network, frozen, required):
    post = do_create_post(as_(cast.bob), cast.workspace, text="Mittagstisch", channels=[channel], scheduled_at=LATER)

    post.refresh_from_db()
    assert post.status == Status.PENDING_APPROVAL
    assert post.scheduled_at == LATER
    assert dues(post) == [None]
    assert kinds(post) == [Kind.SUBMITTED]
    assert publisher.run_once("w1", now=LATER) == 0


def test_without_required_approval_a_time_schedules_as_before(cast, channel, fake_network, frozen):
    post = do_create_post(as_(cast.bob), cast.workspace, text="Mittagstisch", channels=[channel], scheduled_at=LATER)

    assert post.status == Status.SCHEDULED
    assert dues(post) == [LATER]
    assert kinds(post) == []


def test_submitting_needs_a_channel_and_texts_that_fit(cast, channel, frozen, required):
    without_channel = draft(cast, [])
    with pytest.raises(ActionError, match="at least one channel"):
        approvals.do_submit_for_approval(as_(cast.bob), without_channel, LATER)

    from stammtisch.networks.models import Channel

    on_x = Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="kx", display_name="Königsbau X", stands_in_for="x"
    )
    too_long = draft(cast, [on_x], text="Maultaschen " * 30)
    with pytest.raises(ActionError, match="does not fit"):
        approvals.do_submit_for_approval(as_(cast.bob), too_long, LATER)
    assert Post.objects.get(pk=too_long.pk).status == Status.DRAFT


def test_submitting_refuses_a_time_that_has_passed_and_a_post_already_waiting(cast, channel, frozen, required):
    post = draft(cast, [channel])
    with pytest.raises(ActionError, match="passed"):
        approvals.do_submit_for_approval(as_(cast.bob), post, NOON - dt.timedelta(minutes=1))
    approvals.do_submit_for_approval(as_(cast.bob), post, LATER)
    with pytest.raises(ActionError, match="already waiting"):
        approvals.do_submit_for_approval(as_(cast.bob), post, LATER)


def test_a_stored_pending_status_survives_a_status_refresh(cast, channel, frozen, required):
    post = submitted(cast, [channel])

    assert publisher.refresh_post_status(post.pk) == Status.PENDING_APPROVAL
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL


# --- Deciding ---------------------------------------------------------------------------------------


def test_carol_approves_and_the_post_goes_out_at_the_wanted_time(cast, channel, fake_network, frozen, required):
    post = submitted(cast, [channel])

    approvals.do_approve(as_(cast.carol), post, "Passt!")

    post.refresh_from_db()
    assert post.status == Status.SCHEDULED
    assert dues(post) == [LATER]
    assert kinds(post) == [Kind.SUBMITTED, Kind.APPROVED]
    assert ApprovalEvent.objects.get(post=post, kind=Kind.APPROVED).actor == cast.carol
    assert publisher.run_once("w1", now=LATER - dt.timedelta(minutes=1)) == 0
    assert publisher.run_once("w1", now=LATER) == 1
    post.refresh_from_db()
    assert post.status == Status.PUBLISHED
    assert fake_network.publishes() == 1


def test_without_a_wanted_time_the_approved_post_goes_out_at_once(cast, channel, fake_network, frozen, required):
    post = approvals.do_submit_for_approval(as_(cast.bob), draft(cast, [channel]), None)
    assert post.scheduled_at is None

    approvals.do_approve(as_(cast.carol), post)

    assert dues(post) == [NOON]
    assert publisher.run_once("w1", now=NOON) == 1


def test_nobody_approves_their_own_post_but_owners_and_admins_approve_others(cast, channel, frozen, required):
    bobs = submitted(cast, [channel])
    with pytest.raises(ActionError, match="your own post"):
        approvals.do_approve(as_(cast.bob), bobs)
    with pytest.raises(ActionError, match="your own post"):
        approvals.do_request_changes(as_(cast.bob), bobs, "Ich will das anders")
    assert Post.objects.get(pk=bobs.pk).status == Status.PENDING_APPROVAL
    approvals.do_approve(as_(cast.alice), bobs)
    assert Post.objects.get(pk=bobs.pk).status == Status.SCHEDULED

    alices = approvals.do_submit_for_approval(as_(cast.alice), draft(cast, [channel], author=cast.alice), LATER)
    with pytest.raises(ActionError, match="your own post"):
        approvals.do_approve(as_(cast.alice), alices)
    approvals.do_approve(as_(cast.adam), alices)
    assert Post.objects.get(pk=alices.pk).status == Status.SCHEDULED


def test_an_analyst_and_an_outsider_cannot_decide(cast, channel, frozen, required):
    post = submitted(cast, [channel])
    for user in (cast.anna, cast.charlie):
        with pytest.raises(PermissionDenied):
            approvals.do_approve(as_(user), post)
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL


def test_asking_for_changes_needs_a_comment_and_the_author_resubmits(cast, channel, fake_network, frozen, required):
    post = submitted(cast, [channel])
    with pytest.raises(ActionError, match="what should change"):
        approvals.do_request_changes(as_(cast.carol), post, "   ")
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL

    approvals.do_request_changes(as_(cast.carol), post, "Bitte den Preis nennen.")
    post.refresh_from_db()
    assert post.status == Status.CHANGES_REQUESTED
    assert dues(post) == [None]
    assert publisher.run_once("w1", now=LATER) == 0
    with pytest.raises(ActionError, match="not waiting"):
        approvals.do_approve(as_(cast.carol), post)

    do_update_post(as_(cast.bob), post, text="Maultaschen mit Kartoffelsalat, 9,80 €")
    assert Post.objects.get(pk=post.pk).status == Status.CHANGES_REQUESTED
    approvals.do_submit_for_approval(as_(cast.bob), post, LATER)
    approvals.do_approve(as_(cast.carol), post)
    assert publisher.run_once("w1", now=LATER) == 1
    assert Delivery.objects.get(post=post).text == "Maultaschen mit Kartoffelsalat, 9,80 €"
    assert kinds(post) == [Kind.SUBMITTED, Kind.CHANGES_REQUESTED, Kind.SUBMITTED, Kind.APPROVED]


def test_the_author_withdraws_a_post_back_to_a_draft(cast, channel, frozen, required):
    post = submitted(cast, [channel])

    approvals.do_withdraw(as_(cast.bob), post)

    post.refresh_from_db()
    assert (post.status, post.scheduled_at) == (Status.DRAFT, None)
    assert kinds(post) == [Kind.SUBMITTED, Kind.WITHDRAWN]
    with pytest.raises(PermissionDenied):
        approvals.do_withdraw(as_(cast.carol), submitted(cast, [channel]))


def test_comments_go_into_the_history_from_the_author_too(cast, channel, frozen, required):
    post = submitted(cast, [channel])
    approvals.do_comment(as_(cast.carol), post, "Schönes Foto?")
    approvals.do_comment(as_(cast.bob), post, "Kommt morgen.")
    with pytest.raises(ActionError):
        approvals.do_comment(as_(cast.carol), post, "")
    with pytest.raises(PermissionDenied):
        approvals.do_comment(as_(cast.anna), post, "Hallo")

    history = approvals.history(post)
    assert [(e.kind, e.actor, e.comment) for e in history[1:]] == [
        (Kind.COMMENT, cast.carol, "Schönes Foto?"),
        (Kind.COMMENT, cast.bob, "Kommt morgen."),
    ]
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL


# --- The wanted time has passed -------------------------------------------------------------------


def test_approving_after_the_wanted_time_asks_for_a_choice(cast, channel, fake_network, frozen, required):
    post = submitted(cast, [channel], at=NOON + dt.timedelta(minutes=30))
    frozen.move_to(NOON + dt.timedelta(hours=1))
    now = NOON + dt.timedelta(hours=1)

    with pytest.raises(approvals.ApprovalTimePassed, match="has passed"):
        approvals.do_approve(as_(cast.carol), post)
    post.refresh_from_db()
    assert post.status == Status.PENDING_APPROVAL and dues(post) == [None]
    assert kinds(post) == [Kind.SUBMITTED]

    with pytest.raises(ActionError, match="passed"):
        approvals.do_approve(as_(cast.carol), post, new_time=now - dt.timedelta(minutes=1))
    approvals.do_approve(as_(cast.carol), post, new_time=now + dt.timedelta(hours=3))
    assert dues(post) == [now + dt.timedelta(hours=3)]
    assert Post.objects.get(pk=post.pk).scheduled_at == now + dt.timedelta(hours=3)


def test_approving_a_late_post_with_publish_now_makes_it_due_now(cast, channel, fake_network, frozen, required):
    post = submitted(cast, [channel], at=NOON + dt.timedelta(minutes=30))
    frozen.move_to(NOON + dt.timedelta(hours=1))

    approvals.do_approve(as_(cast.carol), post, publish_now=True)

    assert dues(post) == [NOON + dt.timedelta(hours=1)]
    assert publisher.run_once("w1", now=NOON + dt.timedelta(hours=1)) == 1


def test_a_new_time_is_a_wall_clock_time_in_the_workspace_zone(cast, channel, frozen, required):
    post = submitted(cast, [channel])
    approvals.do_approve(as_(cast.carol), post, new_time=dt.datetime(2026, 6, 2, 9, 0))  # Berlin, summer: UTC+2
    assert dues(post) == [dt.datetime(2026, 6, 2, 7, 0, tzinfo=dt.UTC)]


# --- Edits after approval and bypasses ------------------------------------------------------------


def test_an_edit_of_the_text_after_approval_needs_approval_again(cast, channel, fake_network, frozen, required):
    post = submitted(cast, [channel])
    approvals.do_approve(as_(cast.carol), post)

    do_update_post(as_(cast.bob), post, text="Jetzt mit Zwiebelrostbraten")

    post.refresh_from_db()
    assert post.status == Status.PENDING_APPROVAL
    assert post.scheduled_at == LATER
    assert dues(post) == [None]
    assert kinds(post)[-1] == Kind.RESET
    assert "text" in ApprovalEvent.objects.filter(post=post).last().comment
    assert publisher.run_once("w1", now=LATER) == 0
    approvals.do_approve(as_(cast.carol), post)
    assert publisher.run_once("w1", now=LATER) == 1


def test_a_change_of_pillar_only_keeps_the_approval(cast, channel, frozen, required):
    post = submitted(cast, [channel])
    approvals.do_approve(as_(cast.carol), post)

    do_update_post(as_(cast.bob), post, text=post.text, pillar="Mittagstisch")

    assert Post.objects.get(pk=post.pk).status == Status.SCHEDULED
    assert dues(post) == [LATER]


def test_moving_an_approved_post_needs_approval_again(cast, channel, frozen, required):
    post = submitted(cast, [channel])
    approvals.do_approve(as_(cast.carol), post)
    moved_to = dt.datetime(2026, 6, 3, 12, 0)  # local

    post = do_reschedule_post(as_(cast.bob), post, moved_to)

    assert post.status == Status.PENDING_APPROVAL
    assert post.scheduled_at == dt.datetime(2026, 6, 3, 10, 0, tzinfo=dt.UTC)
    assert dues(post) == [None]
    assert kinds(post)[-1] == Kind.RESET


def test_moving_a_waiting_post_changes_only_its_wanted_time(cast, channel, frozen, required):
    post = submitted(cast, [channel])

    post = do_reschedule_post(as_(cast.bob), post, dt.datetime(2026, 6, 3, 12, 0))

    assert post.status == Status.PENDING_APPROVAL
    assert post.scheduled_at == dt.datetime(2026, 6, 3, 10, 0, tzinfo=dt.UTC)
    assert dues(post) == [None]
    assert kinds(post) == [Kind.SUBMITTED]


def test_publish_now_cannot_skip_the_approval(cast, channel, fake_network, frozen, required):
    waiting = submitted(cast, [channel])
    with pytest.raises(ActionError, match="waiting for approval"):
        do_publish_now(as_(cast.alice), waiting)
    unsubmitted = draft(cast, [channel])
    with pytest.raises(ActionError, match="need approval"):
        do_publish_now(as_(cast.alice), unsubmitted)
    assert publisher.run_once("w1", now=LATER) == 0

    approvals.do_approve(as_(cast.carol), waiting)
    assert do_publish_now(as_(cast.bob), waiting) == 1  # approved: earlier is fine
    assert publisher.run_once("w1", now=NOON) == 1


def test_a_retry_waits_for_the_approval_too(cast, channel, fake_network, frozen, required):
    post = submitted(cast, [channel])
    Delivery.objects.filter(post=post).update(state=Delivery.State.FAILED)
    with pytest.raises(ActionError, match="waiting for approval"):
        do_retry_delivery(as_(cast.bob), Delivery.objects.get(post=post))


def test_switching_approvals_on_can_hold_what_is_scheduled(cast, channel, frozen):
    early = do_create_post(as_(cast.bob), cast.workspace, text="Früh geplant", channels=[channel], scheduled_at=LATER)
    assert approvals.scheduled_unapproved(cast.workspace) == 1
    changed = approvals.do_set_approval_settings(
        as_(cast.alice), cast.workspace, required=True, link_days=5, hold_scheduled=True
    )

    assert {"required", "link_days", "held"} <= set(changed)
    early.refresh_from_db()
    assert early.status == Status.PENDING_APPROVAL and dues(early) == [None]
    assert approvals.approval_settings(cast.workspace).link_days == 5


def test_only_managers_change_the_settings_and_links_last_1_to_90_days(cast):
    with pytest.raises(PermissionDenied):
        approvals.do_set_approval_settings(as_(cast.bob), cast.workspace, required=True, link_days=7)
    with pytest.raises(ActionError, match="between 1 and 90"):
        approvals.do_set_approval_settings(as_(cast.alice), cast.workspace, required=True, link_days=0)
    assert not approvals.approval_required(cast.workspace)
    approvals.do_set_approval_settings(as_(cast.adam), cast.workspace, required=True, link_days=90)
    assert approvals.approval_required(cast.workspace)
    assert AuditEvent.objects.filter(action="approvals.settings").count() == 1


# --- Signals ----------------------------------------------------------------------------------------


def test_signals_are_sent_once_after_commit(
    cast, channel, frozen, required, captured, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post = submitted(cast, [channel])
    assert [name for name, _ in captured] == ["requested"]
    assert captured[0][1]["post"].pk == post.pk
    assert captured[0][1]["actor"].user == cast.bob

    with django_capture_on_commit_callbacks(execute=True):
        approvals.do_approve(as_(cast.carol), post, "Gut so")
    assert [name for name, _ in captured] == ["requested", "decided"]
    assert captured[1][1]["kind"] == "approved"
    assert captured[1][1]["comment"] == "Gut so"
    assert captured[1][1]["actor"].user == cast.carol


def test_no_signal_for_a_change_that_was_rolled_back(cast, channel, frozen, required, captured):
    post = submitted(cast, [channel])
    with pytest.raises(RuntimeError), transaction.atomic():
        approvals.do_request_changes(as_(cast.carol), post, "Bitte kürzer")
        raise RuntimeError("rolled back")
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL
    assert captured == []  # the test's transaction never commits; nothing rolled back was sent


def test_changes_requested_sends_the_decision_with_the_comment(
    cast, channel, frozen, required, captured, django_capture_on_commit_callbacks
):
    post = submitted(cast, [channel])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approvals.do_request_changes(as_(cast.carol), post, "Bitte kürzer")
    assert captured == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert [(name, kw["kind"], kw["comment"]) for name, kw in captured] == [
        ("decided", "changes_requested", "Bitte kürzer")
    ]


# --- Review links -----------------------------------------------------------------------------------


def reviewer(link: ApprovalLink, name: str = "Frau Klein") -> approvals.LinkReviewer:
    return approvals.LinkReviewer(link=link, name=name, ip="203.0.113.9")


def test_a_review_link_is_stored_hashed_and_approves_once(cast, channel, fake_network, frozen, required, mailoutbox):
    post = submitted(cast, [channel])
    made = approvals.do_create_review_link(as_(cast.bob), post, "Frau Klein", "klein@example.org")

    assert made.token not in made.link.token_hash and len(made.link.token_hash) == 64
    assert made.url.endswith(f"/review/{made.token}/")
    assert made.link.expires_at == NOON + dt.timedelta(days=7)
    assert made.mailed and made.url in mailoutbox[0].body and mailoutbox[0].to == ["klein@example.org"]
    audit = AuditEvent.objects.get(action="approval_link.create")
    assert made.token not in str(audit.data) and made.token not in audit.summary

    link = approvals.find_link(made.token)
    assert link is not None and link.pk == made.link.pk
    approvals.do_approve(reviewer(link), post, "Sieht gut aus")

    event = ApprovalEvent.objects.get(post=post, kind=Kind.APPROVED)
    assert (event.actor, event.actor_label, event.via_link_id) == (None, "Frau Klein", link.pk)
    assert AuditEvent.objects.get(action="post.approve").actor_label == "Frau Klein (review link)"
    assert publisher.run_once("w1", now=LATER) == 1

    used = approvals.find_link(made.token)  # still shows the history
    assert used is not None and used.used_at == NOON
    with pytest.raises(ActionError, match="already made"):
        approvals.do_request_changes(reviewer(used), post, "Doch nicht")


def test_a_used_link_cannot_decide_again_even_after_a_reset(cast, channel, frozen, required):
    post = submitted(cast, [channel])
    made = approvals.do_create_review_link(as_(cast.bob), post, "Frau Klein")
    approvals.do_approve(reviewer(approvals.find_link(made.token)), post)
    do_update_post(as_(cast.bob), post, text="Neuer Text")
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL

    with pytest.raises(ActionError, match="already made"):
        approvals.do_approve(reviewer(approvals.find_link(made.token)), post)
    with pytest.raises(ActionError, match="already made"):
        approvals.do_comment(reviewer(approvals.find_link(made.token)), post, "Noch was")


def test_expired_and_revoked_links_are_unknown(cast, channel, frozen, required):
    post = submitted(cast, [channel])
    expiring = approvals.do_create_review_link(as_(cast.bob), post, "Frau Klein")
    revoked = approvals.do_create_review_link(as_(cast.bob), post, "Herr Groß")
    assert approvals.do_revoke_review_link(as_(cast.bob), revoked.link)
    assert not approvals.do_revoke_review_link(as_(cast.bob), revoked.link)

    assert approvals.find_link(revoked.token) is None
    assert approvals.find_link("not-a-token") is None
    assert approvals.find_link(expiring.token) is not None
    frozen.move_to(NOON + dt.timedelta(days=7))
    assert approvals.find_link(expiring.token) is None
    with pytest.raises(ActionError, match="no longer valid"):
        approvals.do_approve(reviewer(expiring.link), post)


def test_a_link_decides_only_on_its_own_post_and_needs_a_name(cast, channel, frozen, required):
    post = submitted(cast, [channel])
    other = submitted(cast, [channel], text="Ein anderer Beitrag")
    made = approvals.do_create_review_link(as_(cast.bob), post, "")
    link = approvals.find_link(made.token)
    with pytest.raises(ActionError, match="no longer valid"):
        approvals.do_approve(reviewer(link), other)
    with pytest.raises(ActionError, match="your name"):
        approvals.do_approve(reviewer(link, name="  "), post)
    assert Post.objects.get(pk=other.pk).status == Status.PENDING_APPROVAL


def test_links_are_made_only_for_waiting_posts_by_members_who_edit(cast, channel, frozen, required):
    with pytest.raises(ActionError, match="Submit the post"):
        approvals.do_create_review_link(as_(cast.bob), draft(cast, [channel]), "Frau Klein")
    with pytest.raises(PermissionDenied):
        approvals.do_create_review_link(as_(cast.carol), submitted(cast, [channel]), "Frau Klein")
