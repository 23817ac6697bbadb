"""The Feeds page: RSS/Atom feeds whose new articles become posts (docs/import.md). Views parse
input and call the actions in `publishing/feeds.py`."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.publishing import composer, feeds
from stammtisch.publishing.models import Delivery, FeedItem, FeedSource, Post

RECENT_DAYS = 30
RECENT_PER_FEED = 5


def get_feed_for_member(request: HttpRequest, feed_id: int) -> FeedSource:
    """A feed of the request's workspace; 404 otherwise."""
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(FeedSource.objects.select_related("workspace"), pk=feed_id, workspace=workspace)


def _interval_label(minutes: int) -> str:
    if minutes < 60:
        return _("every %(count)d minutes") % {"count": minutes}
    hours = minutes // 60
    return ngettext("every hour", "every %(count)d hours", hours) % {"count": hours}


class FeedForm(forms.Form):
    url = forms.URLField(
        label=gettext_lazy("Feed address"),
        max_length=2000,
        assume_scheme="https",
        help_text=gettext_lazy("The RSS or Atom address of the blog, or the blog's page if it names its feed."),
    )
    title = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Empty: the feed's own title."),
    )
    channels = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Channels"), queryset=Channel.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("New articles"),
        choices=FeedSource.Mode.choices,
        initial=FeedSource.Mode.DRAFT,
        widget=forms.RadioSelect,
    )
    template = forms.CharField(
        label=gettext_lazy("Post text"),
        initial="{title}\n\n{link}",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "{title}, {link} and {summary} are filled in for each article; the link gets UTM tags per channel."
        ),
    )
    utm_campaign = forms.CharField(label=gettext_lazy("UTM campaign"), max_length=100, initial="blog")
    pillar = forms.CharField(label=gettext_lazy("Content pillar"), max_length=60, required=False)
    interval_minutes = forms.TypedChoiceField(label=gettext_lazy("Check"), coerce=int, choices=(), initial=30)

    def __init__(self, *args: Any, workspace: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        channels = self.fields["channels"]
        assert isinstance(channels, forms.ModelMultipleChoiceField)
        channels.queryset = (
            Channel.objects.filter(workspace=workspace)
            .exclude(health=Channel.Health.DISCONNECTED)
            .order_by("display_name", "pk")
        )
        interval = self.fields["interval_minutes"]
        assert isinstance(interval, forms.ChoiceField)
        interval.choices = [(minutes, _interval_label(minutes)) for minutes in feeds.INTERVALS]
        if editing:
            del self.fields["url"]

    def clean_template(self) -> str:
        template: str = self.cleaned_data["template"]
        problems = feeds.template_problems(template)
        if problems:
            raise forms.ValidationError(problems)
        return template


@dataclass
class RecentItem:
    item: FeedItem
    problems: list[str] = field(default_factory=list)


@dataclass
class FeedRow:
    feed: FeedSource
    channels: list[Channel]
    recent: list[RecentItem]

    @property
    def interval_label(self) -> str:
        return _interval_label(self.feed.interval_minutes)


def _rows(workspace: Any) -> list[FeedRow]:
    """Every feed with its channels and its recent articles' posts: three queries in all."""
    feed_list = list(
        FeedSource.objects.filter(workspace=workspace)
        .prefetch_related(Prefetch("channels", queryset=Channel.objects.order_by("display_name")))
        .order_by("title", "pk")
    )
    since = timezone.now() - dt.timedelta(days=RECENT_DAYS)
    recent: dict[int, list[RecentItem]] = defaultdict(list)
    items = (
        FeedItem.objects.filter(feed__in=feed_list, post__isnull=False, seen_at__gte=since)
        .select_related("post")
        .prefetch_related(Prefetch("post__deliveries", queryset=Delivery.objects.select_related("channel")))
        .order_by("-seen_at", "-pk")
    )
    modes = {feed.pk: feed.mode for feed in feed_list}
    for item in items:
        if len(recent[item.feed_id]) >= RECENT_PER_FEED:
            continue
        entry = RecentItem(item)
        post = item.post
        if post is not None and post.status == Post.Status.DRAFT and modes.get(item.feed_id) != FeedSource.Mode.DRAFT:
            # It should have been scheduled: say why it is a draft (checked now, so a fixed text shows no problem).
            for delivery in post.deliveries.all():
                check = composer.check_channel(delivery.channel, delivery.text)
                if not check.ok:
                    entry.problems.append(composer.problem_summary(check))
        recent[item.feed_id].append(entry)
    return [FeedRow(feed=feed, channels=list(feed.channels.all()), recent=recent[feed.pk]) for feed in feed_list]


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    context = {"workspace": workspace, "can_edit": True, "nav": "calendar", **context}
    with timezone.override(workspace.tz):
        return render(request, template, context)


@workspace_view(Perm.EDIT)
def feed_list(request: HttpRequest) -> HttpResponse:
    """GET: the feeds and the form to add one. POST: add a feed (read once: its articles so far
    count as seen)."""
    workspace = request.workspace  # type: ignore[attr-defined]
    form = FeedForm(request.POST or None, workspace=workspace)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                feed = feeds.do_add_feed(
                    Actor.from_request(request),
                    workspace,
                    data["url"],
                    data["channels"],
                    data["mode"],
                    data["template"],
                    data["utm_campaign"],
                    data["pillar"],
                    title=data["title"],
                    interval_minutes=data["interval_minutes"],
                )
            except ActionError as exc:
                form.add_error(None, exc.message)
            else:
                seen = FeedItem.objects.filter(feed=feed).count()
                messages.success(
                    request,
                    ngettext(
                        "The feed “%(title)s” is added. Its %(count)d article so far counts as seen; "
                        "articles published from now on become posts.",
                        "The feed “%(title)s” is added. Its %(count)d articles so far count as seen; "
                        "articles published from now on become posts.",
                        seen,
                    )
                    % {"title": feed.title, "count": seen},
                )
                return redirect("publishing:feeds", slug=workspace.slug)
        status = 400
    response = _render(request, "publishing/feeds.html", {"rows": _rows(workspace), "form": form})
    response.status_code = status
    return response


@workspace_view(Perm.EDIT)
def feed_edit(request: HttpRequest, feed_id: int) -> HttpResponse:
    feed = get_feed_for_member(request, feed_id)
    initial = {
        "title": feed.title,
        "channels": list(feed.channels.values_list("pk", flat=True)),
        "mode": feed.mode,
        "template": feed.template,
        "utm_campaign": feed.utm_campaign,
        "pillar": feed.pillar,
        "interval_minutes": feed.interval_minutes,
    }
    form = FeedForm(request.POST or None, workspace=feed.workspace, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            feeds.do_update_feed(
                Actor.from_request(request),
                feed,
                title=data["title"],
                channels=data["channels"],
                mode=data["mode"],
                template=data["template"],
                utm_campaign=data["utm_campaign"],
                pillar=data["pillar"],
                interval_minutes=data["interval_minutes"],
            )
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The feed is saved."))
            return redirect("publishing:feeds", slug=feed.workspace.slug)
    response = _render(request, "publishing/feeds_edit.html", {"feed": feed, "form": form})
    if request.method == "POST":
        response.status_code = 400
    return response


@require_POST
@workspace_view(Perm.EDIT)
def feed_state(request: HttpRequest, feed_id: int) -> HttpResponse:
    """Pause (`action=pause`) or resume (`action=resume`) a feed."""
    feed = get_feed_for_member(request, feed_id)
    action = request.POST.get("action")
    if action not in ("pause", "resume"):
        messages.error(request, _("Choose to pause or to resume the feed."))
    else:
        feeds.do_set_feed_active(Actor.from_request(request), feed, action == "resume")
        if action == "resume":
            messages.success(request, _("The feed is active again and is checked within a minute."))
        else:
            messages.success(request, _("The feed is paused: no new posts come from it."))
    return redirect("publishing:feeds", slug=feed.workspace.slug)


@require_POST
@workspace_view(Perm.EDIT)
def feed_check(request: HttpRequest, feed_id: int) -> HttpResponse:
    """Check a feed now, in this request (at most the fetch's time limit)."""
    feed = get_feed_for_member(request, feed_id)
    try:
        result = feeds.do_check_feed_now(Actor.from_request(request), feed)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        if result.error:
            messages.error(request, _("The feed could not be read: %(error)s") % {"error": result.error})
        elif result.posts:
            messages.success(
                request,
                ngettext("%(count)d new article became a post.", "%(count)d new articles became posts.", result.posts)
                % {"count": result.posts},
            )
        else:
            messages.success(request, _("No new articles."))
    return redirect("publishing:feeds", slug=feed.workspace.slug)


@workspace_view(Perm.EDIT)
def feed_delete(request: HttpRequest, feed_id: int) -> HttpResponse:
    feed = get_feed_for_member(request, feed_id)
    if request.method == "POST":
        feeds.do_delete_feed(Actor.from_request(request), feed)
        messages.success(request, _("The feed is removed. The posts it made stay."))
        return redirect("publishing:feeds", slug=feed.workspace.slug)
    return _render(request, "publishing/feeds_delete.html", {"feed": feed})
