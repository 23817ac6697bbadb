"""A real browser (Debian's Chromium): bob submits a post, carol logs in and approves it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from conftest import PASSWORD, log_in_browser
from stammtisch.core.actions import Actor
from stammtisch.networks.models import Channel
from stammtisch.publishing import approvals
from stammtisch.publishing.models import ApprovalEvent, Delivery, Post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bob_submits_and_carol_approves_from_the_queue(browser_page, live_server, cast) -> None:  # type: ignore[no-untyped-def]
    approvals.do_set_approval_settings(Actor(user=cast.alice), cast.workspace, required=True, link_days=7)
    channel = Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="km", display_name="Königsbau M", stands_in_for="mastodon"
    )
    slug = cast.workspace.slug
    page = browser_page

    # bob composes; with approvals on, "Schedule" submits the post for approval
    log_in_browser(page, live_server, cast.bob)
    page.goto(reverse("publishing:compose", kwargs={"slug": slug}))
    page.locator(f'input[name="channels"][value="{channel.pk}"]').check()
    page.locator('textarea[name="text"]').fill("Spargel mit Sauce hollandaise, ab Freitag!")
    page.locator('input[name="when"][value="schedule"]').check()
    page.locator('input[name="scheduled_local"]').fill("2030-05-03T11:00")
    page.locator("form.compose-form button[type=submit]").click()
    page.wait_for_url("**/posts/*/")
    post = Post.objects.get()
    assert post.status == Post.Status.PENDING_APPROVAL
    assert list(Delivery.objects.filter(post=post).values_list("due_at", flat=True)) == [None]
    assert page.locator(".approval-panel").is_visible()
    assert page.locator('button[name="decision"][value="approve"]').count() == 0  # not his own

    # carol logs in, sees the count in the navigation, opens the queue and approves
    page.context.clear_cookies()
    page.goto(reverse("accounts:login"))
    page.locator('input[name="username"]').fill("carol")
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    page.wait_for_url(lambda url: "/accounts/login" not in url)
    page.goto(reverse("publishing:calendar", kwargs={"slug": slug}))
    nav = page.locator(f'.sidenav a[href="{reverse("publishing:approvals", kwargs={"slug": slug})}"]')
    assert nav.locator(".nav-count").inner_text().startswith("1")
    nav.click()
    row = page.locator(".approval-queue .post-row").filter(has_text="Spargel mit Sauce hollandaise")
    row.get_by_role("link", name="Spargel mit Sauce hollandaise, ab Freitag!").click()
    page.wait_for_url(f"**/posts/{post.pk}/")
    page.locator("#approval-comment").fill("Sehr schön, bitte so.")
    page.locator('button[name="decision"][value="approve"]').click()
    page.locator(".approval-history .approval-approved").wait_for()

    post.refresh_from_db()
    assert post.status == Post.Status.SCHEDULED
    assert list(Delivery.objects.filter(post=post).values_list("due_at", flat=True)) == [
        dt.datetime(2030, 5, 3, 9, 0, tzinfo=dt.UTC)
    ]
    approved = ApprovalEvent.objects.get(post=post, kind=ApprovalEvent.Kind.APPROVED)
    assert (approved.actor, approved.comment) == (cast.carol, "Sehr schön, bitte so.")
