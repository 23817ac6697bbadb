"""Figures of XING posts entered by hand: who may, what is stored and audited, and the post page's
"Metrics" line."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from conftest import client_for
from stammtisch.analytics.models import PostMetricSnapshot
from stammtisch.analytics.tests.conftest import NOON, publish
from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.models import Channel
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
XING_URL = "https://www.xing.com/discover/detail-activities/12345.abcdef"
HONEST = "XING offers no API: these figures are entered by hand."


@pytest.fixture
def xing_delivery(cast) -> Delivery:
    channel = Channel.objects.create(
        workspace=cast.workspace, network="xing", handle="pages/cafe-koenigsbau", display_name="Café auf XING"
    )
    post = do_create_post(Actor.system("test"), cast.workspace, text="Neu: Frühstück ab 7 Uhr", channels=[channel])
    Delivery.objects.filter(post=post).update(
        state=Delivery.State.PUBLISHED, remote_id=XING_URL, remote_url=XING_URL, published_at=NOON
    )
    return Delivery.objects.get(post=post)


def url(cast, delivery: Delivery) -> str:
    return reverse("analytics:delivery_metrics", args=[cast.workspace.slug, delivery.pk])


FIGURES = {"observed_at": "2026-06-02T09:30", "impressions": "1200", "likes": "14", "comments": "3", "shares": ""}


def test_an_editor_enters_figures(cast, xing_delivery, frozen):
    frozen.move_to(NOON + dt.timedelta(days=2))
    bob = client_for(cast.bob)

    page = bob.get(url(cast, xing_delivery), **EN)
    assert page.status_code == 200
    assert HONEST in page.content.decode()
    assert 'name="likes"' in page.content.decode()

    response = bob.post(url(cast, xing_delivery), FIGURES, **EN)

    assert response.status_code == 302
    [snapshot] = PostMetricSnapshot.objects.all()
    assert (snapshot.source, snapshot.entered_by, snapshot.workspace) == ("manual", cast.bob, cast.workspace)
    # 09:30 in Europe/Berlin (summer time) is 07:30 UTC.
    assert snapshot.observed_at == dt.datetime(2026, 6, 2, 7, 30, tzinfo=dt.UTC)
    assert (snapshot.impressions, snapshot.likes, snapshot.comments, snapshot.shares, snapshot.clicks) == (
        1200,
        14,
        3,
        None,
        None,
    )
    event = AuditEvent.objects.get(action="metrics.enter")
    assert (event.actor, event.workspace, event.object_id) == (cast.bob, cast.workspace, str(xing_delivery.pk))
    assert event.data["figures"]["likes"] == 14

    # The same time again corrects the figures instead of adding a second reading.
    bob.post(url(cast, xing_delivery), {**FIGURES, "likes": "15"}, **EN)
    assert PostMetricSnapshot.objects.get().likes == 15
    assert AuditEvent.objects.filter(action="metrics.enter").count() == 2


def test_an_analyst_sees_the_figures_but_cannot_enter_any(cast, xing_delivery, frozen):
    PostMetricSnapshot.objects.create(
        workspace=cast.workspace, delivery=xing_delivery, observed_at=NOON, source="manual", likes=5
    )
    anna = client_for(cast.anna)

    page = anna.get(url(cast, xing_delivery), **EN)
    assert page.status_code == 200
    assert 'name="likes"' not in page.content.decode()
    assert HONEST in page.content.decode()

    assert anna.post(url(cast, xing_delivery), FIGURES, **EN).status_code == 403
    assert PostMetricSnapshot.objects.count() == 1
    assert not AuditEvent.objects.filter(action="metrics.enter").exists()


def test_an_outsider_gets_404(cast, xing_delivery, frozen):
    charlie = client_for(cast.charlie)

    assert charlie.get(url(cast, xing_delivery)).status_code == 404
    assert charlie.post(url(cast, xing_delivery), FIGURES).status_code == 404
    foreign = reverse("analytics:delivery_metrics", args=[cast.other_workspace.slug, xing_delivery.pk])
    assert charlie.post(foreign, FIGURES).status_code == 404
    assert not PostMetricSnapshot.objects.exists()


def test_figures_need_a_published_post_and_a_sane_time(cast, xing_delivery, frozen):
    bob = client_for(cast.bob)
    response = bob.post(url(cast, xing_delivery), {**FIGURES, "observed_at": "2026-06-09T09:30"}, **EN)
    assert response.status_code == 400 and "This time is in the future." in response.content.decode()
    response = bob.post(url(cast, xing_delivery), {"observed_at": "2026-06-01T09:30"}, **EN)
    assert response.status_code == 400 and "Enter at least one figure." in response.content.decode()
    response = bob.post(url(cast, xing_delivery), {**FIGURES, "likes": "-3"}, **EN)
    assert response.status_code == 400

    Delivery.objects.filter(pk=xing_delivery.pk).update(state=Delivery.State.RETRY_WAIT)
    response = bob.post(url(cast, xing_delivery), FIGURES, **EN)
    assert response.status_code == 400
    assert not PostMetricSnapshot.objects.exists()


def test_figures_of_networks_with_an_api_cannot_be_entered(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    delivery = Delivery.objects.get(post=post)

    response = client_for(cast.bob).post(url(cast, delivery), FIGURES, **EN)

    assert response.status_code == 302
    assert response["Location"] == reverse("publishing:post", args=[cast.workspace.slug, post.pk])
    assert not PostMetricSnapshot.objects.exists()


def test_the_post_page_shows_the_latest_figures_in_the_workspace_zone(cast, channel, fake_network, frozen):
    post = publish(cast, [channel])
    delivery = Delivery.objects.get(post=post)
    PostMetricSnapshot.objects.create(
        workspace=cast.workspace, delivery=delivery, observed_at=NOON, likes=3, comments=1, impressions=90
    )
    PostMetricSnapshot.objects.create(
        workspace=cast.workspace,
        delivery=delivery,
        observed_at=NOON + dt.timedelta(hours=1, minutes=30),
        likes=7,
        comments=2,
        shares=1,
        impressions=300,
    )

    page = client_for(cast.anna).get(reverse("publishing:post", args=[cast.workspace.slug, post.pk]), **EN)

    text = " ".join(re.sub(r"<[^>]+>", "", page.content.decode()).split())
    assert "Metrics: Likes 7 · Comments 2 · Shares 1 · Impressions 300 ·" in text
    assert "as of June 1, 2026, 1:30 p.m." in text  # 11:30 UTC is 13:30 in Europe/Berlin
    assert HONEST not in text


def test_the_post_page_links_a_published_xing_post_to_its_figures(cast, xing_delivery, frozen):
    post_url = reverse("publishing:post", args=[cast.workspace.slug, xing_delivery.post_id])

    page = client_for(cast.bob).get(post_url, **EN).content.decode()
    assert HONEST in page and "Enter figures" in page and url(cast, xing_delivery) in page

    page = client_for(cast.anna).get(post_url, **EN).content.decode()
    assert "Enter figures" not in page and "All figures" in page
