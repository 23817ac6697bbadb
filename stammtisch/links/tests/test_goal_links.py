"""Goals and links: `{goal}` in the UTM templates, a blog feed's own UTM tags kept on the short
link, and the whole path of issue 6 for a post with a goal: published to the Sandbox by the real
publisher, clicked through the redirector, converted through the signed endpoint, attributed to
post, channel and goal on the links pages and listed on the goal's page."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from conftest import client_for
from stammtisch.analytics import rollups
from stammtisch.core.actions import ActionError, Actor
from stammtisch.links import attribution, auto, conversions, tracking, utm
from stammtisch.links.actions import conversion_secret, do_update_link_settings, settings_for
from stammtisch.links.models import Click, Conversion, ShortLink
from stammtisch.links.tests.helpers import BROWSER_UA, drain
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.networks.sandbox.models import SandboxPost
from stammtisch.publishing import feeds, publisher, ratelimit
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Post
from stammtisch.strategy import helped
from stammtisch.strategy.models import Goal

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
LINK = "https://cafe-koenigsbau.example/sommerkarte"


@pytest.fixture(autouse=True)
def limiter(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(publisher, "LIMITER", ratelimit.Limiter())


@pytest.fixture
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def make_goal(workspace, name: str = "Mehr Besuche aus Social", kpi: str = "traffic.clicks") -> Goal:  # type: ignore[no-untyped-def]
    return Goal.objects.create(
        workspace=workspace,
        kind=kpi.split(".")[0],
        name=name,
        kpi=kpi,
        target=100.0,
        start=dt.date(2026, 5, 20),
        deadline=dt.date(2026, 7, 31),
    )


def utm_of(link: ShortLink) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link.destination).query)


# --- {goal} ------------------------------------------------------------------------------------


def test_goal_is_the_goals_name_as_a_slug_else_a_tagged_campaign_else_the_purpose(cast) -> None:
    goal = make_goal(cast.workspace, "Mehr Gäste über Social Media!")
    with_goal = Post(workspace=cast.workspace, text="x", purpose="promotion", goal=goal, pk=7)
    without = Post(workspace=cast.workspace, text="x", purpose="promotion", pk=8)
    assert utm.values_for(with_goal, None)["goal"] == "mehr-gaste-uber-social-media"
    assert utm.values_for(with_goal, None, tagged_campaign="blog")["goal"] == "mehr-gaste-uber-social-media"
    assert utm.values_for(without, None, tagged_campaign="blog")["goal"] == "blog"
    assert utm.values_for(without, None)["goal"] == "promotion"
    assert utm.values_for(with_goal, None)["purpose"] == "promotion"
    assert utm.render("{goal}-{purpose}", utm.values_for(with_goal, None)) == "mehr-gaste-uber-social-media-promotion"
    assert len(utm.render("{goal}" * 3, {"goal": "x" * 100})) == utm.MAX_LENGTH


def test_purpose_is_a_known_variable_and_old_templates_still_work(cast) -> None:
    assert utm.check_template("{purpose}-{goal}") == "{purpose}-{goal}"
    with pytest.raises(ActionError):
        do_update_link_settings(Actor.system("t"), cast.workspace, utm_campaign_template="{goals}")
    assert settings_for(cast.workspace).utm_campaign_template == "{goal}"  # the default is unchanged


def publish(cast, channels, *, text=f"Unsere Sommerkarte ist da: {LINK}", link=LINK, variants=None, goal=None):  # type: ignore[no-untyped-def]
    post = do_create_post(
        Actor.system("test"),
        cast.workspace,
        text=text,
        channels=channels,
        scheduled_at=NOON,
        link=link,
        variants=variants,
        goal=goal,
    )
    publisher.run_once("w1", now=NOON)
    return post


def test_a_post_with_a_goal_gets_the_goal_as_utm_campaign(cast, frozen) -> None:
    goal = make_goal(cast.workspace)
    channel = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau", "Café Königsbau")
    post = publish(cast, [channel], goal=goal)
    assert utm_of(ShortLink.objects.get(post=post))["utm_campaign"] == ["mehr-besuche-aus-social"]


# --- a blog feed's tags ------------------------------------------------------------------------


def feed_post(cast, channel, *, goal=None):  # type: ignore[no-untyped-def]
    """A post as a blog feed makes it: the channel's text carries the article's link tagged with
    the feed's campaign (publishing/feeds.py), the post keeps the plain link."""
    article = LINK + "?lang=de"
    tagged = feeds.tag_link(article, source=feeds.utm_source(channel), campaign="fruehling")
    tagged += "&utm_term=spargel"
    variants = {channel.pk: f"Neu im Blog: {tagged}"}
    return publish(cast, [channel], text=f"Neu im Blog: {article}", link=article, variants=variants, goal=goal)


def test_a_feeds_campaign_reaches_the_short_link_of_a_post_without_a_goal(cast, frozen) -> None:
    channel = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau", "Café Königsbau")
    post = feed_post(cast, channel)
    link = ShortLink.objects.get(post=post)
    assert utm_of(link) == {
        "utm_source": ["sandbox"],  # the network: Stammtisch's own, always
        "utm_medium": ["social"],
        "utm_campaign": ["fruehling"],  # {goal} without a goal: the feed's campaign
        "utm_content": [f"post-{post.pk}"],  # the workspace's template sets it
        "utm_term": ["spargel"],  # no template for it: kept
        "lang": ["de"],  # the article's own parameter
    }
    sent = SandboxPost.objects.get(parent__isnull=True).text
    assert sent == f"Neu im Blog: {auto.actions.short_url(link.code)}"  # the whole tagged address replaced


def test_the_workspace_template_wins_where_it_sets_a_value(cast, frozen) -> None:
    do_update_link_settings(
        Actor.system("t"), cast.workspace, utm_campaign_template="{purpose}", utm_content_template=""
    )
    channel = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau", "Café Königsbau")
    post = feed_post(cast, channel)
    query = utm_of(ShortLink.objects.get(post=post))
    assert query["utm_campaign"] == ["value"]  # set by the template
    assert query["utm_content"] == ["feed"]  # the template gives nothing: the feed's tag stays
    assert query["lang"] == ["de"]  # the article's own parameter


def test_a_goal_wins_over_the_feeds_campaign(cast, frozen) -> None:
    channel = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau", "Café Königsbau")
    post = feed_post(cast, channel, goal=make_goal(cast.workspace))
    assert utm_of(ShortLink.objects.get(post=post))["utm_campaign"] == ["mehr-besuche-aus-social"]


def test_tagged_params_reads_only_the_posts_address() -> None:
    text = f"Lesen: {LINK}?utm_campaign=blog&utm_Content=feed&x=1, und https://other.example/?utm_campaign=no"
    assert auto.tagged_params(text, LINK) == {"utm_campaign": "blog", "utm_content": "feed"}
    assert auto.tagged_params(f"Lesen: {LINK}", LINK) == {}
    assert auto.tagged_params("kein Link", LINK) == {}
    own = f"{LINK}?utm_campaign=sommer"  # a tagged address in the link field, not in the text
    assert auto.tagged_params("kein Link", own) == {"utm_campaign": "sommer"}


# --- the whole path ----------------------------------------------------------------------------


def post_signed(cast, body: dict) -> Client:  # type: ignore[no-untyped-def,type-arg]
    link_settings = settings_for(cast.workspace)
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    signature = conversions.sign(conversion_secret(link_settings), timestamp, raw)
    return Client().post(
        f"/c/{link_settings.site_key}/conversions",
        raw,
        content_type="application/json",
        HTTP_X_STAMMTISCH_TIMESTAMP=timestamp,
        HTTP_X_STAMMTISCH_SIGNATURE=signature,
    )


def test_clicks_and_conversions_of_a_sandbox_post_count_for_its_post_channel_and_goal(cast, frozen) -> None:
    goal = make_goal(cast.workspace)
    other_goal = make_goal(cast.workspace, "Gute Stimmung", "image.net_sentiment")
    channel = do_connect_sandbox_channel(Actor.system("t"), cast.workspace, "koenigsbau", "Café Königsbau")
    post = publish(cast, [channel], goal=goal)

    # The published Sandbox post carries the delivery's short link, not the address.
    link = ShortLink.objects.get(post=post)
    sandbox_post = SandboxPost.objects.get(account__handle="koenigsbau", parent__isnull=True)
    assert f"/l/{link.code}" in sandbox_post.text and LINK not in sandbox_post.text
    assert (link.channel_id, link.delivery.post_id) == (channel.pk, post.pk)

    # Two people follow it (through the redirector), a bot too.
    first = Client().get(f"/l/{link.code}", HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="203.0.113.5")
    Client().get(f"/l/{link.code}", HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="203.0.113.6")
    Client().get(f"/l/{link.code}", HTTP_USER_AGENT="Googlebot/2.1", REMOTE_ADDR="203.0.113.7")
    assert first.status_code == 302 and first["Location"].startswith(LINK)
    assert parse_qs(urlsplit(first["Location"]).query)["utm_campaign"] == ["mehr-besuche-aus-social"]
    drain()
    assert Click.objects.filter(post=post, channel=channel, is_bot=False).count() == 2

    # The first one's visit (the website snippet) and reservation with a deposit (the signed
    # server report) come back with the click id.
    token = first["Location"].split("stm_click=")[1]
    site_key = settings_for(cast.workspace).site_key
    Client().get(
        f"/c/{site_key}/hit", {"k": "visit", "c": token}, HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="203.0.113.5"
    )
    response = post_signed(cast, {"kind": "purchase", "value": "23.50", "currency": "EUR", "click": token, "id": "o-1"})
    assert response.status_code == 201
    body = response.json()
    assert (body["attributed"], body["post"], body["channel"], body["goal"]) == (True, post.pk, channel.pk, goal.pk)
    click = Click.objects.get(uid=tracking.click_uid_of(token))
    assert set(Conversion.objects.values_list("click_id", "post_id", "channel_id")) == {(click.pk, post.pk, channel.pk)}

    # Per goal: the goal has the post's clicks and conversions; the other goal has none.
    figures = {row.goal: row for row in attribution.per_goal(cast.workspace)}
    mine = figures[goal]
    assert (mine.posts, mine.clicks, mine.visits, mine.conversions, mine.value) == (1, 2, 1, 1, Decimal("23.50"))
    assert (figures[other_goal].posts, figures[other_goal].clicks, figures[other_goal].conversions) == (0, 0, 0)
    assert figures[None].clicks == 0
    only = attribution.per_goal(cast.workspace, goal)
    assert [(row.goal, row.clicks) for row in only] == [(goal, 2)]

    # The conversions page shows it per goal, the goal's page lists the post as one that helped.
    slug = cast.workspace.slug
    html = client_for(cast.anna).get(reverse("links:conversions", kwargs={"slug": slug}), HTTP_ACCEPT_LANGUAGE="en")
    page = html.content.decode()
    assert "Per goal" in page and "Mehr Besuche aus Social" in page and "23.50" in page
    rollups.run_due(NOON + dt.timedelta(hours=1))  # the worker's rollup job (every 15 minutes)
    result = helped.for_goal(goal, now=NOON + dt.timedelta(hours=1))
    assert [row.post for row in result.rows] == [post]
    assert result.rows[0].cells == [("clicks", 2), ("visits", 1), ("conversions", 1)]
    assert result.rows[0].channels == ["Café Königsbau (Sandbox)"]
    goal_page = client_for(cast.anna).get(
        reverse("strategy:goal", kwargs={"slug": slug, "goal_id": goal.pk}), HTTP_ACCEPT_LANGUAGE="en"
    )
    text = goal_page.content.decode()
    assert goal_page.status_code == 200
    assert "Posts that helped" in text and "Unsere Sommerkarte ist da" in text
    assert reverse("publishing:post", kwargs={"slug": slug, "post_id": post.pk}) in text
