"""Duplicating a post: a new draft with the same content, channels and channel texts."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.models import Channel
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, Post


def test_duplicate_makes_a_draft_copy_with_the_channel_texts(cast):
    x = Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="kx", display_name="X", stands_in_for="x"
    )
    m = Channel.objects.create(workspace=cast.workspace, network="sandbox", handle="km", display_name="M")
    original = do_create_post(
        Actor.system(),
        cast.workspace,
        text="Sonntagsbrunch!",
        channels=[x, m],
        scheduled_at=dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC),
        link="https://example.org/brunch",
        pillar="Brunch",
        purpose="promotion",
        variants={x.pk: "Brunch!"},
    )

    url = reverse("publishing:post_duplicate", kwargs={"slug": cast.workspace.slug, "post_id": original.pk})
    response = client_for(cast.bob).post(url)

    copy = Post.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302
    assert response.url == reverse("publishing:post", kwargs={"slug": cast.workspace.slug, "post_id": copy.pk})
    assert (copy.text, copy.link, copy.pillar, copy.purpose) == (
        "Sonntagsbrunch!",
        "https://example.org/brunch",
        "Brunch",
        "promotion",
    )
    assert (copy.status, copy.scheduled_at, copy.author) == (Post.Status.DRAFT, None, cast.bob)
    deliveries = Delivery.objects.filter(post=copy)
    assert dict(deliveries.values_list("channel_id", "text")) == {x.pk: "Brunch!", m.pk: "Sonntagsbrunch!"}
    assert all(d.due_at is None for d in deliveries)
    event = AuditEvent.objects.get(action="post.duplicate")
    assert event.data["from"] == original.pk


def test_an_analyst_cannot_duplicate(cast):
    post = do_create_post(Actor.system(), cast.workspace, text="Hallo", channels=[])
    url = reverse("publishing:post_duplicate", kwargs={"slug": cast.workspace.slug, "post_id": post.pk})

    assert client_for(cast.anna).post(url).status_code == 403
    assert Post.objects.count() == 1


def test_the_post_page_offers_duplicate_to_editors(cast):
    post = do_create_post(Actor.system(), cast.workspace, text="Hallo", channels=[])
    url = reverse("publishing:post", kwargs={"slug": cast.workspace.slug, "post_id": post.pk})

    assert "/duplicate/" in client_for(cast.bob).get(url).content.decode()
    assert "/duplicate/" not in client_for(cast.anna).get(url).content.decode()
