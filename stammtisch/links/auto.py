"""Short links made automatically: one per delivery of a post with a link (publisher), and the
Sandbox audience's simulated clicks recorded like real ones (worker job).

The publisher calls `for_deliveries` once per claimed batch: one SELECT, and for deliveries
without a link yet one INSERT of all of them. A delivery keeps its link for good, so a retry or
a check of an unknown outcome sends exactly the same text (`find_published` compares hashes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import cast
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from stammtisch.core.actions import ActionError
from stammtisch.links import actions, conversions, tracking, utm
from stammtisch.links.models import (
    CODE_LENGTH,
    UTM_FIELDS,
    Click,
    Conversion,
    Device,
    LinkSettings,
    ShortLink,
    new_code,
)
from stammtisch.publishing.models import Delivery
from stammtisch.strategy.models import Goal

SANDBOX_BATCH = 500


def _linkable(delivery: Delivery) -> bool:
    link = delivery.post.link
    if not link:
        return False
    try:
        actions.check_target(link)
    except ActionError:
        return False
    return True


def for_deliveries(deliveries: Sequence[Delivery]) -> dict[int, str]:
    """delivery id -> its short URL, for the deliveries whose post has a link. `post` and
    `channel` of each delivery must be loaded (the publisher's `_load` does)."""
    wanted = [delivery for delivery in deliveries if _linkable(delivery)]
    if not wanted:
        return {}
    found: dict[int, ShortLink] = {}
    for link in ShortLink.objects.filter(delivery_id__in=[d.pk for d in wanted]):
        found[cast(int, link.delivery_id)] = link
    missing = [delivery for delivery in wanted if delivery.pk not in found]
    if missing:
        _create(missing)
        for link in ShortLink.objects.filter(delivery_id__in=[d.pk for d in missing]):
            found[cast(int, link.delivery_id)] = link
    for delivery in wanted:
        made = found.get(delivery.pk)
        if made is not None and made.target != delivery.post.link:  # edited after a failed attempt
            ShortLink.objects.filter(pk=made.pk).update(target=delivery.post.link)
            tracking.forget(made.code)
    return {delivery_id: actions.short_url(link.code) for delivery_id, link in found.items()}


def tagged_params(text: str, original: str) -> dict[str, str]:
    """The UTM parameters the post's address carries where it is written in a channel's text
    (a blog feed tags each channel's link: `?utm_campaign=blog&...`), else those of the post's
    link itself, by lower-case name; empty when it has none."""
    if not original:
        return {}
    match = re.search(re.escape(original) + r"""[^\s<>"']*""", text)
    address = match.group(0).rstrip(TRAILING) if match is not None else original
    query = urlsplit(address).query
    found: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=False):
        key = name.lower()
        if key in UTM_FIELDS and value.strip() and key not in found:
            found[key] = value.strip()
    return found


def _create(deliveries: list[Delivery]) -> None:
    """One INSERT of the links of `deliveries`. UTM: `utm_source` the network, `utm_medium`
    social, `utm_campaign` and `utm_content` from the workspace's templates; where a template
    gives nothing (and for `utm_term`), the value the post's address carries in the channel's
    text is kept (docs/links.md "Short links")."""
    workspace_ids = {delivery.post.workspace_id for delivery in deliveries}
    templates = {s.workspace_id: s for s in LinkSettings.objects.filter(workspace_id__in=workspace_ids)}
    goals = Goal.objects.in_bulk({delivery.post.goal_id for delivery in deliveries if delivery.post.goal_id})
    default = LinkSettings()
    rows = []
    for delivery in deliveries:
        post = delivery.post
        if post.goal_id:
            post.goal = goals.get(post.goal_id)  # one query for the batch, not one per post
        chosen = templates.get(post.workspace_id, default)
        tagged = tagged_params(delivery.text, post.link)
        values = utm.values_for(post, delivery.channel, tagged_campaign=tagged.get("utm_campaign", ""))
        campaign = utm.render(chosen.utm_campaign_template, values) or tagged.get("utm_campaign", "")
        content = utm.render(chosen.utm_content_template, values) or tagged.get("utm_content", "")
        rows.append(
            ShortLink(
                workspace_id=delivery.post.workspace_id,
                code=new_code(),
                title=delivery.post.text[:80],
                target=delivery.post.link,
                post_id=delivery.post_id,
                delivery_id=delivery.pk,
                channel_id=delivery.channel_id,
                utm_source=delivery.channel.network,
                utm_medium="social",
                utm_campaign=campaign[: utm.MAX_LENGTH],
                utm_content=content[: utm.MAX_LENGTH],
                utm_term=tagged.get("utm_term", "")[: utm.MAX_LENGTH],
            )
        )
    # A code taken meanwhile (or a second worker): that row is skipped and made next time.
    ShortLink.objects.bulk_create(rows, ignore_conflicts=True)


def short_url_stand_in(link: str) -> str:
    """A text as long as the short link the publisher will make for `link` (every code has
    CODE_LENGTH characters on the same STAMMTISCH_SHORT_URL_BASE); empty when it makes none."""
    try:
        actions.check_target(link)
    except ActionError:
        return ""
    return actions.short_url("x" * CODE_LENGTH)


def outgoing_text(text: str, original: str, short: str) -> str:
    """The channel's text with the post's link replaced by the short link (connectors append
    the link themselves when the text does not contain it). The whole address is replaced, with
    any query or fragment written after the post's link (a blog feed's UTM-tagged link): the
    short link carries the channel's own UTM parameters (and keeps the tagged ones its templates
    do not set, `tagged_params`), and half an address is never left."""
    if not original or not short:
        return text

    def replace(match: re.Match[str]) -> str:
        after = match.group(0)[len(original) :]  # what follows the post's link in the address
        return short + after[len(after.rstrip(TRAILING)) :]  # "…/spargel/, lesen": the comma stays

    return re.sub(re.escape(original) + r"""[^\s<>"']*""", replace, text)


TRAILING = ".,;:!?)]}"  # punctuation after an address ends the sentence, not the address


# --- the Sandbox's simulated clicks -------------------------------------------------------------

SANDBOX_USER_AGENTS = {
    Device.MOBILE: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Sandbox",
    Device.DESKTOP: "Mozilla/5.0 (X11; Linux x86_64) Sandbox",
    Device.TABLET: "Mozilla/5.0 (iPad; CPU OS 18_0 like Mac OS X) Sandbox",
}


def _code_of(url: str) -> str:
    path = urlsplit(url).path
    marker = "/l/"
    return path.rsplit(marker, 1)[-1].strip("/") if marker in path else ""


def record_sandbox_clicks(*, limit: int = SANDBOX_BATCH) -> int:
    """Record the clicks the Sandbox's audience made (its click events whose time has come) on
    the short links of our posts, each once, with simulated conversions of some of them.
    The visitor hash of a persona is derived from the persona, not from a salt: it is no person."""
    from stammtisch.networks.sandbox import clock
    from stammtisch.networks.sandbox.models import SandboxEvent

    events = list(
        SandboxEvent.objects.filter(
            kind=SandboxEvent.Kind.CLICK, occurs_at__lte=clock.now(), post__link__contains="/l/"
        )
        .exclude(Exists(Click.objects.filter(sandbox_event_id=OuterRef("pk"))))
        .select_related("post")
        .order_by("occurs_at", "pk")[:limit]
    )
    if not events:
        return 0
    codes = {_code_of(event.post.link) for event in events if event.post is not None}
    links = {link.code: link for link in ShortLink.objects.filter(code__in=codes)}
    recorded = 0
    for event in events:
        link = links.get(_code_of(event.post.link)) if event.post is not None else None
        if link is None:
            continue
        with transaction.atomic():
            click, created = _sandbox_click(event.pk, event.persona_id or 0, event.occurs_at, link)
            if created:
                recorded += 1
                _sandbox_conversion(click, event.pk)
    return recorded


def _sandbox_click(event_id: int, persona_id: int, at: dt.datetime, link: ShortLink) -> tuple[Click, bool]:
    rng = random.Random(f"{settings.SANDBOX_SEED}:device:{persona_id}")
    device = rng.choices([Device.MOBILE, Device.DESKTOP, Device.TABLET], weights=[70, 22, 8])[0]
    visitor = hashlib.sha256(f"sandbox\n{link.workspace_id}\n{persona_id}".encode()).hexdigest()
    return Click.objects.get_or_create(
        sandbox_event_id=event_id,
        defaults={
            "link": link,
            "workspace_id": link.workspace_id,
            "post_id": link.post_id,
            "channel_id": link.channel_id,
            "occurred_at": at,
            "referrer_domain": "sandbox",
            "device": device,
            "visitor_hash": visitor,
        },
    )


def _sandbox_conversion(click: Click, event_id: int) -> None:
    """Most clicks become a visit of the website; a few a sign-up, reservation or purchase."""
    rng = random.Random(f"{settings.SANDBOX_SEED}:conversion:{event_id}")
    at = click.occurred_at + dt.timedelta(seconds=rng.uniform(2, 20))
    if rng.random() < 0.7:
        conversions.record(click.workspace, kind=Conversion.Kind.VISIT, click=click, occurred_at=at, source="sandbox")
    roll = rng.random()
    later = at + dt.timedelta(minutes=rng.uniform(1, 15))
    if roll < 0.04:
        value = Decimal(rng.randrange(800, 6000)) / 100
        conversions.record(
            click.workspace,
            kind=Conversion.Kind.PURCHASE,
            value=value,
            currency="EUR",
            click=click,
            occurred_at=later,
            source="sandbox",
        )
    elif roll < 0.09:
        conversions.record(
            click.workspace, kind=Conversion.Kind.RESERVATION, click=click, occurred_at=later, source="sandbox"
        )
    elif roll < 0.16:
        conversions.record(
            click.workspace, kind=Conversion.Kind.SIGNUP, click=click, occurred_at=later, source="sandbox"
        )
