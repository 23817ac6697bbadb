"""Blog feeds become posts: RSS 2.0, RSS 1.0 and Atom read through the guarded client (faked at
the transport with real feed documents from tests/fixtures), UTM-tagged per channel, each
article once, with backoff, size and XML-bomb limits and the SSRF guard on every fetch."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.http import guarded_client
from stammtisch.core.models import AuditEvent
from stammtisch.core.worker import Worker, default_jobs
from stammtisch.networks.models import Channel
from stammtisch.publishing import feeds
from stammtisch.publishing.models import Delivery, FeedItem, FeedSource, Post, QueueSlot

FIXTURES = Path(__file__).parent / "fixtures"
FEED_URL = "https://blog.cafe-koenigsbau.de/feed/"
ATOM_URL = "https://www.neckarblick-roesterei.de/atom.xml"
NOW = dt.datetime(2026, 4, 15, 8, 0, tzinfo=dt.UTC)
RSS = "application/rss+xml; charset=UTF-8"


@pytest.fixture(autouse=True)
def english():
    """The messages below are asserted in English, whatever language an earlier test left active."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _clock():  # type: ignore[no-untyped-def]
    """The wall clock an hour after NOW, when the first check after adding runs."""
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=True):
        yield


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def dns(monkeypatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Name resolution without a network: the blogs resolve to public addresses; a test may
    point a name elsewhere (DNS changes after a feed was added)."""
    table = {
        "blog.cafe-koenigsbau.de": "93.184.215.14",
        "www.neckarblick-roesterei.de": "93.184.215.15",
        "www.stuttgarter-wochenmarkt.de": "93.184.215.16",
        "cafe-koenigsbau.de": "93.184.215.17",
    }

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [
            (socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, 6, "", (host.strip("[]"), port))
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


class Web:
    """The blogs' web servers: a response (or a function making one) per URL; every request kept."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes | Callable[[httpx.Request], httpx.Response]] = {}
        self.requests: list[httpx.Request] = []

    def serve(self, url: str, body: bytes, content_type: str = RSS, etag: str = "") -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            headers = {"Content-Type": content_type}
            if etag:
                if request.headers.get("If-None-Match") == etag:
                    return httpx.Response(304, headers={"ETag": etag})
                headers["ETag"] = etag
            return httpx.Response(200, content=body, headers=headers)

        self.routes[url] = respond

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get(str(request.url))
        if route is None:
            return httpx.Response(404, text="not found")
        return route(request) if callable(route) else httpx.Response(200, content=route)


@pytest.fixture
def web(monkeypatch, dns) -> Web:  # type: ignore[no-untyped-def]
    server = Web()
    monkeypatch.setattr(feeds, "feed_client", lambda: guarded_client(transport=httpx.MockTransport(server.handler)))
    return server


@pytest.fixture
def channels(cast) -> list[Channel]:  # type: ignore[no-untyped-def]
    return [
        Channel.objects.create(
            workspace=cast.workspace, network="sandbox", handle="kx", display_name="Königsbau X", stands_in_for="x"
        ),
        Channel.objects.create(
            workspace=cast.workspace,
            network="sandbox",
            handle="kli",
            display_name="Königsbau LinkedIn",
            stands_in_for="linkedin",
        ),
    ]


def add_feed(cast, channels, url: str = FEED_URL, **options: Any) -> FeedSource:  # type: ignore[no-untyped-def]
    settings = {"mode": FeedSource.Mode.DRAFT, "template": "{title}\n\n{link}", "utm_campaign": "blog", "pillar": ""}
    settings.update(options)
    return feeds.do_add_feed(
        Actor(user=cast.bob),
        cast.workspace,
        url,
        channels,
        settings["mode"],
        settings["template"],
        settings["utm_campaign"],
        settings["pillar"],
        now=NOW,
    )


def check(later: dt.timedelta = dt.timedelta(hours=1)) -> int:
    return feeds.check_due_feeds("worker-1", NOW + later)


# --- Adding ----------------------------------------------------------------------------------


def test_adding_a_feed_marks_its_articles_as_seen_and_posts_nothing(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"), etag='"v1"')
    feed = add_feed(cast, channels)

    assert feed.title == "Café Königsbau \u2013 Blog"
    assert set(feed.channels.all()) == set(channels)
    assert FeedItem.objects.filter(feed=feed, post=None).count() == 3
    assert not Post.objects.exists()
    assert feed.etag == '"v1"'
    assert feed.next_check_at == NOW + dt.timedelta(minutes=30)
    event = AuditEvent.objects.get(action="feed.add")
    assert event.data["articles_seen"] == 3 and event.actor == cast.bob


def test_the_same_feed_cannot_be_added_twice(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    add_feed(cast, channels)
    with pytest.raises(ActionError, match="has this feed already"):
        add_feed(cast, channels)
    assert FeedSource.objects.count() == 1


def test_a_blog_page_leads_to_its_feed(cast, channels, web) -> None:
    web.serve("https://blog.cafe-koenigsbau.de/", fixture("blog_page.html"), content_type="text/html; charset=UTF-8")
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels, url="https://blog.cafe-koenigsbau.de/")
    assert feed.url == FEED_URL
    assert feed.items.count() == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed/",
        "http://10.0.0.8/rss.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/feed",
        "file:///etc/passwd",
    ],
)
def test_private_and_local_feed_addresses_are_refused(cast, channels, web, url) -> None:
    with pytest.raises(ActionError) as refused:
        add_feed(cast, channels, url=url)
    assert "private or local" in refused.value.message
    assert not web.requests  # refused before any request
    assert not FeedSource.objects.exists()


def test_a_name_that_resolves_to_a_private_address_is_refused(cast, channels, web, dns) -> None:
    dns["intranet.cafe-koenigsbau.de"] = "10.1.2.3"
    with pytest.raises(ActionError, match=r"intranet\.cafe-koenigsbau\.de"):
        add_feed(cast, channels, url="https://intranet.cafe-koenigsbau.de/feed/")
    assert not web.requests


def test_a_redirect_to_a_private_address_is_refused(cast, channels, web) -> None:
    web.routes[FEED_URL] = lambda request: httpx.Response(302, headers={"Location": "http://127.0.0.1:8000/admin/"})
    with pytest.raises(ActionError, match="private or local"):
        add_feed(cast, channels)
    assert [str(r.url) for r in web.requests] == [FEED_URL]  # the redirect target was never asked


def test_an_address_that_is_no_feed_is_refused(cast, channels, web) -> None:
    web.serve(FEED_URL, b"<html><body>Kein Feed</body></html>", content_type="text/html")
    with pytest.raises(ActionError, match="without a feed link"):
        add_feed(cast, channels)
    web.serve(FEED_URL, b'{"json": true}', content_type="application/json")
    with pytest.raises(ActionError, match="RSS or Atom"):
        add_feed(cast, channels)
    assert not FeedSource.objects.exists()


def test_a_template_with_unknown_placeholders_is_refused(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    with pytest.raises(ActionError, match=r"\{title\.__class__\}"):
        add_feed(cast, channels, template="{title.__class__} {link}")
    with pytest.raises(ActionError, match="Unknown placeholders"):
        add_feed(cast, channels, template="{titel}")
    assert not web.requests


# --- Checking --------------------------------------------------------------------------------


def test_a_new_article_becomes_one_post_with_utm_tags_per_channel(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels, template="{title}\n\n{summary}\n\n{link}", utm_campaign="blog-april", pillar="Blog")
    web.serve(FEED_URL, fixture("feed_wordpress_rss2_next_day.xml"))

    assert check() == 1

    post = Post.objects.get()
    article = "https://blog.cafe-koenigsbau.de/2026/04/spargelzeit/?lang=de"
    assert post.source == Post.Source.FEED
    assert post.status == Post.Status.DRAFT
    assert post.link == article  # the post keeps the untagged link
    assert post.pillar == "Blog"
    assert post.text.startswith("Spargelzeit: Unser Mittagstisch im Mai\n\nVon Mai an gibt es mittags Spargel")
    assert "<em>" not in post.text and "&#8211;" not in post.text
    by_network = {d.channel.stands_in_for: d.text for d in Delivery.objects.filter(post=post).select_related("channel")}
    for network in ("x", "linkedin"):
        link = by_network[network].rsplit("\n", 1)[-1]
        query = parse_qs(urlsplit(link).query)
        assert link.startswith("https://blog.cafe-koenigsbau.de/2026/04/spargelzeit/?")
        assert query == {
            "lang": ["de"],  # the article's own parameter stays
            "utm_source": [network],
            "utm_medium": ["social"],
            "utm_campaign": ["blog-april"],
            "utm_content": ["feed"],
        }
    item = FeedItem.objects.get(feed=feed, guid="https://blog.cafe-koenigsbau.de/?p=420")
    assert item.post == post
    assert item.published_at == dt.datetime(2026, 4, 15, 6, 0, tzinfo=dt.UTC)
    feed.refresh_from_db()
    assert feed.failures == 0 and feed.last_error == "" and feed.lease_owner == ""
    assert feed.next_check_at == NOW + dt.timedelta(hours=1, minutes=30)


def test_the_summary_is_shortened_until_the_text_fits_x(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    add_feed(cast, channels, template="{title}\n\n{summary}\n\n{link}", mode=FeedSource.Mode.NOW)
    long_summary = "Spargel " * 100
    body = fixture("feed_wordpress_rss2_next_day.xml").replace(
        b"Von Mai an gibt es mittags <em>Spargel", f"Von Mai an gibt es mittags {long_summary}<em>Spargel".encode()
    )
    web.serve(FEED_URL, body)
    assert check() == 1
    post = Post.objects.get()
    assert post.status == Post.Status.SCHEDULED  # it fits every channel, so "now" means now
    x_text = Delivery.objects.get(post=post, channel=channels[0]).text
    linkedin_text = Delivery.objects.get(post=post, channel=channels[1]).text
    assert "…" in x_text and len(x_text) < len(linkedin_text)


def test_a_second_check_makes_nothing_new_and_asks_conditionally(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"), etag='"v1"')
    add_feed(cast, channels)
    web.serve(FEED_URL, fixture("feed_wordpress_rss2_next_day.xml"), etag='"v2"')
    assert check() == 1
    assert check(dt.timedelta(hours=2)) == 0  # 304: the server has nothing new
    assert web.requests[-1].headers["If-None-Match"] == '"v2"'
    web.serve(FEED_URL, fixture("feed_wordpress_rss2_next_day.xml"))  # no ETag: the whole feed again
    assert check(dt.timedelta(hours=3)) == 0
    assert Post.objects.count() == 1
    assert FeedItem.objects.count() == 4


def test_not_modified_counts_as_a_good_check(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"), etag='W/"abc"')
    feed = add_feed(cast, channels)
    assert check() == 0
    feed.refresh_from_db()
    assert web.requests[-1].headers["If-None-Match"] == 'W/"abc"'
    assert feed.last_checked_at == NOW + dt.timedelta(hours=1)
    assert feed.failures == 0 and feed.etag == 'W/"abc"'


def test_a_server_error_backs_off_and_is_shown(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels)
    web.routes[FEED_URL] = lambda request: httpx.Response(500, text="Internal Server Error")

    assert check() == 0
    feed.refresh_from_db()
    assert feed.failures == 1
    assert "HTTP 500" in feed.last_error
    assert feed.next_check_at == NOW + dt.timedelta(hours=1) + dt.timedelta(minutes=60)
    assert feed.lease_owner == ""

    assert check(dt.timedelta(hours=2)) == 0
    feed.refresh_from_db()
    assert feed.failures == 2
    assert feed.next_check_at == NOW + dt.timedelta(hours=2) + dt.timedelta(minutes=120)

    web.serve(FEED_URL, fixture("feed_wordpress_rss2_next_day.xml"))
    assert check(dt.timedelta(hours=5)) == 1  # recovered
    feed.refresh_from_db()
    assert feed.failures == 0 and feed.last_error == ""


def test_a_feed_that_is_not_due_is_not_fetched(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    add_feed(cast, channels)
    before = len(web.requests)
    assert check(dt.timedelta(minutes=10)) == 0
    assert len(web.requests) == before


def test_a_billion_laughs_feed_is_refused_at_once(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels)
    web.serve(FEED_URL, fixture("billion_laughs.xml"))
    started = time.perf_counter()
    assert check() == 0
    assert time.perf_counter() - started < 5
    feed.refresh_from_db()
    assert "XML entities" in feed.last_error and feed.failures == 1
    with pytest.raises(feeds.FeedError):
        feeds.parse_feed(fixture("external_entity.xml"))


def test_a_feed_larger_than_the_limit_is_refused(cast, channels, web, monkeypatch) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels)
    monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 2048)
    assert check() == 0
    feed.refresh_from_db()
    assert "larger than" in feed.last_error


def test_dns_pointing_elsewhere_later_is_refused_at_fetch_time(cast, channels, web, dns) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels)
    dns["blog.cafe-koenigsbau.de"] = "127.0.0.1"  # the blog's name now points at our own machine
    before = len(web.requests)
    assert check() == 0
    feed.refresh_from_db()
    assert "private or local" in feed.last_error
    assert len(web.requests) == before


def test_an_atom_feed_with_a_relative_link(cast, channels, web) -> None:
    body = fixture("feed_atom.xml")
    older = body.replace(b"<entry>", b"<!--", 1).replace(b"</entry>", b"-->", 1)  # without the newest entry
    web.serve(ATOM_URL, older, content_type="application/atom+xml")
    feed = add_feed(cast, channels, url=ATOM_URL, template="{title} {link}")
    assert feed.title == "Rösterei Neckarblick \u2013 Neuigkeiten"
    web.serve(ATOM_URL, body, content_type="application/atom+xml")
    assert check() == 1
    post = Post.objects.get()
    assert post.link == "https://www.neckarblick-roesterei.de/news/2026/kolumbien-huila?utm_source=newsletter&ref=atom"
    text = Delivery.objects.get(post=post, channel=channels[0]).text
    assert text.startswith(
        "Neue Bohne: Kolumbien Huila https://www.neckarblick-roesterei.de/news/2026/kolumbien-huila?"
    )
    query = parse_qs(urlsplit(text.split(" ")[-1]).query)
    assert query["ref"] == ["atom"] and query["utm_source"] == ["x"]  # the newsletter tag is replaced


def test_rss_1_0_in_latin_1_is_read() -> None:
    parsed = feeds.parse_feed(fixture("feed_rss1.rdf"), content_type="application/rdf+xml", url="https://x.example/")
    assert parsed.title == "Wochenmarkt Stuttgart"
    [entry] = parsed.entries
    assert entry.title == "KW 16: Bärlauch und erste Erdbeeren"
    assert entry.link == "https://www.stuttgarter-wochenmarkt.de/2026/kw16.html"
    assert entry.published == dt.datetime(2026, 4, 13, 4, 0, tzinfo=dt.UTC)


def test_mode_now_schedules_at_once(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    add_feed(cast, channels, mode=FeedSource.Mode.NOW)
    web.serve(FEED_URL, fixture("feed_wordpress_rss2_next_day.xml"))
    assert check() == 1
    post = Post.objects.get()
    assert post.status == Post.Status.SCHEDULED
    assert post.scheduled_at == NOW + dt.timedelta(hours=1)
    assert set(Delivery.objects.filter(post=post).values_list("due_at", flat=True)) == {post.scheduled_at}


def test_mode_queue_takes_the_next_free_slot(cast, channels, web) -> None:
    for channel in channels:
        for weekday in range(7):
            QueueSlot.objects.create(channel=channel, weekday=weekday, time=dt.time(10, 0))
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    add_feed(cast, channels, mode=FeedSource.Mode.QUEUE)
    web.serve(FEED_URL, fixture("feed_wordpress_rss2_next_day.xml"))
    assert check() == 1
    post = Post.objects.get()
    assert post.status == Post.Status.SCHEDULED
    assert post.scheduled_at == dt.datetime(2026, 4, 15, 8, 0, tzinfo=dt.UTC) + dt.timedelta(days=1)  # 10:00 Berlin
    assert post.source == Post.Source.FEED


def test_mode_queue_without_slots_makes_a_draft_and_says_why(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    add_feed(cast, channels, mode=FeedSource.Mode.QUEUE)
    web.serve(FEED_URL, fixture("feed_wordpress_rss2_next_day.xml"))
    assert check() == 1
    post = Post.objects.get()
    assert post.status == Post.Status.DRAFT
    event = AuditEvent.objects.get(action="feed.post_draft")
    assert "no posting times" in event.data["problems"][0]


def test_an_article_too_long_for_x_becomes_a_draft_with_the_problem_noted(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels, mode=FeedSource.Mode.NOW)
    long_title = "Spargelzeit " + "und noch mehr Spargel " * 20
    web.serve(
        FEED_URL,
        fixture("feed_wordpress_rss2_next_day.xml").replace(
            b"<title>Spargelzeit: Unser Mittagstisch im Mai</title>", f"<title>{long_title}</title>".encode()
        ),
    )
    assert check() == 1
    post = Post.objects.get()
    assert post.status == Post.Status.DRAFT
    assert not Delivery.objects.filter(post=post, due_at__isnull=False).exists()
    event = AuditEvent.objects.get(action="feed.post_draft")
    assert event.data["feed"] == feed.pk and "Königsbau X" in event.data["problems"][0]

    client = Client()
    client.force_login(cast.bob)
    page = client.get(reverse("publishing:feeds", kwargs={"slug": cast.workspace.slug}), HTTP_ACCEPT_LANGUAGE="en")
    assert "Saved as a draft because the text does not fit" in page.content.decode()


def test_a_flood_of_new_articles_posts_only_the_newest(cast, channels, web, monkeypatch) -> None:
    web.serve(FEED_URL, b'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title></channel></rss>')
    add_feed(cast, channels)
    web.serve(FEED_URL, fixture("feed_wordpress_rss2_next_day.xml"))  # 4 "new" articles at once
    monkeypatch.setattr(feeds, "MAX_POSTS_PER_CHECK", 2)
    assert check() == 2
    titles = set(Post.objects.values_list("text", flat=True))
    assert {t.split("\n")[0] for t in titles} == {
        "Spargelzeit: Unser Mittagstisch im Mai",
        "Rhabarberkuchen ist zurück!",
    }
    assert FeedItem.objects.filter(post=None).count() == 2  # the older two: seen, not posted
    assert AuditEvent.objects.get(action="feed.skip").data["articles"] == 2


def test_one_article_makes_one_post_even_when_two_workers_read_it(cast, channels, web, monkeypatch) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels)
    entries = feeds.parse_feed(fixture("feed_wordpress_rss2_next_day.xml"), url=FEED_URL).entries
    assert feeds._post_new(feed, entries, NOW) == 1  # the first worker
    # The second worker read which articles were seen before the first one committed:
    monkeypatch.setattr(feeds, "_seen_guids", lambda feed, guids: set())
    assert feeds._post_new(feed, entries, NOW) == 0
    assert Post.objects.count() == 1
    assert FeedItem.objects.filter(feed=feed).count() == 4
    # The constraint holds the article and its post together: a duplicate leaves no stray post.
    with pytest.raises(IntegrityError), transaction.atomic():
        feeds._post_entry(Actor.system("feed"), feed, channels, entries[0], NOW)
    assert Post.objects.count() == 1


def test_a_feed_leased_by_another_worker_is_not_checked_twice(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels)
    later = NOW + dt.timedelta(hours=1)
    assert feeds.claim_feeds("worker-a", now=later) == [feed.pk]
    assert feeds.claim_feeds("worker-b", now=later) == []
    assert feeds.check_due_feeds("worker-b", later) == 0


def test_the_worker_checks_due_feeds(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    add_feed(cast, channels)
    web.serve(FEED_URL, fixture("feed_wordpress_rss2_next_day.xml"))
    worker = Worker(worker_id="w1", jobs=[job for job in default_jobs() if job.name == "feeds"])
    worker.tick(now=NOW + dt.timedelta(hours=1))
    assert Post.objects.filter(source=Post.Source.FEED).count() == 1


def test_a_paused_feed_is_not_checked_until_resumed(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels)
    feeds.do_set_feed_active(Actor(user=cast.bob), feed, False)
    assert feeds.claim_feeds("w", now=NOW + dt.timedelta(days=2)) == []
    feeds.do_set_feed_active(Actor(user=cast.bob), feed, True, now=NOW + dt.timedelta(days=2))
    assert feeds.claim_feeds("w", now=NOW + dt.timedelta(days=2)) == [feed.pk]


# --- Pages -----------------------------------------------------------------------------------


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_bob_adds_a_feed_on_the_page_and_sees_its_status(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    url = reverse("publishing:feeds", kwargs={"slug": cast.workspace.slug})
    bob = _client(cast.bob)
    response = bob.post(
        url,
        {
            "url": FEED_URL,
            "title": "",
            "channels": [channels[0].pk],
            "mode": "draft",
            "template": "{title}\n\n{link}",
            "utm_campaign": "blog",
            "pillar": "",
            "interval_minutes": "60",
        },
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    page = response.content.decode()
    assert "Its 3 articles so far count as seen" in page
    assert "Café Königsbau \u2013 Blog" in page
    feed = FeedSource.objects.get()
    assert feed.interval_minutes == 60 and list(feed.channels.all()) == [channels[0]]

    web.routes[FEED_URL] = lambda request: httpx.Response(503, headers={"Retry-After": "7200"})
    response = bob.post(
        reverse("publishing:feed_check", kwargs={"slug": cast.workspace.slug, "feed_id": feed.pk}),
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    page = response.content.decode()
    assert "The feed could not be read" in page and "HTTP 503" in page
    feed.refresh_from_db()
    assert feed.next_check_at - feed.last_checked_at >= dt.timedelta(hours=2)  # Retry-After honoured
    assert "Last error" in page


def test_the_page_refuses_a_local_address_with_a_clear_message(cast, channels, web) -> None:
    response = _client(cast.bob).post(
        reverse("publishing:feeds", kwargs={"slug": cast.workspace.slug}),
        {
            "url": "http://127.0.0.1:8000/feed/",
            "channels": [channels[0].pk],
            "mode": "draft",
            "template": "{title} {link}",
            "utm_campaign": "blog",
            "interval_minutes": "30",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "only reads feeds on public internet addresses" in response.content.decode()
    assert not FeedSource.objects.exists()


def test_edit_pause_and_remove(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels)
    bob = _client(cast.bob)
    kwargs = {"slug": cast.workspace.slug, "feed_id": feed.pk}
    response = bob.post(
        reverse("publishing:feed_edit", kwargs=kwargs),
        {
            "title": "Unser Blog",
            "channels": [channels[1].pk],
            "mode": "now",
            "template": "{title} {link}",
            "utm_campaign": "blog",
            "interval_minutes": "180",
        },
    )
    assert response.status_code == 302
    feed.refresh_from_db()
    assert (feed.title, feed.mode, feed.interval_minutes) == ("Unser Blog", "now", 180)
    assert list(feed.channels.all()) == [channels[1]]

    bob.post(reverse("publishing:feed_state", kwargs=kwargs), {"action": "pause"})
    feed.refresh_from_db()
    assert not feed.active
    bob.post(reverse("publishing:feed_delete", kwargs=kwargs))
    assert not FeedSource.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="feed.").values_list("action", flat=True).order_by("pk")
    ) == [
        "feed.add",
        "feed.update",
        "feed.pause",
        "feed.delete",
    ]


def test_charlie_and_anna_cannot_touch_alices_feeds(cast, channels, web) -> None:
    web.serve(FEED_URL, fixture("feed_wordpress_rss2.xml"))
    feed = add_feed(cast, channels)
    kwargs = {"slug": cast.workspace.slug, "feed_id": feed.pk}
    assert _client(cast.charlie).post(reverse("publishing:feed_delete", kwargs=kwargs)).status_code == 404
    foreign = {"slug": cast.other_workspace.slug, "feed_id": feed.pk}
    assert _client(cast.charlie).post(reverse("publishing:feed_delete", kwargs=foreign)).status_code == 404
    assert _client(cast.anna).get(reverse("publishing:feeds", kwargs={"slug": cast.workspace.slug})).status_code == 403
    assert FeedSource.objects.filter(pk=feed.pk).exists()


def test_the_feeds_page_needs_the_same_queries_for_one_feed_or_four(cast, channels, web) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    bob = _client(cast.bob)
    url = reverse("publishing:feeds", kwargs={"slug": cast.workspace.slug})

    def add(n: int) -> None:
        web.serve(f"{FEED_URL}?n={n}", fixture("feed_wordpress_rss2.xml"))
        add_feed(cast, channels, url=f"{FEED_URL}?n={n}")
        web.serve(f"{FEED_URL}?n={n}", fixture("feed_wordpress_rss2_next_day.xml"))

    def queries() -> int:
        bob.get(url)  # the session and the like settle first
        with CaptureQueriesContext(connection) as context:
            response = bob.get(url)
        assert response.status_code == 200
        return len(context)

    add(0)
    assert check() == 1
    one = queries()
    for n in range(1, 4):
        add(n)
    assert check() == 3
    assert queries() == one
    assert bob.get(url).content.decode().count("Spargelzeit") == 4
