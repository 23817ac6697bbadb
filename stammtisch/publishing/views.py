from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Substr
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from stammtisch.core.access import public_view, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import Membership, hash_token
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.publishing import actions, approvals, composer, ical, queue, views_approvals, views_media
from stammtisch.publishing import media as media_files
from stammtisch.publishing.access import get_delivery_for_member, get_post_for_member
from stammtisch.publishing.forms import (
    VARIANT_PREFIX,
    CalendarFilterForm,
    ComposeForm,
    PostEditForm,
    PostGoalForm,
    RescheduleForm,
)
from stammtisch.publishing.models import CalendarFeed, Delivery, Post

MONTH_CARDS_PER_DAY = 5  # more show as "+ n more", a link to the week
LIST_LIMIT = 1000
DRAFTS_LIMIT = 30
FEED_PAST = dt.timedelta(days=90)
FEED_STATUSES = (Post.Status.SCHEDULED, Post.Status.PUBLISHING, Post.Status.PUBLISHED, Post.Status.PARTIAL)


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """Render in the workspace's time zone: every time shown is the workspace's local time."""
    workspace = request.workspace  # type: ignore[attr-defined]
    context = {"workspace": workspace, "can_edit": request.membership.can(Perm.EDIT), **context}  # type: ignore[attr-defined]
    with timezone.override(workspace.tz):
        return render(request, template, context)


def _with_deliveries(posts: Any) -> Any:
    return posts.prefetch_related(
        Prefetch(
            "deliveries",
            queryset=Delivery.objects.select_related("channel").order_by("channel__display_name"),
        )
    )


# --- Calendar --------------------------------------------------------------------------------


MOVABLE_STATUSES = (Post.Status.SCHEDULED, Post.Status.PENDING_APPROVAL, Post.Status.CHANGES_REQUESTED)


@dataclass
class Card:
    """One post as the calendar shows it, built from plain rows (no model instances)."""

    id: int
    local: dt.datetime | None  # None for a draft without a date
    status: str
    status_label: str
    snippet: str
    url: str
    move_url: str
    time: str = ""  # HH:MM, local
    iso: str = ""
    channels: list[tuple[str, str]] = field(default_factory=list)  # (abbreviation, full label)

    @property
    def movable(self) -> bool:
        # A post waiting for approval moves too: only its wanted time changes (docs/approvals.md).
        return self.status in MOVABLE_STATUSES and self.local is not None

    def html(self, can_edit: bool) -> str:
        """The card's markup. Built here rather than in a template: a month shows a few hundred
        cards, and this keeps the page well under the benchmark's 150 ms (docs/publishing.md).
        Every value is escaped."""
        drag = f' draggable="true" data-move-url="{escape(self.move_url)}"' if can_edit and self.movable else ""
        time = f'<time datetime="{self.iso}">{self.time}</time>' if self.time else ""
        channels = "".join(
            f' <abbr class="cal-ch" title="{escape(label)}">{escape(abbr)}</abbr>' for abbr, label in self.channels
        )
        return (
            f'<li class="cal-card status-{escape(self.status)}" data-post="{self.id}" data-time="{self.time}"{drag}>'
            f'<a href="{escape(self.url)}" draggable="false">{time}{channels} <span class="cal-text">'
            f'{escape(self.snippet)}</span><span class="visually-hidden"> ({escape(self.status_label)})</span></a></li>'
        )


@dataclass
class Day:
    date: dt.date
    cards: list[Card] = field(default_factory=list)
    in_range: bool = True
    is_today: bool = False
    more: int = 0
    week_url: str = ""
    cards_html: SafeString = field(default_factory=lambda: mark_safe(""))

    @property
    def iso(self) -> str:
        return self.date.isoformat()


def _cards_html(cards: list[Card], can_edit: bool) -> SafeString:
    return mark_safe("".join(card.html(can_edit) for card in cards))  # each card escapes its values


def _local_midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _url_template(name: str, slug: str) -> str:
    """`reverse` once for a whole page of cards; `{}` stands for the post id."""
    sentinel = 987654321
    return reverse(name, kwargs={"slug": slug, "post_id": sentinel}).replace(str(sentinel), "{}")


def _channel_label(channel: Channel) -> tuple[str, str]:
    network = channel.stands_in_for.title() if channel.stands_in_for else str(channel.get_network_display())
    return network[:2], f"{channel.display_name} ({network})"


def _filtered(workspace: Any, filters: dict[str, Any]) -> QuerySet[Post]:
    rows = Post.objects.filter(workspace=workspace)
    if filters.get("channel"):
        rows = rows.filter(deliveries__channel_id=filters["channel"])  # one delivery per channel: no duplicates
    if filters.get("pillar"):
        rows = rows.filter(pillar=filters["pillar"])
    if filters.get("status"):
        rows = rows.filter(status=filters["status"])
    return rows


Row = tuple[int, dt.datetime | None, str, str]  # id, scheduled_at, status, snippet


def _rows(rows: QuerySet[Post], *, limit: int | None = None) -> list[Row]:
    """One query: only the columns a card shows, the text cut short by the database."""
    values = rows.annotate(snippet=Substr("text", 1, 80)).values_list("pk", "scheduled_at", "status", "snippet")
    return list(values[:limit] if limit is not None else values)


def _cards(workspace: Any, rows: list[Row]) -> list[Card]:
    tz = workspace.tz
    labels = {key: str(label) for key, label in Post.Status.choices}
    post_url = _url_template("publishing:post", workspace.slug)
    move_url = _url_template("publishing:post_reschedule", workspace.slug)
    cards = []
    for pk, at, status, snippet in rows:
        local = at.astimezone(tz) if at is not None else None
        cards.append(
            Card(
                id=pk,
                local=local,
                status=status,
                status_label=labels.get(status, status),
                snippet=snippet,
                url=post_url.format(pk),
                move_url=move_url.format(pk),
                time=f"{local.hour:02d}:{local.minute:02d}" if local else "",
                iso=local.isoformat() if local else "",
            )
        )
    return cards


def _with_channels(cards: list[Card], channels: dict[int, Channel]) -> None:
    """The channel labels of the cards on the page, in one query."""
    by_id = {card.id: card for card in cards}
    if not by_id:
        return
    deliveries = Delivery.objects.filter(post_id__in=list(by_id)).order_by("channel_id")
    for post_id, channel_id in deliveries.values_list("post_id", "channel_id"):
        channel = channels.get(channel_id)
        if channel is not None:
            by_id[post_id].channels.append(_channel_label(channel))


def _between(rows: QuerySet[Post], tz: zoneinfo.ZoneInfo, first: dt.date, last: dt.date) -> QuerySet[Post]:
    """Posts from `first` to `last` (local days, inclusive): a range scan of the index on
    (workspace, scheduled_at)."""
    return rows.filter(
        scheduled_at__gte=_local_midnight(first, tz),
        scheduled_at__lt=_local_midnight(last + dt.timedelta(days=1), tz),
    ).order_by("scheduled_at", "pk")


def _by_day(cards: list[Card]) -> dict[dt.date, list[Card]]:
    days: dict[dt.date, list[Card]] = defaultdict(list)
    for card in cards:
        assert card.local is not None
        days[card.local.date()].append(card)
    return days


@workspace_view(Perm.VIEW)
def calendar(request: HttpRequest) -> HttpResponse:
    """Month, week and list views of the content plan in the workspace's time zone; weeks start
    on Monday. `?view=month|week|list&date=YYYY-MM-DD` plus the filters channel, pillar, status
    (a plain GET form). Drafts without a date are listed below."""
    workspace = request.workspace  # type: ignore[attr-defined]
    tz = workspace.tz
    channel_list = list(
        Channel.objects.filter(workspace=workspace)
        .only("id", "network", "display_name", "stands_in_for")
        .order_by("display_name")
    )
    channels = {channel.pk: channel for channel in channel_list}
    pillars = list(
        Post.objects.filter(workspace=workspace)
        .exclude(pillar="")
        .order_by("pillar")
        .values_list("pillar", flat=True)
        .distinct()
    )
    form = CalendarFilterForm(request.GET, channels=channel_list, pillars=pillars)
    form.is_valid()
    data = form.cleaned_data
    view = data.get("view") or "month"
    today = timezone.localdate(timezone=tz)
    anchor = data.get("date") or today
    filters = {key: data[key] for key in ("channel", "pillar", "status") if data.get(key)}
    rows = _filtered(workspace, filters)

    context: dict[str, Any] = {"view": view, "anchor": anchor, "today": today}
    shown: list[Card] = []
    if view == "week":
        first = anchor - dt.timedelta(days=anchor.weekday())
        last = first + dt.timedelta(days=6)
        previous, following = first - dt.timedelta(days=7), first + dt.timedelta(days=7)
        shown = _cards(workspace, _rows(_between(rows, tz, first, last)))
        slots: dict[tuple[dt.date, int], list[Card]] = defaultdict(list)
        for card in shown:
            assert card.local is not None
            slots[(card.local.date(), card.local.hour)].append(card)
        days = [first + dt.timedelta(days=n) for n in range(7)]
        context["days"] = [Day(date=day, is_today=day == today) for day in days]
        context["hours"] = [(hour, [(day, slots.get((day, hour), [])) for day in days]) for hour in range(24)]
    else:
        first = anchor.replace(day=1)
        following = _add_months(first, 1)
        previous = _add_months(first, -1)
        last = following - dt.timedelta(days=1)
        if view == "list":
            shown = _cards(workspace, _rows(_between(rows, tz, first, last), limit=LIST_LIMIT))
            context["list_days"] = sorted(_by_day(shown).items())
            context["limited"] = len(shown) == LIST_LIMIT
            context["limit"] = LIST_LIMIT
        else:
            view = "month"
            grid_start = first - dt.timedelta(days=first.weekday())
            grid_end = last + dt.timedelta(days=6 - last.weekday())
            by_day: dict[dt.date, list[Row]] = defaultdict(list)
            for row in _rows(_between(rows, tz, grid_start, grid_end)):
                assert row[1] is not None
                by_day[row[1].astimezone(tz).date()].append(row)
            weeks: list[list[Day]] = []
            for offset in range((grid_end - grid_start).days + 1):
                day = grid_start + dt.timedelta(days=offset)
                if day.weekday() == 0:
                    weeks.append([])
                posts = by_day.get(day, [])
                cards = _cards(workspace, posts[:MONTH_CARDS_PER_DAY])
                weeks[-1].append(
                    Day(
                        date=day,
                        cards=cards,
                        more=max(0, len(posts) - MONTH_CARDS_PER_DAY),
                        in_range=day.month == first.month,
                        is_today=day == today,
                    )
                )
                shown += cards
            context["weeks"] = weeks
            context["weekdays"] = [day.date for day in weeks[0]]
    context["first"], context["last"] = first, last

    drafts: list[Card] = []
    if filters.get("status") in (None, Post.Status.DRAFT):
        undated = rows.filter(scheduled_at__isnull=True).exclude(status=Post.Status.CANCELLED)
        drafts = _cards(workspace, _rows(undated.order_by("-created_at", "-pk"), limit=DRAFTS_LIMIT))
    _with_channels(shown + drafts, channels)

    def link(**changes: Any) -> str:
        params = {"view": view, "date": anchor.isoformat(), **filters, **changes}
        return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})

    can_edit = request.membership.can(Perm.EDIT)  # type: ignore[attr-defined]
    for week in context.get("weeks", []):
        for each in week:
            each.week_url = link(view="week", date=each.date.isoformat())
            each.cards_html = _cards_html(each.cards, can_edit)
    if view == "week":
        context["hours"] = [
            (hour, [(day, _cards_html(cards, can_edit)) for day, cards in cells]) for hour, cells in context["hours"]
        ]
    elif view == "list":
        context["list_days"] = [(day, _cards_html(cards, can_edit)) for day, cards in context["list_days"]]
    context.update(
        {
            "nav": "calendar",
            "form": form,
            "filters": filters,
            "drafts": _cards_html(drafts, can_edit),
            "drafts_limited": len(drafts) == DRAFTS_LIMIT,
            "statuses": Post.Status.choices,
            "views": [(key, label, link(view=key)) for key, label in CalendarFilterForm.VIEWS],
            "previous_url": link(date=previous.isoformat()),
            "next_url": link(date=following.isoformat()),
            "today_url": link(date=today.isoformat()),
            "reset_url": "?" + urlencode({"view": view, "date": anchor.isoformat()}),
            "compose_url": reverse("publishing:compose", kwargs={"slug": workspace.slug}),
        }
    )
    return _render(request, "publishing/calendar.html", context)


def _compose_initial(request: HttpRequest, workspace: Any) -> dict[str, Any]:
    """`?date=YYYY-MM-DD` (the calendar's "+" on a day) prefills the time: 09:00 that day, or the
    next full hour when that has passed today."""
    try:
        day = dt.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return {}
    at = dt.datetime.combine(day, dt.time(9, 0))
    now = timezone.localtime(timezone=workspace.tz).replace(tzinfo=None)
    if at <= now and day == now.date() and now.hour < 23:
        at = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return {"when": ComposeForm.WHEN_SCHEDULE, "scheduled_local": at}


def _checks_context(
    workspace: Any,
    form: ComposeForm | PostEditForm,
    checks: list[composer.ChannelCheck],
    purpose: str,
    *,
    first_comment: str = "",
    ticked: list[Channel] | None = None,
    editing: int | None = None,
) -> dict[str, Any]:
    """What the composer's checks partial shows: each chosen channel's length, problems, hashtags
    and preview (with the first comment's), which ticked channels will not get the first comment,
    and the purpose-mix warning (`editing`: the post being edited, counted once)."""
    without = composer.without_first_comment(ticked or []) if first_comment.strip() else []
    return {
        "checks": checks,
        "mix": composer.purpose_mix(workspace, purpose, editing=editing),
        "form": form,
        "first_comment_missing": without,
    }


@workspace_view(Perm.EDIT)
def compose(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = ComposeForm(request.POST or None, workspace=workspace, initial=_compose_initial(request, workspace))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actor = Actor.from_request(request)
        when = data["when"]
        try:
            with transaction.atomic():  # "publish now" refused: no draft left behind either
                for asset, alt_text in form.media_alt_texts().items():
                    media_files.do_set_alt_text(actor, asset, alt_text)
                post = actions.do_create_post(
                    actor,
                    workspace,
                    text=data["text"],
                    channels=data["channels"],
                    scheduled_at=data["scheduled_local"] if when == ComposeForm.WHEN_SCHEDULE else None,
                    link=data["link"],
                    pillar=data["pillar"],
                    purpose=data["purpose"],
                    variants=form.variants(),
                    first_comment=data["first_comment"],
                    media=data["media"],
                    goal=data["goal"],
                )
                if when == ComposeForm.WHEN_NOW and form.needs_approval:
                    post = approvals.do_submit_for_approval(actor, post)  # goes out once approved
                elif when == ComposeForm.WHEN_NOW:
                    actions.do_publish_now(actor, post)
                elif when == ComposeForm.WHEN_QUEUE:
                    queued_at = queue.do_add_to_queue(actor, post)
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            if post.status == Post.Status.PENDING_APPROVAL and when != ComposeForm.WHEN_QUEUE:
                messages.success(request, _("The post is submitted for approval."))
            elif when == ComposeForm.WHEN_NOW:
                messages.success(request, _("The post is being published."))
            elif when == ComposeForm.WHEN_SCHEDULE:
                messages.success(request, _("The post is scheduled."))
            elif when == ComposeForm.WHEN_QUEUE:
                messages.success(request, queue.queued_message(post, queued_at))
            else:
                messages.success(request, _("The draft is saved."))
                for check in composer.failing(form.checks):
                    messages.warning(
                        request,
                        _("Saved as a draft, but not ready to schedule: %(summary)s")
                        % {"summary": composer.problem_summary(check)},
                    )
            return redirect("publishing:post", slug=workspace.slug, post_id=post.pk)
    purpose = (form.data.get("purpose") if form.is_bound else None) or Post.Purpose.VALUE
    return _render(
        request,
        "publishing/compose.html",
        {
            "nav": "compose",
            "form": form,
            "channel_count": len(form.channel_list),
            **views_media.form_media_context(workspace, form),  # publishing/_compose_media.html
            **_checks_context(
                workspace,
                form,
                form.checks,
                str(purpose),
                first_comment=str(form["first_comment"].value() or ""),
                ticked=[channel for channel, ticked, _field in form.channel_rows() if ticked],
            ),
        },
    )


@require_POST
@workspace_view(Perm.EDIT)
def compose_check(request: HttpRequest) -> HttpResponse:
    """The composer's live checks (htmx, on every pause in typing): the form's fields in, the
    checks partial out. Nothing is saved."""
    workspace = request.workspace  # type: ignore[attr-defined]
    form = ComposeForm(request.POST, workspace=workspace)
    chosen = set(request.POST.getlist("channels"))
    channels = [channel for channel in form.channel_list if str(channel.pk) in chosen]
    variants = {channel.pk: request.POST.get(f"{VARIANT_PREFIX}{channel.pk}", "") for channel in channels}
    text = request.POST.get("text", "").strip()
    first_comment = request.POST.get("first_comment", "")
    chosen_media = views_media.selected_from_post(request)
    checks = (
        composer.check_channels(channels, text, variants, first_comment=first_comment, media=chosen_media)
        if text or any(variants.values())
        else []
    )
    purpose = request.POST.get("purpose", Post.Purpose.VALUE)
    # The post page's edit form checks through here too, naming the post it edits.
    editing = int(request.POST["editing"]) if request.POST.get("editing", "").isdigit() else None
    context = _checks_context(
        workspace, form, checks, purpose, first_comment=first_comment, ticked=channels, editing=editing
    )
    with timezone.override(workspace.tz):
        return render(request, "publishing/_compose_checks.html", {"workspace": workspace, **context})


@require_GET
@workspace_view(Perm.EDIT)
def compose_mentions(request: HttpRequest) -> HttpResponse:
    """Mention suggestions for the text being typed (`?q=` the letters after "@", `channels=`
    the ticked channel ids): a listbox of handles this workspace knows, on the ticked channels'
    networks."""
    workspace = request.workspace  # type: ignore[attr-defined]
    ids = [int(value) for value in request.GET.getlist("channels") if value.isdigit()]
    networks = set(Channel.objects.filter(workspace=workspace, pk__in=ids).values_list("network", flat=True))
    suggestions = composer.mention_suggestions(workspace, request.GET.get("q", ""), networks)
    return render(request, "publishing/_mention_suggestions.html", {"suggestions": suggestions})


@require_POST
@workspace_view(Perm.EDIT)
def post_duplicate(request: HttpRequest, post_id: int) -> HttpResponse:
    """A new draft copied from the post (text, link, pillar, purpose, goal, channels, channel texts)."""
    post = get_post_for_member(request, post_id)
    copy = actions.do_duplicate_post(Actor.from_request(request), post)
    messages.success(request, _("This is a copy of the post, saved as a draft."))
    return redirect("publishing:post", slug=post.workspace.slug, post_id=copy.pk)


@workspace_view(Perm.VIEW)
def post_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    return _post_page(request, get_post_for_member(request, post_id))


def _post_page(request: HttpRequest, post: Post, move_form: RescheduleForm | None = None) -> HttpResponse:
    """The post page; `move_form`: the "Move" form as posted (its errors and DST choices shown)."""
    deliveries = (
        post.deliveries.select_related("channel").prefetch_related("attempt_log").order_by("channel__display_name")
    )
    return _render(
        request,
        "publishing/post_detail.html",
        {
            "nav": "calendar",
            "post": post,
            "deliveries": deliveries,
            "post_media": [link.asset for link in post.media_links.select_related("asset")],
            "can_cancel": any(d.state in actions.publisher.PENDING_STATES for d in deliveries),
            "can_publish_now": any(d.state in actions.publisher.PENDING_STATES for d in deliveries),
            "can_change": not any(d.state in actions.OUT_STATES for d in deliveries),
            "goal_form": PostGoalForm(
                initial={"goal": post.goal_id}, workspace=post.workspace, current=post.goal_id, auto_id="goal_%s"
            ),
            "move_form": move_form
            or (
                RescheduleForm(initial={"when": timezone.localtime(post.scheduled_at)} if post.scheduled_at else None)
                if post.status == Post.Status.SCHEDULED
                else None
            ),
            **views_approvals.panel_context(request, post),  # publishing/_approval_panel.html
        },
    )


@require_POST
@workspace_view(Perm.EDIT)
def post_goal(request: HttpRequest, post_id: int) -> HttpResponse:
    """Set or remove the post's goal (the post page), also after it was published."""
    post = get_post_for_member(request, post_id)
    form = PostGoalForm(request.POST, workspace=post.workspace, current=post.goal_id)
    if not form.is_valid():
        messages.error(request, _("Choose one of the goals offered."))
    else:
        try:
            changed = actions.do_set_post_goal(Actor.from_request(request), post, form.cleaned_data["goal"])
        except ActionError as exc:
            messages.error(request, exc.message)
        else:
            if changed:
                messages.success(request, _("The goal of the post is saved."))
    return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
@workspace_view(Perm.EDIT)
def post_reschedule(request: HttpRequest, post_id: int) -> HttpResponse:
    """Move a post to a new local date and time: the calendar's drag and drop (JSON) and the
    "Move" form on the post page (redirect with a message)."""
    post = get_post_for_member(request, post_id)
    form = RescheduleForm(request.POST, workspace=post.workspace)
    error = ""
    if form.is_valid():
        try:
            post = actions.do_reschedule_post(Actor.from_request(request), post, form.cleaned_data["when"])
        except ActionError as exc:
            error = exc.message
    elif form.time_choices:  # a DST change day: the user picks the instant
        error = " ".join(str(message) for message in form.errors["when"])
    else:
        error = _("Choose a valid date and time.")
    if error:
        if _wants_json(request):
            # Drag and drop cannot ask: the message says to open the post, which offers the choice.
            if form.time_choices:
                error += " " + _("Open the post to choose.")
            choices = [{"value": value, "label": label} for value, label in form.time_choices]
            body = {"ok": False, "message": error, "choices": choices}
            return JsonResponse(body, status=409 if form.is_valid() else 400)
        if form.time_choices:
            return _post_page(request, post, move_form=form)
        messages.error(request, error)
        return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)
    assert post.scheduled_at is not None
    local = timezone.localtime(post.scheduled_at, post.workspace.tz)
    message = _("Moved to %(when)s.") % {"when": local.strftime("%Y-%m-%d %H:%M")}
    if post.status in approvals.HELD:  # docs/approvals.md: the new time needs approval
        message += " " + _("It goes out once it is approved.")
    if _wants_json(request):
        return JsonResponse(
            {
                "ok": True,
                "message": message,
                "post": post.pk,
                "date": local.date().isoformat(),
                "time": local.strftime("%H:%M"),
                "scheduled_at": post.scheduled_at.isoformat(),
            }
        )
    messages.success(request, message)
    return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)


@workspace_view(Perm.EDIT)
def post_edit(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    deliveries = list(post.deliveries.select_related("channel").order_by("channel__display_name", "pk"))
    channels = [delivery.channel for delivery in deliveries]
    own_texts = {d.channel_id: d.text for d in deliveries if d.text != post.text}
    initial = {
        "text": post.text,
        "link": post.link,
        "pillar": post.pillar,
        "purpose": post.purpose,
        "goal": post.goal_id,
        "first_comment": post.first_comment,
        **{f"{VARIANT_PREFIX}{pk}": text for pk, text in own_texts.items()},
    }
    post_media = media_files.assets_of(post.pk)
    form = PostEditForm(
        request.POST or None,
        initial=initial,
        channels=channels,
        must_fit=actions.must_fit(post),
        media=post_media,
        workspace=post.workspace,
        current_goal=post.goal_id,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_update_post(
                Actor.from_request(request),
                post,
                text=data["text"],
                link=data["link"],
                pillar=data["pillar"],
                purpose=data["purpose"],
                variants=form.variants(),
                first_comment=data["first_comment"],
                goal=data["goal"],
            )
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The post is saved."))
            if not actions.must_fit(post):
                for check in composer.failing(form.checks):
                    messages.warning(
                        request,
                        _("Saved as a draft, but not ready to schedule: %(summary)s")
                        % {"summary": composer.problem_summary(check)},
                    )
            return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)
    checks = form.checks
    if not form.is_bound:
        checks = composer.check_channels(
            channels, post.text, own_texts, first_comment=post.first_comment, media=post_media
        )
    purpose = str((form.data.get("purpose") if form.is_bound else None) or post.purpose)
    comment = str(form["first_comment"].value() or "")
    locked = any(d.state in actions.OUT_STATES for d in deliveries)
    return _render(
        request,
        "publishing/post_edit.html",
        {
            "nav": "calendar",
            "post": post,
            "form": form,
            "locked": locked,
            **_checks_context(
                post.workspace, form, checks, purpose, first_comment=comment, ticked=channels, editing=post.pk
            ),
        },
    )


@workspace_view(Perm.EDIT)
def post_delete(request: HttpRequest, post_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes (cancelling what has not gone out)."""
    post = get_post_for_member(request, post_id)
    if request.method == "POST":
        try:
            actions.do_delete_post(Actor.from_request(request), post)
        except ActionError as exc:
            messages.error(request, exc.message)
            return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)
        messages.success(request, _("The post is deleted; it will not be published."))
        return redirect("publishing:calendar", slug=post.workspace.slug)
    deliveries = list(post.deliveries.select_related("channel").order_by("channel__display_name"))
    return _render(
        request,
        "publishing/post_delete.html",
        {
            "nav": "calendar",
            "post": post,
            "deliveries": deliveries,
            "locked": any(d.state in actions.OUT_STATES for d in deliveries),
        },
    )


@require_POST
@workspace_view(Perm.EDIT)
def post_publish_now(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    try:
        actions.do_publish_now(Actor.from_request(request), post)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The post is being published."))
    return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)


@require_POST
@workspace_view(Perm.EDIT)
def post_cancel(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_post_for_member(request, post_id)
    cancelled, in_flight = actions.do_cancel_post(Actor.from_request(request), post)
    if cancelled:
        messages.success(request, _("Cancelled on %(count)d channel(s).") % {"count": cancelled})
    if in_flight:
        messages.warning(
            request,
            _(
                "%(count)d channel(s) were already being published and could not be cancelled; "
                "their outcome shows here shortly."
            )
            % {"count": in_flight},
        )
    if not cancelled and not in_flight:
        messages.error(request, _("Nothing left to cancel."))
    return redirect("publishing:post", slug=post.workspace.slug, post_id=post.pk)


@require_POST
@workspace_view(Perm.EDIT)
def delivery_retry(request: HttpRequest, post_id: int, delivery_id: int) -> HttpResponse:
    delivery = get_delivery_for_member(request, post_id, delivery_id)
    try:
        actions.do_retry_delivery(Actor.from_request(request), delivery)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Trying %(channel)s again.") % {"channel": delivery.channel.display_name})
    return redirect("publishing:post", slug=delivery.post.workspace.slug, post_id=post_id)


# --- The secret iCal feed --------------------------------------------------------------------


@never_cache
@workspace_view(Perm.VIEW)
def calendar_feed(request: HttpRequest) -> HttpResponse:
    """The member's own feed: make or regenerate it (the URL is shown once, in this response,
    never stored), or switch it off."""
    workspace = request.workspace  # type: ignore[attr-defined]
    actor = Actor.from_request(request)
    feed_url = ""
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            if actions.do_revoke_calendar_feed(actor, workspace):
                messages.success(request, _("The calendar feed is switched off; its address no longer works."))
            return redirect("publishing:calendar_feed", slug=workspace.slug)
        token = actions.do_create_calendar_feed(actor, workspace)
        feed_url = settings.BASE_URL + reverse("publishing:calendar_ical", kwargs={"token": token})
    feed = CalendarFeed.objects.filter(user=request.user, workspace=workspace).first()  # type: ignore[misc]
    return _render(
        request,
        "publishing/calendar_feed.html",
        {"nav": "calendar", "feed": feed, "feed_url": feed_url},
    )


@require_GET
@public_view
def calendar_ical(request: HttpRequest, token: str) -> HttpResponse:
    """The content plan as text/calendar: scheduled and published posts from 90 days ago on.
    A token that is unknown, replaced, or whose user left the workspace is a 404."""
    feed = CalendarFeed.objects.select_related("workspace", "user").filter(token_hash=hash_token(token)).first()
    if feed is None or not feed.user.is_active:
        raise Http404
    workspace = feed.workspace
    if not Membership.objects.filter(user_id=feed.user_id, workspace=workspace).exists():
        raise Http404
    now = timezone.now()
    if feed.last_used_at is None or now - feed.last_used_at > dt.timedelta(hours=1):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
    posts = _with_deliveries(
        Post.objects.filter(workspace=workspace, status__in=FEED_STATUSES, scheduled_at__gte=now - FEED_PAST).order_by(
            "scheduled_at", "pk"
        )
    )
    host = settings.BASE_URL.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    post_url = settings.BASE_URL + _url_template("publishing:post", workspace.slug)
    events = []
    for post in posts:
        assert post.scheduled_at is not None
        channels = ", ".join(
            d.channel.display_name for d in post.deliveries.all() if d.state != Delivery.State.CANCELLED
        )
        first_line = post.text.strip().splitlines()[0] if post.text.strip() else ""
        summary = f"{first_line[:60]}{'…' if len(first_line) > 60 else ''}"
        description = [post.text]
        if post.link:
            description.append(post.link)
        description.append(f"{post.get_status_display()} · {channels}" if channels else str(post.get_status_display()))
        events.append(
            ical.Event(
                uid=f"post-{post.pk}@{host}",
                start=post.scheduled_at,
                summary=f"[{post.get_status_display()}] {summary}",
                description="\n\n".join(description),
                url=post_url.format(post.pk),
                last_modified=post.updated_at,
            )
        )
    name = _("%(workspace)s: content plan") % {"workspace": workspace.name}
    response = HttpResponse(ical.calendar(name, events, now=now), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{workspace.slug}.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
