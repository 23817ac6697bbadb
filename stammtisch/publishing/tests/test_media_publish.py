"""Publishing with media: the publisher hands each delivery its post's files (one query per
batch), the Sandbox stores and shows them, and refuses what the network it stands in for would."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from stammtisch.core.actions import ActionError, Actor
from stammtisch.networks.base import MediaItem, NetworkError, Outgoing
from stammtisch.networks.sandbox import clock, faults
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.networks.sandbox.models import SandboxPost
from stammtisch.publishing import media, publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, MediaAsset, Post
from stammtisch.publishing.tests.media_samples import image, upload

START = dt.datetime(2026, 6, 2, 6, 0, tzinfo=dt.UTC)
DUE = START + dt.timedelta(hours=10)


@pytest.fixture(autouse=True)
def _no_faults(settings):  # type: ignore[no-untyped-def]
    settings.SANDBOX_FAULT_RATE = 0.0
    faults.clear()
    yield
    faults.clear()


@pytest.fixture
def instagram(cast):  # type: ignore[no-untyped-def]
    """A Sandbox channel standing in for Instagram."""
    with clock.at(START):
        return do_connect_sandbox_channel(
            Actor.system("test"), cast.workspace, "koenigsbau-insta", "Café Königsbau", "instagram"
        )


def bob(cast) -> Actor:
    return Actor(user=cast.bob, label="bob")


def asset(cast, name="torte.jpg", size=(1080, 1080), alt="") -> MediaAsset:
    return media.do_upload_media(bob(cast), cast.workspace, upload(name, image("JPEG", size)), alt)


def publish_due() -> int:
    with clock.at(DUE):
        return publisher.run_once("w1", now=DUE)


def test_a_post_with_images_is_published_to_the_sandbox_and_shown_on_its_feed(cast, instagram, client):
    cake = asset(cast, alt='Erdbeertorte <b>"frisch"</b>')
    tart = asset(cast, "tarte.jpg", (1080, 1350))
    post = do_create_post(
        bob(cast), cast.workspace, text="Neue Torten!", channels=[instagram], scheduled_at=DUE, media=[tart, cake]
    )

    assert publish_due() == 1

    delivery = Delivery.objects.get(post=post)
    assert delivery.state == Delivery.State.PUBLISHED, delivery.last_error
    published = SandboxPost.objects.get(idempotency_key=str(delivery.idempotency_key))
    assert published.media_count == 2
    assert published.media == [
        {"url": media.public_url(tart), "alt": "", "type": "image/jpeg"},
        {"url": media.public_url(cake), "alt": 'Erdbeertorte <b>"frisch"</b>', "type": "image/jpeg"},
    ]
    page = client.get(reverse("sandbox:feed", args=["koenigsbau-insta"])).content.decode()
    assert f'<img src="{media.public_url(cake)}" alt="Erdbeertorte &lt;b&gt;&quot;frisch&quot;&lt;/b&gt;"' in page
    assert f'<img src="{media.public_url(tart)}" alt=""' in page
    assert "<b>" not in page
    # The address the network got serves the file to anyone: that is how Instagram fetches it.
    assert media.public_url(cake).startswith(settings.BASE_URL)
    assert client.get(media.public_url(cake).removeprefix(settings.BASE_URL)).status_code == 200


def test_the_sandbox_refuses_an_instagram_post_without_an_image_as_instagram_would(cast, instagram):
    with translation.override("en"):
        with pytest.raises(ActionError, match="Instagram needs at least one image or video"):
            do_create_post(bob(cast), cast.workspace, text="Nur Text", channels=[instagram], scheduled_at=DUE)
        # Scheduling refuses it; one that got through anyway (scheduled before the channel stood in
        # for Instagram, say) is refused by the Sandbox as Instagram would refuse it.
        post = do_create_post(bob(cast), cast.workspace, text="Nur Text", channels=[instagram])
        Delivery.objects.filter(post=post).update(due_at=DUE)
        Post.objects.filter(pk=post.pk).update(status=Post.Status.SCHEDULED, scheduled_at=DUE)
        publish_due()

    delivery = Delivery.objects.get(post=post)
    assert delivery.state == Delivery.State.FAILED
    assert "Instagram needs at least one image or video" in delivery.last_error
    assert not SandboxPost.objects.exists()


def test_the_sandbox_refuses_an_image_of_a_shape_instagram_refuses(cast, instagram):
    story = MediaItem(path="a.jpg", content_type="image/jpeg", url="https://example.org/a.jpg", width=1080, height=1920)

    with translation.override("en"), pytest.raises(NetworkError) as refused, clock.at(DUE):
        instagram.connector.publish(instagram, Outgoing(text="Story", media=(story,)), "k1")

    assert refused.value.permanent
    assert "aspect ratio between 4:5 and 1.91:1" in refused.value.message
    assert not SandboxPost.objects.exists()


def test_a_plain_sandbox_channel_takes_text_only_posts(cast):
    with clock.at(START):
        plain = do_connect_sandbox_channel(Actor.system("test"), cast.workspace, "koenigsbau", "Café Königsbau")
    post = do_create_post(bob(cast), cast.workspace, text="Guten Morgen!", channels=[plain], scheduled_at=DUE)

    publish_due()

    assert Delivery.objects.get(post=post).state == Delivery.State.PUBLISHED
    assert SandboxPost.objects.get(author_persona__isnull=True, parent__isnull=True).media == []


def test_outgoing_media_reads_a_whole_batch_in_two_queries(cast):
    one, two, three = asset(cast, "1.jpg"), asset(cast, "2.jpg", (800, 1000)), asset(cast, "3.jpg", (1000, 500), "Drei")
    first = do_create_post(bob(cast), cast.workspace, text="A", channels=[], media=[two, one])
    second = do_create_post(bob(cast), cast.workspace, text="B", channels=[], media=[three])
    empty = do_create_post(bob(cast), cast.workspace, text="C", channels=[])

    with CaptureQueriesContext(connection) as queries:
        found = media.outgoing_media([first.pk, second.pk, empty.pk])
    with CaptureQueriesContext(connection) as without_media:
        assert media.outgoing_media([empty.pk]) == {}

    # Which posts have media, then their media; a batch without any stops after the first.
    assert len(queries.captured_queries) == 2
    assert len(without_media.captured_queries) == 1
    assert empty.pk not in found
    assert [item.path for item in found[first.pk]] == [two.file.name, one.file.name]
    [item] = found[second.pk]
    assert (item.content_type, item.alt_text, item.width, item.height, item.size) == (
        "image/jpeg",
        "Drei",
        1000,
        500,
        three.bytes,
    )
    assert item.url == media.public_url(three)
    assert empty.pk not in found
    assert media.outgoing_media([]) == {}


def test_the_scheduling_paths_check_with_the_posts_files(cast, instagram):
    import datetime as dt

    from stammtisch.publishing import queue
    from stammtisch.publishing.actions import do_publish_now
    from stammtisch.publishing.models import QueueSlot

    QueueSlot.objects.create(channel=instagram, weekday=0, time=dt.time(9, 0))
    with_image = do_create_post(bob(cast), cast.workspace, text="Mit Bild", channels=[instagram], media=[asset(cast)])
    without = do_create_post(bob(cast), cast.workspace, text="Ohne Bild", channels=[instagram])

    assert queue.do_add_to_queue(bob(cast), with_image) is not None  # "add to queue" on the post page
    with translation.override("en"), pytest.raises(ActionError, match="Instagram needs at least one image"):
        queue.do_add_to_queue(bob(cast), without)
    with translation.override("en"), pytest.raises(ActionError, match="Instagram needs at least one image"):
        do_publish_now(bob(cast), without)
    other = do_create_post(bob(cast), cast.workspace, text="Jetzt", channels=[instagram], media=[asset(cast)])
    assert do_publish_now(bob(cast), other) == 1
