"""Every URL pattern of the project, requested as every role, as charlie and anonymously.

Patterns are discovered from the URL resolver, so a new URL is covered without anyone adding it
here. Each view must carry an access mark (core/access.py): `public_view`, `account_view` or
`workspace_view(perm)`. Unmarked views and URL arguments without a sample fail this test loudly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from stammtisch.core.access import ACCESS_ATTR
from stammtisch.core.roles import role_has

DENIED = {403, 404}


@dataclass(frozen=True)
class Route:
    name: str  # namespaced URL name
    kwargs: tuple[str, ...]
    callback: Callable[..., Any]
    defaults: dict[str, Any]

    @property
    def access(self) -> tuple[str, str | None] | None:
        return getattr(self.callback, ACCESS_ATTR, None)


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            yield from _walk(entry.url_patterns, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern):
            converters = getattr(entry.pattern, "converters", {})
            kwargs = tuple(k for k in converters if k not in entry.default_args)
            if not kwargs:
                kwargs = tuple(entry.pattern.regex.groupindex)
            yield Route(
                name=f"{namespace}{entry.name}" if entry.name else f"<unnamed {entry.pattern}>",
                kwargs=kwargs,
                callback=entry.callback,
                defaults=dict(entry.default_args),
            )


ROUTES = list(_walk(get_resolver().url_patterns))


def test_every_view_has_an_access_mark() -> None:
    unmarked = [r.name for r in ROUTES if r.access is None]
    assert not unmarked, f"Views without public_view/account_view/workspace_view: {unmarked}"


def test_every_url_has_a_name() -> None:
    assert not [r.name for r in ROUTES if r.name.startswith("<unnamed")]


@pytest.fixture
def samples(cast) -> dict[str, Any]:
    """One object of each kind in alice's workspace, by the URL argument that names it."""
    from stammtisch.core.models import Invitation, Membership, hash_token
    from stammtisch.networks.models import Channel
    from stammtisch.publishing.models import Delivery, Post

    channel = Channel.objects.create(
        workspace=cast.workspace,
        network="sandbox",
        handle="koenigsbau",
        display_name="Café Königsbau",
        credentials={"token": "t"},
    )
    post = Post.objects.create(workspace=cast.workspace, author=cast.alice, text="Guten Morgen, Stuttgart!")
    delivery = Delivery.objects.create(post=post, channel=channel, text=post.text)
    from django.utils import timezone

    invitation = Invitation.objects.create(
        workspace=cast.workspace,
        email="new@example.org",
        role="editor",
        token_hash=hash_token("sample-token"),
        invited_by=cast.alice,
        expires_at=timezone.now() + timezone.timedelta(days=3),
    )
    bob_membership = Membership.objects.get(user=cast.bob, workspace=cast.workspace)
    from stammtisch.publishing.models import EvergreenPost

    evergreen = EvergreenPost.objects.create(workspace=cast.workspace, text="Unser Käsekuchen!")
    from stammtisch.publishing.models import ApprovalLink

    review_link = ApprovalLink.objects.create(
        post=post, token_hash=hash_token("review-sample"), expires_at=timezone.now() + timezone.timedelta(days=3)
    )
    from stammtisch.publishing.models import FeedSource

    # A public IP literal: no DNS lookup; "check now" fails at the blocked socket, as it should.
    feed = FeedSource.objects.create(workspace=cast.workspace, url="https://93.184.215.14/feed.xml", title="Blog")
    from django.core.files.base import ContentFile

    from stammtisch.publishing.models import MediaAsset

    asset = MediaAsset(workspace=cast.workspace, content_type="image/png", original_name="x.png")
    asset.file.save("x.png", ContentFile(b"\x89PNG sample"), save=True)
    from stammtisch.inbox.models import Conversation, Message, SavedReply

    conversation = Conversation.objects.create(
        workspace=cast.workspace,
        channel=channel,
        kind="comments",
        root_remote_id="post-1",
        last_message_at=timezone.now(),
    )
    message = Message.objects.create(
        workspace=cast.workspace,
        conversation=conversation,
        channel=channel,
        remote_id="post-2",
        text="Habt ihr heute offen?",
        occurred_at=timezone.now(),
    )
    saved_reply = SavedReply.objects.create(
        workspace=cast.workspace, title="Öffnungszeiten", text="Hallo {first_name}!"
    )
    from stammtisch.inbox.models import ConversationLabel, Reply, Rule, SavedView

    inbox_rule = Rule.objects.create(workspace=cast.workspace, name="Beschwerden", intent="complaint", label="Ärger")
    inbox_view = SavedView.objects.create(workspace=cast.workspace, owner=cast.alice, name="Offen", shared=True)
    inbox_label = ConversationLabel.objects.create(workspace=cast.workspace, conversation=conversation, name="Ärger")
    inbox_reply = Reply.objects.create(
        workspace=cast.workspace,
        conversation=conversation,
        channel=channel,
        in_reply_to="post-2",
        text="Ja, bis 18 Uhr!",
        state="approval",
    )
    from stammtisch.links.actions import settings_for
    from stammtisch.links.models import ShortLink

    short_link = ShortLink.objects.create(workspace=cast.workspace, target="https://example.org/", post=post)
    from stammtisch.audience.models import Person

    person = Person.objects.create(workspace=cast.workspace, display_name="Max Mustermann")
    from stammtisch.strategy.models import ContentPillar, Goal

    goal = Goal.objects.create(
        workspace=cast.workspace,
        kind="traffic",
        name="Mehr Klicks",
        kpi="traffic.clicks",
        target=500,
        start=timezone.now().date(),
        deadline=timezone.now().date() + timezone.timedelta(days=90),
    )
    pillar = ContentPillar.objects.create(workspace=cast.workspace, name="Rezepte", target_share=40)
    from stammtisch.audience.models import Segment

    segment = Segment.objects.create(workspace=cast.workspace, name="Stammgäste", filters={"stage": "loyal"})
    from stammtisch.reports.models import Report, ReportMailing, ReportSchedule, ReportShare

    report = Report.objects.create(
        workspace=cast.workspace,
        kind="week",
        first_day=dt.date(2026, 6, 1),
        last_day=dt.date(2026, 6, 7),
        language="de",
    )
    report_schedule = ReportSchedule.objects.create(
        workspace=cast.workspace,
        kind="week",
        recipients=["chef@example.org"],
        language="de",
        next_run_at=timezone.now(),
    )
    report_mailing = ReportMailing.objects.create(
        workspace=cast.workspace, report=report, recipients=["chef@example.org"], state="failed"
    )
    report_share = ReportShare.objects.create(
        workspace=cast.workspace, report=report, token_hash=hash_token("report-share-sample")
    )
    return {
        "slug": cast.workspace.slug,
        "channel_id": channel.pk,
        "post_id": post.pk,
        "delivery_id": delivery.pk,
        "invitation_id": invitation.pk,
        "membership_id": bob_membership.pk,
        "member_id": bob_membership.pk,
        "handle": "koenigsbau",
        "token": "sample-token",
        "uidb64": "MQ",
        "session_id": 1,
        "notification_id": 1,
        "path": "x.png",
        "evergreen_id": evergreen.pk,
        "link_id": review_link.pk,
        "feed_id": feed.pk,
        "media_id": asset.pk,
        "conversation_id": conversation.pk,
        "message_id": message.pk,
        "saved_reply_id": saved_reply.pk,
        "rule_id": inbox_rule.pk,
        "view_id": inbox_view.pk,
        "label_id": inbox_label.pk,
        "reply_id": inbox_reply.pk,
        "person_id": person.pk,
        "segment_id": segment.pk,
        "short_link_id": short_link.pk,
        "code": short_link.code,
        "site_key": settings_for(cast.workspace).site_key,
        "goal_id": goal.pk,
        "pillar_id": pillar.pk,
        "report_id": report.pk,
        "schedule_id": report_schedule.pk,
        "mailing_id": report_mailing.pk,
        "share_id": report_share.pk,
    }


def _kwargs(route: Route, samples: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in route.kwargs if k not in samples]
    assert not missing, f"{route.name}: add a sample for URL argument(s) {missing} in this test"
    return {k: samples[k] for k in route.kwargs}


def _request(client: Client, url: str) -> int:
    """GET, or an empty POST where the view only takes POST; rolled back either way."""
    with transaction.atomic():
        status = client.get(url).status_code
        if status == 405:
            status = client.post(url, {}).status_code
        transaction.set_rollback(True)
    return status


def _client(user: Any = None) -> Client:
    client = Client(raise_request_exception=True)
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_access_matrix(route: Route, cast, samples) -> None:
    assert route.access is not None, f"{route.name} has no access mark"
    kind, perm = route.access
    url = reverse(route.name, kwargs=_kwargs(route, samples))

    anonymous = _request(_client(), url)
    if kind == "public":
        assert anonymous < 500
        return
    assert anonymous == 302, f"{url}: anonymous should be sent to log in, got {anonymous}"

    if kind == "account":
        assert _request(_client(cast.charlie), url) < 500
        return

    assert kind == "workspace" and perm is not None
    assert _request(_client(cast.charlie), url) == 404, f"{url}: charlie (outsider) must get 404"
    if set(route.kwargs) - {"slug"}:
        # charlie asks through his own workspace for alice's objects: still nothing.
        foreign = reverse(route.name, kwargs={**_kwargs(route, samples), "slug": cast.other_workspace.slug})
        assert _request(_client(cast.charlie), foreign) == 404, f"{foreign}: another workspace's object"
    for role, user in cast.by_role().items():
        status = _request(_client(user), url)
        if role_has(role, perm):
            assert status not in DENIED and status < 500, f"{url} as {role}: got {status}"
        else:
            assert status == 403, f"{url} as {role} (lacks {perm}): got {status}"
