"""The Sandbox's public pages (a small social network's timeline) and the connect flow."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from stammtisch.core.access import WorkspaceRequest, public_view, workspace_view
from stammtisch.core.actions import Actor
from stammtisch.core.roles import Perm
from stammtisch.networks.sandbox import clock, simulation
from stammtisch.networks.sandbox.actions import HandleTaken, do_connect_sandbox_channel
from stammtisch.networks.sandbox.forms import ConnectSandboxForm
from stammtisch.networks.sandbox.models import SandboxAccount, SandboxEvent, SandboxPost

POSTS_PER_PAGE = 20
MAX_DEPTH = 3  # deeper answers are shown at this indentation
Kind = SandboxEvent.Kind


@dataclass
class ThreadItem:
    post: SandboxPost
    depth: int


@dataclass
class FeedPost:
    post: SandboxPost
    counts: dict[str, int] = field(default_factory=dict)
    thread: list[ThreadItem] = field(default_factory=list)


def _visible_posts(account: SandboxAccount) -> QuerySet[SandboxPost]:
    return SandboxPost.objects.filter(
        account=account,
        parent__isnull=True,
        author_persona__isnull=True,
        deleted_at__isnull=True,
        published_at__lte=clock.now(),
    ).order_by("-published_at", "-id")


def _with_reactions(posts: list[SandboxPost]) -> list[FeedPost]:
    """Counts and comment threads for a page of posts, in two queries."""
    now = clock.now()
    items = {post.pk: FeedPost(post=post) for post in posts}
    totals = (
        SandboxEvent.objects.filter(post_id__in=items, occurs_at__lte=now)
        .values("post_id", "kind")
        .annotate(n=Sum("count"))
    )
    for row in totals:
        items[row["post_id"]].counts[row["kind"]] = row["n"]
    for item in items.values():
        c = item.counts
        c["comments"] = c.get(Kind.COMMENT, 0) + c.get(Kind.QUESTION, 0) + c.get(Kind.REPLY, 0)
    thread = (
        SandboxPost.objects.filter(root_id__in=items, deleted_at__isnull=True, published_at__lte=now)
        .select_related("author_persona")
        .order_by("published_at", "id")
    )
    children: dict[int, list[SandboxPost]] = defaultdict(list)
    for entry in thread:
        children[entry.parent_id or 0].append(entry)

    def walk(parent_id: int, depth: int, into: list[ThreadItem]) -> None:
        for child in children.get(parent_id, []):
            into.append(ThreadItem(post=child, depth=min(depth, MAX_DEPTH)))
            walk(child.pk, depth + 1, into)

    for item in items.values():
        walk(item.post.pk, 0, item.thread)
    return list(items.values())


def _account_or_none(handle: str) -> SandboxAccount | None:
    return SandboxAccount.objects.filter(handle=handle).first()


def _not_found(request: HttpRequest, handle: str) -> HttpResponse:
    return render(request, "sandbox/not_found.html", {"handle": handle}, status=404)


@public_view
@require_GET
def feed(request: HttpRequest, handle: str) -> HttpResponse:
    """The public timeline of a Sandbox account: what has happened by the Sandbox clock's now."""
    account = _account_or_none(handle)
    if account is None:
        return _not_found(request, handle)
    page = Paginator(_visible_posts(account), POSTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "sandbox/feed.html",
        {
            "account": account,
            "followers": simulation.follower_count(account),
            "page": page,
            "items": _with_reactions(list(page.object_list)),
        },
    )


@public_view
@require_GET
def post_detail(request: HttpRequest, handle: str, post_id: int) -> HttpResponse:
    """One post with its whole thread."""
    account = _account_or_none(handle)
    post = _visible_posts(account).filter(pk=post_id).first() if account else None
    if account is None or post is None:
        return _not_found(request, handle)
    return render(
        request,
        "sandbox/post.html",
        {"account": account, "followers": simulation.follower_count(account), "item": _with_reactions([post])[0]},
    )


@workspace_view(Perm.MANAGE)
def connect(request: WorkspaceRequest) -> HttpResponse:
    """Connect the workspace to a Sandbox account (created if it does not exist yet)."""
    form = ConnectSandboxForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        try:
            channel = do_connect_sandbox_channel(
                Actor.from_request(request),
                request.workspace,
                form.cleaned_data["handle"],
                form.cleaned_data["display_name"],
                form.cleaned_data["stands_in_for"],
            )
        except HandleTaken:
            form.add_error("handle", _("This handle belongs to another workspace. Please choose another."))
        else:
            messages.success(request, _("Sandbox channel “%(name)s” connected.") % {"name": channel.display_name})
            return redirect("sandbox:feed", handle=channel.handle)
    return render(request, "sandbox/connect.html", {"form": form})
