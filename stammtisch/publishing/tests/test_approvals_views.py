"""The approval pages: the queue, the post page's panel, the settings, the composer with approvals
on, and the public review page (docs/approvals.md)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent
from stammtisch.publishing import approvals, publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import ApprovalEvent, ApprovalLink, Delivery, Post
from stammtisch.publishing.views_approvals import REVIEW_MISSES_ALLOWED

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
LATER = NOON + dt.timedelta(hours=2)
Status = Post.Status
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def required(cast):
    approvals.do_set_approval_settings(Actor(user=cast.alice), cast.workspace, required=True, link_days=7)


def submitted(cast, channel, at=LATER, text="Heute: Maultaschen mit Kartoffelsalat!") -> Post:
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text=text, channels=[channel])
    return approvals.do_submit_for_approval(Actor(user=cast.bob), post, at)


def url(name: str, cast, **kwargs) -> str:
    return reverse(f"publishing:{name}", kwargs={"slug": cast.workspace.slug, **kwargs})


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- The queue --------------------------------------------------------------------------------------


def test_carol_sees_the_queue_with_text_channels_time_author_and_age(cast, channel, frozen, required):
    post = submitted(cast, channel)
    frozen.move_to(NOON + dt.timedelta(minutes=45))

    response = client_for(cast.carol).get(url("approvals", cast), **EN)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Heute: Maultaschen mit Kartoffelsalat!" in page
    assert "Café Königsbau (Fake)" in page
    assert "by Bob" in page
    assert "waiting for 45\xa0minutes" in page
    assert "14:00" in page or "2 p.m." in page  # 12:00 UTC in Berlin summer time
    assert url("post", cast, post_id=post.pk) in page


def test_the_queue_needs_no_query_per_post(cast, channel, frozen, required, django_assert_max_num_queries):
    for n in range(3):
        submitted(cast, channel, text=f"Beitrag {n}")
    client = client_for(cast.carol)
    client.get(url("approvals", cast))  # sessions and caches warm
    with django_assert_max_num_queries(14) as few:
        client.get(url("approvals", cast))
    for n in range(3, 13):
        submitted(cast, channel, text=f"Beitrag {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url("approvals", cast))
    assert response.content.decode().count('class="post-row"') == 13


def test_the_queue_is_for_members_who_may_comment(cast, channel, required):
    assert client_for(cast.anna).get(url("approvals", cast)).status_code == 403
    assert client_for(cast.charlie).get(url("approvals", cast)).status_code == 404
    assert client_for(cast.bob).get(url("approvals", cast)).status_code == 200


def test_the_navigation_shows_the_count_to_reviewers(cast, channel, frozen, required):
    submitted(cast, channel)
    submitted(cast, channel, text="Noch einer")

    page = client_for(cast.carol).get(url("calendar", cast), **EN).content.decode()
    assert url("approvals", cast) in page
    assert '<span class="badge nav-count">2' in page
    page = client_for(cast.anna).get(url("calendar", cast), **EN).content.decode()
    assert url("approvals", cast) not in page


# --- The post page ------------------------------------------------------------------------------------


def test_carol_approves_on_the_post_page_then_it_is_published(cast, channel, fake_network, frozen, required):
    post = submitted(cast, channel)
    carol = client_for(cast.carol)
    page = carol.get(url("post", cast, post_id=post.pk), **EN).content.decode()
    assert "Approve" in page and "Request changes" in page

    response = carol.post(
        url("post_decide", cast, post_id=post.pk), {"decision": "approve", "comment": "Passt"}, follow=True, **EN
    )

    assert "Approved. The post will be published as planned." in messages_of(response)
    post.refresh_from_db()
    assert post.status == Status.SCHEDULED
    assert publisher.run_once("w1", now=LATER) == 1
    assert Post.objects.get(pk=post.pk).status == Status.PUBLISHED
    page = carol.get(url("post", cast, post_id=post.pk), **EN).content.decode()
    assert "Passt" in page and "History" in page


def test_bob_cannot_approve_his_own_post_on_the_page(cast, channel, frozen, required):
    post = submitted(cast, channel)
    bob = client_for(cast.bob)
    page = bob.get(url("post", cast, post_id=post.pk), **EN).content.decode()
    assert 'value="approve"' not in page
    assert "You wrote this post" in page
    assert "Publish now</button>" not in page

    response = bob.post(url("post_decide", cast, post_id=post.pk), {"decision": "approve"}, follow=True, **EN)

    assert any("your own post" in m for m in messages_of(response))
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL


def test_requesting_changes_without_a_comment_is_refused(cast, channel, frozen, required):
    post = submitted(cast, channel)
    carol = client_for(cast.carol)

    response = carol.post(
        url("post_decide", cast, post_id=post.pk), {"decision": "changes", "comment": ""}, follow=True, **EN
    )
    assert "Please say what should change." in messages_of(response)
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL

    carol.post(url("post_decide", cast, post_id=post.pk), {"decision": "changes", "comment": "Preis fehlt"})
    assert Post.objects.get(pk=post.pk).status == Status.CHANGES_REQUESTED
    page = client_for(cast.bob).get(url("post", cast, post_id=post.pk), **EN).content.decode()
    assert "Preis fehlt" in page and "Submit again" in page


def test_approving_after_the_wanted_time_shows_the_choice(cast, channel, frozen, required):
    post = submitted(cast, channel, at=NOON + dt.timedelta(minutes=10))
    frozen.move_to(NOON + dt.timedelta(minutes=20))
    carol = client_for(cast.carol)

    response = carol.post(url("post_decide", cast, post_id=post.pk), {"decision": "approve"}, follow=True, **EN)

    assert any("has passed" in m for m in messages_of(response))
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL
    page = response.content.decode()
    assert 'name="timing" value="now"' in page and 'name="timing" value="new"' in page
    carol.post(
        url("post_decide", cast, post_id=post.pk),
        {"decision": "approve", "timing": "new", "new_time": "2026-06-01T18:30"},
    )
    assert list(Delivery.objects.filter(post=post).values_list("due_at", flat=True)) == [
        dt.datetime(2026, 6, 1, 16, 30, tzinfo=dt.UTC)
    ]


def test_bob_submits_a_draft_from_the_post_page_and_withdraws_it(cast, channel, frozen, required):
    post = do_create_post(Actor(user=cast.bob), cast.workspace, text="Entwurf", channels=[channel])
    bob = client_for(cast.bob)
    assert "Submit for approval" in bob.get(url("post", cast, post_id=post.pk), **EN).content.decode()

    bob.post(url("post_submit", cast, post_id=post.pk), {"submit-scheduled_local": "2026-06-02T09:00"})
    post.refresh_from_db()
    assert post.status == Status.PENDING_APPROVAL
    assert post.scheduled_at == dt.datetime(2026, 6, 2, 7, 0, tzinfo=dt.UTC)

    bob.post(url("post_withdraw", cast, post_id=post.pk))
    assert Post.objects.get(pk=post.pk).status == Status.DRAFT


def test_carol_cannot_reach_another_workspaces_post_and_charlie_cannot_reach_ours(cast, channel, frozen, required):
    post = submitted(cast, channel)
    charlie = client_for(cast.charlie)
    assert charlie.post(url("post_decide", cast, post_id=post.pk), {"decision": "approve"}).status_code == 404
    foreign = reverse("publishing:post_decide", kwargs={"slug": cast.other_workspace.slug, "post_id": post.pk})
    assert charlie.post(foreign, {"decision": "approve"}).status_code == 404
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL


# --- Review links on the post page -------------------------------------------------------------------


def test_bob_makes_a_review_link_shown_once_and_revokes_it(cast, channel, frozen, required, mailoutbox):
    post = submitted(cast, channel)
    bob = client_for(cast.bob)

    response = bob.post(
        url("review_link_create", cast, post_id=post.pk),
        {"link-reviewer_name": "Frau Klein", "link-reviewer_email": "klein@example.org"},
        **EN,
    )

    assert response.status_code == 200
    link = ApprovalLink.objects.get(post=post)
    shown = response.context["made"].url
    assert shown in response.content.decode()
    assert shown in mailoutbox[0].body
    page = bob.get(url("post", cast, post_id=post.pk), **EN).content.decode()
    assert "Frau Klein" in page and shown not in page  # the address is never shown again

    bob.post(url("review_link_revoke", cast, post_id=post.pk, link_id=link.pk))
    assert ApprovalLink.objects.get(pk=link.pk).revoked_at == NOON
    assert Client().get(urlsplit(shown).path).status_code == 404


def test_a_review_link_needs_a_name_or_an_address(cast, channel, frozen, required):
    post = submitted(cast, channel)
    response = client_for(cast.bob).post(url("review_link_create", cast, post_id=post.pk), {}, follow=True, **EN)
    assert "Enter the reviewer's name or e-mail address." in messages_of(response)
    assert not ApprovalLink.objects.exists()


# --- The public review page ----------------------------------------------------------------------


def review_path(token: str) -> str:
    return reverse("publishing:review", kwargs={"token": token})


def test_a_client_approves_through_the_link_without_an_account(cast, channel, fake_network, frozen, required):
    post = submitted(cast, channel)
    made = approvals.do_create_review_link(Actor(user=cast.bob), post, "Frau Klein")
    client = Client()

    page = client.get(review_path(made.token), **EN)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Heute: Maultaschen mit Kartoffelsalat!" in html
    assert "Café Königsbau (Fake)" in html
    assert "12:00" in html or "noon" in html  # 10:00 UTC is noon in Berlin
    assert page["Referrer-Policy"] == "no-referrer"

    response = client.post(
        review_path(made.token), {"name": "Frau Klein", "decision": "approve", "comment": "Prima"}, follow=True, **EN
    )

    assert "Approved. The post will be published as planned." in messages_of(response)
    assert Post.objects.get(pk=post.pk).status == Status.SCHEDULED
    event = ApprovalEvent.objects.get(post=post, kind=ApprovalEvent.Kind.APPROVED)
    assert (event.actor_label, event.comment, event.via_link_id) == ("Frau Klein", "Prima", made.link.pk)
    assert AuditEvent.objects.get(action="post.approve").ip == "127.0.0.1"
    html = response.content.decode()
    assert "A decision was made through this link" in html and 'value="approve"' not in html

    again = client.post(
        review_path(made.token), {"name": "Frau Klein", "decision": "changes", "comment": "Doch nicht"}, **EN
    )
    assert again.status_code == 200
    assert "already made" in again.content.decode()
    assert Post.objects.get(pk=post.pk).status == Status.SCHEDULED


def test_the_link_asks_for_changes_with_a_comment(cast, channel, frozen, required):
    post = submitted(cast, channel)
    made = approvals.do_create_review_link(Actor(user=cast.bob), post, "Frau Klein")

    empty = Client().post(review_path(made.token), {"name": "Frau Klein", "decision": "changes"}, **EN)
    assert "Please say what should change." in empty.content.decode()
    nameless = Client().post(review_path(made.token), {"name": "", "decision": "approve"}, **EN)
    assert nameless.status_code == 200 and Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL

    Client().post(review_path(made.token), {"name": "Frau Klein", "decision": "changes", "comment": "Bitte mit Foto"})
    assert Post.objects.get(pk=post.pk).status == Status.CHANGES_REQUESTED


def test_expired_revoked_and_unknown_links_get_the_same_404(cast, channel, frozen, required):
    post = submitted(cast, channel)
    expired = approvals.do_create_review_link(Actor(user=cast.bob), post, "Frau Klein")
    revoked = approvals.do_create_review_link(Actor(user=cast.bob), post, "Herr Groß")
    approvals.do_revoke_review_link(Actor(user=cast.bob), revoked.link)
    frozen.move_to(NOON + dt.timedelta(days=8))

    bodies = set()
    for token in (expired.token, revoked.token, "x" * 43):
        response = Client().get(review_path(token), **EN)
        assert response.status_code == 404
        assert "This review link is not valid" in response.content.decode()
        html = response.content.decode()
        bodies.add(html[html.index("<main") : html.index("</main>")])  # the page around it has a CSRF token
        posted = Client().post(review_path(token), {"name": "X", "decision": "approve"}, **EN)
        assert posted.status_code == 404
    assert len(bodies) == 1  # nothing tells whether a token ever existed
    assert Post.objects.get(pk=post.pk).status == Status.PENDING_APPROVAL


def test_an_address_that_keeps_guessing_is_slowed_down(cast, channel, frozen, required):
    post = submitted(cast, channel)
    made = approvals.do_create_review_link(Actor(user=cast.bob), post, "Frau Klein")
    client = Client()
    for n in range(REVIEW_MISSES_ALLOWED):
        assert client.get(review_path(f"guess-{n}")).status_code == 404
    assert client.get(review_path("guess-last")).status_code == 429
    assert client.get(review_path(made.token)).status_code == 429  # even a good token, for a while
    assert Client(REMOTE_ADDR="198.51.100.7").get(review_path(made.token)).status_code == 200


# --- Settings and the composer -----------------------------------------------------------------------


def test_alice_switches_approvals_on_in_the_settings(cast, frozen):
    alice = client_for(cast.alice)
    page = alice.get(url("approval_settings", cast), **EN)
    assert page.status_code == 200
    assert (
        url("approval_settings", cast)
        in client_for(cast.alice).get(reverse("core:settings", kwargs={"slug": cast.workspace.slug})).content.decode()
    )

    response = alice.post(url("approval_settings", cast), {"required": "on", "link_days": "3"}, follow=True, **EN)

    assert "Settings saved." in messages_of(response)
    assert approvals.approval_required(cast.workspace)
    assert approvals.approval_settings(cast.workspace).link_days == 3
    bad = alice.post(url("approval_settings", cast), {"required": "on", "link_days": "365"}, **EN)
    assert bad.status_code == 200 and approvals.approval_settings(cast.workspace).link_days == 3
    assert client_for(cast.bob).get(url("approval_settings", cast)).status_code == 403


def test_the_composer_submits_instead_of_scheduling(cast, channel, frozen, required):
    bob = client_for(cast.bob)
    form = bob.get(url("compose", cast), **EN).content.decode()
    assert "Submit for approval for this time" in form

    response = bob.post(
        url("compose", cast),
        {
            "text": "Spargelzeit!",
            "channels": [channel.pk],
            "purpose": "value",
            "when": "schedule",
            "scheduled_local": "2026-06-02T11:00",
        },
        follow=True,
        **EN,
    )
    assert "The post is submitted for approval." in messages_of(response)
    post = Post.objects.get(text="Spargelzeit!")
    assert post.status == Status.PENDING_APPROVAL
    assert post.scheduled_at == dt.datetime(2026, 6, 2, 9, 0, tzinfo=dt.UTC)
    assert list(Delivery.objects.filter(post=post).values_list("due_at", flat=True)) == [None]

    bob.post(url("compose", cast), {"text": "Sofort!", "channels": [channel.pk], "purpose": "value", "when": "now"})
    now_post = Post.objects.get(text="Sofort!")
    assert (now_post.status, now_post.scheduled_at) == (Status.PENDING_APPROVAL, None)
    assert publisher.run_once("w1", now=NOON + dt.timedelta(days=2)) == 0


def test_the_navigation_count_follows_decisions_at_once(
    cast, channel, frozen, required, django_capture_on_commit_callbacks
):
    carol = client_for(cast.carol)
    with django_capture_on_commit_callbacks(execute=True):
        post = submitted(cast, channel)
    assert '<span class="badge nav-count">1' in carol.get(url("calendar", cast)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        approvals.do_approve(Actor(user=cast.carol), post)
    page = carol.get(url("calendar", cast)).content.decode()
    assert url("approvals", cast) in page and "nav-count" not in page  # still on: the entry stays
