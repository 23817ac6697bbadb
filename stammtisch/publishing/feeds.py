"""RSS and Atom auto-posting (docs/import.md): a blog's new articles become posts.

A `FeedSource` is checked by the worker when its `next_check_at` has come (`check_due_feeds`),
claimed with a lease like a delivery, so any number of workers can run. A check fetches the
feed itself, through the guarded HTTP client (the SSRF guard runs again on every fetch and every
redirect: DNS can change after the feed was added), with `If-None-Match` / `If-Modified-Since`,
a time limit and a size limit; feedparser only ever sees the bytes (never a URL or a file
name), and a document that declares its own XML entities is refused before parsing, which is
what XML bombs need. Each new article (by guid, else link) becomes one post through
`do_create_post`, in one transaction with its `FeedItem`: the unique (feed, guid) makes a second
worker's copy fail and roll back, so an article never becomes two posts. Every channel gets its
own text with a link tagged for that network (`utm_source`), since the tags differ per channel.

Errors back off (the interval doubled per failure, at most a day); the last error is shown on
the feeds page. Adding a feed reads it once and marks every article in it as seen, so adding a
blog with 50 old articles posts none of them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import html
import io
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import httpx
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.http import UnsafeURL, check_public_url, guarded_client, retry_after_seconds
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.publishing import composer
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import FeedItem, FeedSource, Post

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 15.0  # seconds per connect/read (httpx)
FETCH_DEADLINE = 30.0  # seconds for the whole download, against servers that drip bytes
MAX_FEED_BYTES = 5 * 1024 * 1024  # after decompression
MAX_ENTRIES = 200  # entries read from one document
MAX_POSTS_PER_CHECK = 5  # newest new articles posted per check; older new ones are marked seen
LEASE = dt.timedelta(minutes=5)
MAX_BACKOFF = dt.timedelta(days=1)
CLAIM_BATCH = 10
SUMMARY_MAX = 300
SUMMARY_STEPS = (SUMMARY_MAX, 200, 140, 100, 60, 0)  # the summary shrinks until the text fits
INTERVALS = (15, 30, 60, 180, 360, 720, 1440)  # minutes
PLACEHOLDERS = ("title", "link", "summary")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "utm_id")
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.5, */*;q=0.1"
)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]*)\}")
_ANY_PLACEHOLDER = re.compile(r"\{([^{}\s]{0,60})\}")  # for the check: {title.__class__} is unknown
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_ALTERNATE_LINK = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
FEED_TYPES = (b"application/rss+xml", b"application/atom+xml", b"application/rdf+xml")


class FeedError(Exception):
    """A feed that could not be read, with a message for the feeds page (translated)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Entry:
    guid: str
    link: str
    title: str
    summary: str
    published: dt.datetime | None


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    not_modified: bool
    body: bytes = b""
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[Entry]


def feed_client() -> httpx.Client:
    """The client every feed fetch uses: SSRF guard on every request and redirect. Tests replace
    this function to pass an `httpx.MockTransport`."""
    return guarded_client(timeout=FETCH_TIMEOUT)


# --- Fetching --------------------------------------------------------------------------------


def _unsafe_message(url: str) -> str:
    host = urlsplit(url).hostname or url
    return _(
        "Stammtisch only reads feeds on public internet addresses: “%(host)s” is a private or "
        "local address, or is not an http(s) address that can be found."
    ) % {"host": host}


def check_feed_url(url: str) -> str:
    """The SSRF guard with a message for the user; raises FeedError."""
    try:
        return check_public_url(url)
    except UnsafeURL:
        raise FeedError(_unsafe_message(url)) from None


def _status_message(status: int) -> str:
    if status in (404, 410):
        return _("The feed address answers “not found” (HTTP %(status)d). Has the blog moved its feed?") % {
            "status": status
        }
    if status in (401, 403):
        return _("The blog refuses access to its feed (HTTP %(status)d).") % {"status": status}
    if status >= 500:
        return _("The blog's server has a problem (HTTP %(status)d); Stammtisch tries again later.") % {
            "status": status
        }
    return _("The feed address answers with HTTP %(status)d.") % {"status": status}


def fetch(url: str, client: httpx.Client, *, etag: str = "", last_modified: str = "") -> Fetched:
    """Download a feed: guarded, conditional, at most MAX_FEED_BYTES and FETCH_DEADLINE."""
    check_feed_url(url)
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + FETCH_DEADLINE
    too_large = _("The feed is larger than %(size)d MB.") % {"size": MAX_FEED_BYTES // 1024 // 1024}
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(url=str(response.url), not_modified=True, etag=etag, last_modified=last_modified)
            if not response.is_success:
                retry = retry_after_seconds(response) if response.status_code in (429, 503) else None
                raise FeedError(_status_message(response.status_code), retry_after=retry)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_FEED_BYTES:
                raise FeedError(too_large)
            chunks, size = [], 0
            for chunk in response.iter_bytes():  # decompressed: a gzip bomb stops at the limit too
                size += len(chunk)
                if size > MAX_FEED_BYTES:
                    raise FeedError(too_large)
                if time.monotonic() > deadline:
                    raise FeedError(_("The blog's server sends the feed too slowly; Stammtisch tries again later."))
                chunks.append(chunk)
            return Fetched(
                url=str(response.url),
                not_modified=False,
                body=b"".join(chunks),
                content_type=response.headers.get("Content-Type", ""),
                etag=response.headers.get("ETag", "")[:200],
                last_modified=response.headers.get("Last-Modified", "")[:100],
            )
    except httpx.TooManyRedirects:
        raise FeedError(_("The feed address redirects too often.")) from None
    except httpx.TimeoutException:
        raise FeedError(_("The blog's server did not answer in time; Stammtisch tries again later.")) from None
    except httpx.HTTPError as exc:
        if isinstance(exc.__cause__, UnsafeURL):  # a redirect to a private address
            raise FeedError(_unsafe_message(str(exc.request.url) if _has_request(exc) else url)) from None
        raise FeedError(
            _("The feed could not be fetched (%(error)s); Stammtisch tries again later.")
            % {"error": type(exc).__name__}
        ) from None


def _has_request(exc: httpx.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018 (raises RuntimeError when not set)
    except RuntimeError:
        return False
    return True


def discover(page: bytes, base: str) -> str | None:
    """The feed a web page names in `<link rel="alternate" type="application/rss+xml">`."""
    for tag in _ALTERNATE_LINK.findall(page[:500_000]):
        attributes = {m[0].lower(): (m[1] or m[2]) for m in _ATTRIBUTE.findall(tag)}
        if b"alternate" in attributes.get(b"rel", b"").lower().split() and (
            attributes.get(b"type", b"").lower().strip() in FEED_TYPES
        ):
            href = html.unescape(attributes.get(b"href", b"").decode("utf-8", "replace")).strip()
            if href:
                return urljoin(base, href)
    return None


# --- Parsing ---------------------------------------------------------------------------------


def _declares_entities(body: bytes) -> bool:
    for data in (body, body.replace(b"\x00", b"")):  # UTF-16 as well
        match = _FIRST_ELEMENT.search(data)
        prolog = data[: match.start()] if match else data
        if b"<!ENTITY" in prolog.upper():
            return True
    return False


def plain(value: str) -> str:
    """Text without HTML tags and entities, whitespace collapsed."""
    text = strip_tags(value[:20_000])
    return " ".join(html.unescape(text).split())


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ""
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-\u2013") + "…"


def _http_link(value: str) -> str:
    value = (value or "").strip()
    if urlsplit(value).scheme in ("http", "https") and len(value) <= 2000:
        return value
    return ""


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_feed(body: bytes, *, content_type: str = "", url: str = "") -> ParsedFeed:
    """RSS 0.9x/1.0/2.0 or Atom from bytes; raises FeedError for anything else."""
    if _declares_entities(body):
        raise FeedError(
            _("The feed declares its own XML entities; Stammtisch refuses such feeds (XML bombs are built that way).")
        )
    parsed = feedparser.parse(
        io.BytesIO(body),  # a stream: feedparser must never open a URL or a file itself
        response_headers={"content-type": content_type or "application/xml", "content-location": url},
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(_("This address does not return an RSS or Atom feed."))
    entries = []
    for raw in parsed.entries[:MAX_ENTRIES]:
        link = _http_link(raw.get("link", ""))
        title = plain(raw.get("title", ""))[:500]
        content = raw.get("content") or [{}]
        summary = plain(raw.get("summary", "") or content[0].get("value", ""))
        published = _when(raw.get("published_parsed") or raw.get("updated_parsed"))
        guid = (raw.get("id") or link or "").strip()
        if not guid:
            if not title:
                continue
            guid = "title:" + hashlib.sha256(f"{title}|{published}".encode()).hexdigest()
        if len(guid) > 500:
            guid = "sha256:" + hashlib.sha256(guid.encode()).hexdigest()
        entries.append(Entry(guid=guid, link=link, title=title, summary=summary, published=published))
    return ParsedFeed(title=plain(parsed.feed.get("title", ""))[:200], entries=entries)


# --- Texts -----------------------------------------------------------------------------------


def template_problems(template: str) -> list[str]:
    unknown = sorted({name for name in _ANY_PLACEHOLDER.findall(template) if name not in PLACEHOLDERS})
    problems = []
    if not template.strip():
        problems.append(_("The post text template is empty."))
    if unknown:
        problems.append(
            _("Unknown placeholders: %(unknown)s. Use {title}, {link} and {summary}.")
            % {"unknown": ", ".join("{" + name + "}" for name in unknown)}
        )
    return problems


def render(template: str, *, title: str, link: str, summary: str) -> str:
    """The template with {title}, {link} and {summary} filled in. A plain replacement, never
    `str.format` (a template is user input)."""
    values = {"title": title, "link": link, "summary": summary}
    text = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def tag_link(url: str, *, source: str, campaign: str) -> str:
    """`url` with UTM tags for one network; its own query parameters are kept (UTM ones that
    were there are replaced)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in UTM_KEYS]
    query += [("utm_source", source), ("utm_medium", "social"), ("utm_campaign", campaign), ("utm_content", "feed")]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def utm_source(channel: Channel) -> str:
    """The network a channel posts to, or the one a Sandbox channel stands in for."""
    return composer.rules_key_for(channel) or channel.network


def channel_text(channel: Channel, template: str, entry: Entry, link: str) -> tuple[str, composer.ChannelCheck]:
    """The channel's text, the summary shortened step by step until the network takes it."""
    text, check = "", None
    for limit in SUMMARY_STEPS:
        text = render(template, title=entry.title, link=link, summary=shorten(entry.summary, limit))
        check = composer.check_channel(channel, text, link=entry.link)  # counted as it is sent
        if check.ok or "{summary}" not in template:
            break
    assert check is not None
    return text, check


# --- Writes ----------------------------------------------------------------------------------


def _clean_settings(
    workspace: Workspace,
    *,
    channels: Iterable[Channel],
    mode: str,
    template: str,
    utm_campaign: str,
    pillar: str,
    interval_minutes: int,
) -> list[Channel]:
    channels = list(channels)
    if not channels:
        raise ActionError(_("Choose at least one channel for the feed's posts."))
    if any(channel.workspace_id != workspace.pk for channel in channels):
        raise ActionError(_("A channel does not belong to this workspace."))
    if mode not in FeedSource.Mode.values:
        raise ActionError(_("Choose what happens with new articles."))
    problems = template_problems(template)
    if problems:
        raise ActionError(" ".join(problems))
    if not utm_campaign.strip() or len(utm_campaign) > 100:
        raise ActionError(_("The UTM campaign needs 1 to 100 characters."))
    if len(pillar) > 60:
        raise ActionError(_("A content pillar has at most 60 characters."))
    if interval_minutes not in INTERVALS:
        raise ActionError(_("Choose how often the feed is checked."))
    return channels


def do_add_feed(
    actor: Actor,
    workspace: Workspace,
    url: str,
    channels: Iterable[Channel],
    mode: str = FeedSource.Mode.DRAFT,
    template: str = "{title}\n\n{link}",
    utm_campaign: str = "blog",
    pillar: str = "",
    *,
    title: str = "",
    interval_minutes: int = 30,
    now: dt.datetime | None = None,
) -> FeedSource:
    """Add a feed and read it once: every article in it now counts as seen, so only articles
    published from now on become posts. A web page that names its feed is followed to it.
    Refused (nothing stored) when the address is private or local, or is no readable feed."""
    require_perm(actor, workspace, Perm.EDIT)
    now = now or timezone.now()
    url = url.strip()
    channel_list = _clean_settings(
        workspace,
        channels=channels,
        mode=mode,
        template=template,
        utm_campaign=utm_campaign,
        pillar=pillar,
        interval_minutes=interval_minutes,
    )
    if FeedSource.objects.filter(workspace=workspace, url=url).exists():
        raise ActionError(_("This workspace has this feed already."))
    try:
        with feed_client() as client:
            fetched = fetch(url, client)
            found = None
            if b"html" in fetched.content_type.lower().encode() or fetched.body.lstrip()[:15].lower().startswith(
                (b"<!doctype html", b"<html")
            ):
                found = discover(fetched.body, fetched.url)
                if found is None:
                    raise FeedError(
                        _(
                            "This is a web page without a feed link. Enter the feed's own address "
                            "(often ending in /feed/, /rss.xml or /atom.xml)."
                        )
                    )
                fetched = fetch(found, client)
                url = found
            parsed = parse_feed(fetched.body, content_type=fetched.content_type, url=fetched.url)
    except FeedError as exc:
        raise ActionError(exc.message) from None
    if FeedSource.objects.filter(workspace=workspace, url=url).exists():
        raise ActionError(_("This workspace has this feed already."))
    with transaction.atomic():
        feed = FeedSource.objects.create(
            workspace=workspace,
            url=url,
            title=(title.strip() or parsed.title or urlsplit(url).hostname or url)[:200],
            mode=mode,
            template=template,
            utm_campaign=utm_campaign.strip(),
            pillar=pillar.strip(),
            interval_minutes=interval_minutes,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            last_checked_at=now,
            next_check_at=now + dt.timedelta(minutes=interval_minutes),
        )
        feed.channels.set(channel_list)
        _mark_seen(feed, parsed.entries, now)
        audit(
            actor,
            "feed.add",
            workspace=workspace,
            obj=feed,
            summary=feed.title,
            data={
                "url": url,
                "channels": [c.pk for c in channel_list],
                "mode": mode,
                "articles_seen": len(parsed.entries),
            },
        )
    return feed


def _mark_seen(feed: FeedSource, entries: Iterable[Entry], now: dt.datetime) -> None:
    FeedItem.objects.bulk_create(
        [
            FeedItem(
                feed=feed, guid=e.guid, link=e.link, title=e.title, published_at=e.published, post=None, seen_at=now
            )
            for e in entries
        ],
        ignore_conflicts=True,
    )


@transaction.atomic
def do_update_feed(
    actor: Actor,
    feed: FeedSource,
    *,
    title: str,
    channels: Iterable[Channel],
    mode: str,
    template: str,
    utm_campaign: str,
    pillar: str,
    interval_minutes: int,
) -> FeedSource:
    """Change a feed's settings (its address stays: a new address is a new feed)."""
    require_perm(actor, feed.workspace, Perm.EDIT)
    channel_list = _clean_settings(
        feed.workspace,
        channels=channels,
        mode=mode,
        template=template,
        utm_campaign=utm_campaign,
        pillar=pillar,
        interval_minutes=interval_minutes,
    )
    feed.title = title.strip()[:200] or feed.title
    feed.mode = mode
    feed.template = template
    feed.utm_campaign = utm_campaign.strip()
    feed.pillar = pillar.strip()
    feed.interval_minutes = interval_minutes
    feed.save(update_fields=["title", "mode", "template", "utm_campaign", "pillar", "interval_minutes"])
    feed.channels.set(channel_list)
    audit(
        actor,
        "feed.update",
        workspace=feed.workspace,
        obj=feed,
        summary=feed.title,
        data={"channels": [c.pk for c in channel_list], "mode": mode, "interval_minutes": interval_minutes},
    )
    return feed


@transaction.atomic
def do_set_feed_active(actor: Actor, feed: FeedSource, active: bool, *, now: dt.datetime | None = None) -> None:
    """Pause a feed, or resume it: a resumed feed is checked at once, its failures forgotten."""
    require_perm(actor, feed.workspace, Perm.EDIT)
    changes: dict[str, Any] = {"active": active}
    if active:
        changes.update(next_check_at=now or timezone.now(), failures=0)
    FeedSource.objects.filter(pk=feed.pk).update(**changes)
    audit(actor, "feed.resume" if active else "feed.pause", workspace=feed.workspace, obj=feed, summary=feed.title)


@transaction.atomic
def do_delete_feed(actor: Actor, feed: FeedSource) -> None:
    """Remove a feed; the posts it made stay."""
    require_perm(actor, feed.workspace, Perm.EDIT)
    audit(actor, "feed.delete", workspace=feed.workspace, obj=feed, summary=feed.title, data={"url": feed.url})
    feed.delete()


@dataclass(frozen=True)
class CheckResult:
    posts: int
    error: str


def do_check_feed_now(actor: Actor, feed: FeedSource, *, now: dt.datetime | None = None) -> CheckResult:
    """Check one feed now (the "Check now" button), paused or not, unless a worker is on it."""
    require_perm(actor, feed.workspace, Perm.EDIT)
    now = now or timezone.now()
    owner = f"web:{uuid.uuid4().hex[:12]}"
    wall = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=wall)
    if not FeedSource.objects.filter(free, pk=feed.pk).update(lease_owner=owner, lease_until=wall + LEASE):
        raise ActionError(_("This feed is being checked right now. Look again in a minute."))
    audit(actor, "feed.check", workspace=feed.workspace, obj=feed, summary=feed.title)
    with feed_client() as client:
        made = check_feed(feed.pk, owner, client=client, now=now)
    error = FeedSource.objects.filter(pk=feed.pk).values_list("last_error", flat=True).first() or ""
    return CheckResult(posts=made, error=error)


# --- The worker ------------------------------------------------------------------------------


def claim_feeds(worker: str, *, now: dt.datetime | None = None, limit: int = CLAIM_BATCH) -> list[int]:
    """Claim up to `limit` due feeds with a lease, like deliveries (publisher.claim): SKIP LOCKED
    on PostgreSQL, a conditional UPDATE per row on SQLite."""
    now = now or timezone.now()
    wall = timezone.now()
    due = Q(active=True, next_check_at__lte=now) & (Q(lease_until__isnull=True) | Q(lease_until__lt=wall))
    lease = {"lease_owner": worker, "lease_until": wall + LEASE}
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            ids = list(
                FeedSource.objects.select_for_update(skip_locked=True)
                .filter(due)
                .order_by("next_check_at", "id")
                .values_list("id", flat=True)[:limit]
            )
            FeedSource.objects.filter(pk__in=ids).update(**lease)
            return ids
        candidates = list(
            FeedSource.objects.filter(due).order_by("next_check_at", "id").values_list("id", flat=True)[:limit]
        )
        return [pk for pk in candidates if FeedSource.objects.filter(due, pk=pk).update(**lease)]


def next_due() -> dt.datetime | None:
    """When the next active feed is due (for a worker deciding how long to sleep)."""
    return (
        FeedSource.objects.filter(active=True).order_by("next_check_at").values_list("next_check_at", flat=True).first()
    )


def check_due_feeds(
    worker: str,
    now: dt.datetime | None = None,
    *,
    limit: int = CLAIM_BATCH,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """The worker's job: claim due feeds and check each; returns how many posts were made."""
    now = now or timezone.now()
    claimed = claim_feeds(worker, now=now, limit=limit)
    if not claimed:
        return 0
    made = 0
    with feed_client() as client:
        for position, feed_id in enumerate(claimed):
            if should_stop():
                FeedSource.objects.filter(pk__in=claimed[position:], lease_owner=worker).update(
                    lease_owner="", lease_until=None
                )
                break
            made += check_feed(feed_id, worker, client=client, now=now)
    return made


def backoff(failures: int, interval_minutes: int, retry_after: float | None = None) -> dt.timedelta:
    """The interval doubled per failure in a row, at most a day; never sooner than the blog
    asked for (`Retry-After`)."""
    delay = min(MAX_BACKOFF, dt.timedelta(minutes=interval_minutes) * (2 ** min(failures, 16)))
    if retry_after:
        delay = max(delay, dt.timedelta(seconds=min(retry_after, MAX_BACKOFF.total_seconds())))
    return delay


def check_feed(feed_id: int, worker: str, *, client: httpx.Client, now: dt.datetime) -> int:
    """Check one feed this worker holds the lease of. Never raises for a broken feed: the
    error is stored on the feed and the next check backs off."""
    feed = FeedSource.objects.select_related("workspace").get(pk=feed_id)
    mine = FeedSource.objects.filter(pk=feed.pk, lease_owner=worker)
    try:
        fetched = fetch(feed.url, client, etag=feed.etag, last_modified=feed.last_modified)
        parsed = (
            None
            if fetched.not_modified
            else parse_feed(fetched.body, content_type=fetched.content_type, url=fetched.url)
        )
        made = _post_new(feed, parsed.entries, now) if parsed is not None else 0
    except FeedError as exc:
        failures = feed.failures + 1
        mine.update(
            lease_owner="",
            lease_until=None,
            last_checked_at=now,
            last_error=exc.message[:500],
            failures=failures,
            next_check_at=now + backoff(failures, feed.interval_minutes, exc.retry_after),
        )
        log.info("feed %s: %s", feed.pk, exc.message)
        return 0
    except Exception as exc:  # a bug or a parser crash must not stop the worker or other feeds
        log.exception("feed %s could not be checked", feed.pk)
        failures = feed.failures + 1
        mine.update(
            lease_owner="",
            lease_until=None,
            last_checked_at=now,
            last_error=(_("The feed could not be read (%(error)s).") % {"error": type(exc).__name__})[:500],
            failures=failures,
            next_check_at=now + backoff(failures, feed.interval_minutes),
        )
        return 0
    done: dict[str, Any] = {
        "lease_owner": "",
        "lease_until": None,
        "last_checked_at": now,
        "last_error": "",
        "failures": 0,
        "next_check_at": now + dt.timedelta(minutes=feed.interval_minutes),
    }
    if not fetched.not_modified:
        done.update(etag=fetched.etag, last_modified=fetched.last_modified)
    mine.update(**done)
    return made


def _seen_guids(feed: FeedSource, guids: list[str]) -> set[str]:
    return set(FeedItem.objects.filter(feed=feed, guid__in=guids).values_list("guid", flat=True))


def _post_new(feed: FeedSource, entries: list[Entry], now: dt.datetime) -> int:
    unique: dict[str, Entry] = {}
    for entry in entries:
        unique.setdefault(entry.guid, entry)
    seen = _seen_guids(feed, list(unique))
    new = [entry for guid, entry in unique.items() if guid not in seen]
    if not new:
        return 0
    if all(entry.published for entry in new):
        new.sort(key=lambda entry: entry.published or now, reverse=True)
    fresh, older = new[:MAX_POSTS_PER_CHECK], new[MAX_POSTS_PER_CHECK:]
    actor = Actor.system("feed")
    if older:  # a blog that moved (new guids for everything) must not flood the channels
        with transaction.atomic():
            _mark_seen(feed, older, now)
            audit(
                actor,
                "feed.skip",
                workspace=feed.workspace,
                obj=feed,
                summary=feed.title,
                data={"articles": len(older), "limit": MAX_POSTS_PER_CHECK},
            )
    channels = list(feed.channels.all())
    made = 0
    for entry in reversed(fresh):  # oldest first
        try:
            with transaction.atomic():
                _post_entry(actor, feed, channels, entry, now)
        except IntegrityError:  # another worker stored this article first: its post stands
            continue
        made += 1
    return made


def _post_entry(actor: Actor, feed: FeedSource, channels: list[Channel], entry: Entry, now: dt.datetime) -> Post:
    """One article as one post, with its FeedItem, in the caller's transaction."""
    item = FeedItem.objects.create(
        feed=feed, guid=entry.guid, link=entry.link, title=entry.title, published_at=entry.published, seen_at=now
    )
    variants: dict[int, str] = {}
    problems: list[str] = []
    for channel in channels:
        link = tag_link(entry.link, source=utm_source(channel), campaign=feed.utm_campaign) if entry.link else ""
        text, check = channel_text(channel, feed.template, entry, link)
        variants[channel.pk] = text
        if not check.ok:
            problems.append(composer.problem_summary(check))
    text = render(feed.template, title=entry.title, link=entry.link, summary=shorten(entry.summary, SUMMARY_MAX))
    text = text or entry.title or entry.link or feed.title
    scheduled_at = now if feed.mode == FeedSource.Mode.NOW and not problems else None
    post = do_create_post(
        actor,
        feed.workspace,
        text=text,
        channels=channels,
        scheduled_at=scheduled_at,
        link=entry.link,
        pillar=feed.pillar,
        variants=variants,
        source=Post.Source.FEED,
    )
    if feed.mode == FeedSource.Mode.QUEUE and not problems:
        try:
            from stammtisch.publishing.queue import do_add_to_queue  # written alongside; imported when used

            with transaction.atomic():
                do_add_to_queue(actor, post, now=now)
        except ActionError as exc:
            problems.append(exc.message)
        except ImportError:
            problems.append(_("The queue is not available; the post was saved as a draft."))
    item.post = post
    item.save(update_fields=["post"])
    if problems and feed.mode != FeedSource.Mode.DRAFT:
        audit(
            actor,
            "feed.post_draft",
            workspace=feed.workspace,
            obj=post,
            summary=entry.title[:120],
            data={"feed": feed.pk, "problems": problems},
        )
    return post
