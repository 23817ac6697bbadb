"""Links in the profiles of network accounts (docs/people.md "Merging"): a Mastodon account's
website field or profile fields, the links in a Bluesky bio, a Sandbox persona's "other account".

Connectors put what the network's payload says about an author's profile into the event:
`data["author_links"]`, a list of addresses. The inbox's ingestion hands every stored page of
events to `remember()`, which keeps them as `ProfileLink` rows named like identities (workspace,
network, author id), skipping our own accounts and erased (suppressed) authors. An address that is
another network's profile page (`profile_of`) names that account, so the merge suggestions can
find two people whose accounts link to each other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q

from stammtisch.audience.models import ProfileLink, Suppression
from stammtisch.audience.privacy import handle_key, suppression_hash
from stammtisch.networks.base import Event
from stammtisch.networks.models import Channel

MAX_LINKS = 10  # per account: a profile with more is a link farm, not a person
MAX_URL = 500

# Hosts whose first path segment is the account: x.com/maxi, instagram.com/maxi, t.me/maxi.
FIRST_SEGMENT = {
    "x.com": "x",
    "twitter.com": "x",
    "mobile.twitter.com": "x",
    "instagram.com": "instagram",
    "t.me": "telegram",
    "facebook.com": "facebook",
    "m.facebook.com": "facebook",
}
# Paths of those hosts that are no account.
NOT_ACCOUNTS = {"home", "i", "intent", "share", "search", "hashtag", "explore", "p", "reel", "login", "pages"}
HANDLE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def profile_of(url: str) -> tuple[str, str] | None:
    """(network, lower-case handle) of the account whose profile page `url` is, else None.

    Known forms: x.com/NAME (and twitter.com), instagram.com/NAME, t.me/NAME, facebook.com/NAME,
    threads.net/@NAME, bsky.app/profile/HANDLE, linkedin.com/in/NAME, any host's /@NAME (a
    Mastodon server: the handle is NAME@host, as the Mastodon connector stores it) and the
    Sandbox's own /sandbox/NAME/ pages."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    host = host.removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        return None
    first = segments[0]
    base = urlsplit(settings.BASE_URL)
    if host == (base.hostname or "").lower() and first == "sandbox" and len(segments) == 2:
        return _account("sandbox", segments[1])
    if host in FIRST_SEGMENT and len(segments) == 1 and first.lower() not in NOT_ACCOUNTS:
        return _account(FIRST_SEGMENT[host], first.lstrip("@"))
    if host in ("threads.net", "threads.com") and len(segments) == 1 and first.startswith("@"):
        return _account("threads", first[1:])
    if host == "bsky.app" and len(segments) == 2 and first == "profile" and not segments[1].startswith("did:"):
        return _account("bluesky", segments[1])
    if host == "linkedin.com" and len(segments) == 2 and first == "in":
        return _account("linkedin", segments[1])
    if len(segments) == 1 and first.startswith("@") and "@" not in first[1:]:
        return _account("mastodon", f"{first[1:]}@{host}")
    return None


def _account(network: str, handle: str) -> tuple[str, str] | None:
    name = handle.split("@", 1)[0]
    return (network, handle.lower()) if HANDLE.match(name) else None


def links_in_html(html: str) -> list[str]:
    """The addresses a profile's HTML (a Mastodon note or profile field) links to, and addresses
    written out in it."""
    found = HREF.findall(html or "")
    found += URL_IN_TEXT.findall(re.sub(r"<[^>]+>", " ", html or ""))
    return _unique(found)


def links_in_text(text: str) -> list[str]:
    """Addresses written out in a plain-text bio (https://... only)."""
    return _unique(URL_IN_TEXT.findall(text or ""))


def _unique(urls: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for url in urls:
        url = url.strip().rstrip(".,;:!?)")
        if url and url not in seen:
            seen.append(url)
    return seen


def clean_links(value: Any) -> list[str]:
    """`data["author_links"]` as stored: http(s) addresses with a host, at most MAX_URL long,
    at most MAX_LINKS of them; anything else is dropped."""
    if not isinstance(value, list | tuple):
        return []
    links: list[str] = []
    for item in value:
        if not isinstance(item, str) or len(item) > MAX_URL:
            continue
        try:
            parts = urlsplit(item.strip())
        except ValueError:
            continue
        if parts.scheme.lower() in ("http", "https") and parts.hostname and item.strip() not in links:
            links.append(item.strip())
    return links[:MAX_LINKS]


def remember(channel: Channel, events: Iterable[Event], *, now: dt.datetime) -> int:
    """Store the profile links of the authors of `events` (one page of a channel's activity).
    The newest list of an author replaces their stored one. Returns how many links were added."""
    wanted: dict[str, list[str]] = {}
    handles: dict[str, str] = {}
    with_links = [e for e in events if "author_links" in e.data and (e.author_id or e.author_handle)]
    for event in sorted(with_links, key=lambda e: e.occurred_at):
        if event.author_id and event.author_id == channel.remote_account_id:
            continue
        handle = event.author_handle.lstrip("@")
        if handle and handle.lower() == channel.handle.lstrip("@").lower():
            continue
        key = (event.author_id or handle_key(handle))[:200]
        wanted[key] = clean_links(event.data.get("author_links"))
        handles[key] = handle
    if not wanted:
        return 0
    network = channel.network
    hashes = {key: {suppression_hash(network, key)} for key in wanted}
    for key, handle in handles.items():
        if handle:
            hashes[key].add(suppression_hash(network, handle_key(handle)))
    suppressed = set(
        Suppression.objects.filter(
            workspace_id=channel.workspace_id, hash__in=set().union(*hashes.values())
        ).values_list("hash", flat=True)
    )
    wanted = {key: links for key, links in wanted.items() if not hashes[key] & suppressed}
    stored: dict[str, set[str]] = {}
    for remote_id, url in ProfileLink.objects.filter(
        workspace_id=channel.workspace_id, network=network, remote_id__in=list(wanted)
    ).values_list("remote_id", "url"):
        stored.setdefault(remote_id, set()).add(url)
    gone = Q(pk__in=[])
    new: list[ProfileLink] = []
    for key, links in wanted.items():
        old = stored.get(key, set())
        if old - set(links):
            gone |= Q(remote_id=key, url__in=old - set(links))
        for url in links:
            if url in old:
                continue
            target = profile_of(url)
            if target == (network, handles[key].lower()):
                continue  # the account's own page
            new.append(
                ProfileLink(
                    workspace_id=channel.workspace_id,
                    network=network,
                    remote_id=key,
                    url=url,
                    to_network=target[0] if target else "",
                    to_handle=target[1][:200] if target else "",
                    seen_at=now,
                )
            )
    ProfileLink.objects.filter(gone, workspace_id=channel.workspace_id, network=network).delete()
    ProfileLink.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)
