"""The links pages of a workspace: list and UTM builder, a link's page with QR codes and
figures, conversions, and the settings (templates, colours, website integration)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.links import actions, attribution, qr
from stammtisch.links.access import get_short_link_for_member
from stammtisch.links.forms import LinkForm, LinkSettingsForm
from stammtisch.links.models import UTM_FIELDS, Click, Conversion, ShortLink

PAGE_SIZE = 100


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    membership = request.membership  # type: ignore[attr-defined]
    context = {
        "workspace": workspace,
        "nav": "links",
        "can_edit": membership.can(Perm.EDIT),
        "can_manage": membership.can(Perm.MANAGE),
        **context,
    }
    return render(request, template, context)


def _counted(links: Any) -> Any:
    people = Q(clicks__is_bot=False)
    return links.annotate(
        click_count=Count("clicks", filter=people),
        scan_count=Count("clicks", filter=people & Q(clicks__via_qr=True)),
    )


@workspace_view(Perm.VIEW)
def link_list(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    links = _counted(ShortLink.objects.filter(workspace=workspace).select_related("channel", "post"))[:PAGE_SIZE]
    return _render(
        request,
        "links/list.html",
        {"links": links, "form": LinkForm(workspace=workspace), "short_base": actions.short_base()},
    )


def _link_values(form: LinkForm) -> dict[str, Any]:
    data = form.cleaned_data
    values = {name: data.get(name) or "" for name in UTM_FIELDS}
    return {
        "target": data["target"],
        "title": data.get("title") or "",
        "expires_at": data.get("expires_at"),
        "in_bio": bool(data.get("in_bio")),
        "in_promo": bool(data.get("in_promo")),
        **values,
    }


@workspace_view(Perm.EDIT)
def link_create(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = LinkForm(request.POST or None, workspace=workspace)
    if request.method == "POST" and form.is_valid():
        try:
            link = actions.do_create_link(
                Actor.from_request(request), workspace, post=form.cleaned_data.get("post"), **_link_values(form)
            )
        except ActionError as exc:
            form.add_error("target", exc.message)
        else:
            messages.success(request, _("Short link %(url)s made.") % {"url": actions.short_url(link.code)})
            return redirect("links:detail", slug=workspace.slug, short_link_id=link.pk)
    return _render(request, "links/create.html", {"form": form})


@workspace_view(Perm.VIEW)
def link_detail(request: HttpRequest, short_link_id: int) -> HttpResponse:
    link = get_short_link_for_member(request, short_link_id)
    clicks = Click.objects.filter(link=link, is_bot=False)
    since = timezone.now() - dt.timedelta(days=30)
    by_day = (
        clicks.filter(occurred_at__gte=since)
        .annotate(day=TruncDate("occurred_at", tzinfo=link.workspace.tz))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by("day")
    )
    initial = {name: getattr(link, name) for name in ("target", "title", "in_bio", "in_promo", *UTM_FIELDS)}
    initial["expires_at"] = timezone.localtime(link.expires_at) if link.expires_at else None
    return _render(
        request,
        "links/detail.html",
        {
            "link": link,
            "short_url": actions.short_url(link.code),
            "qr_url": actions.qr_url(link.code),
            "total": clicks.count(),
            "scans": clicks.filter(via_qr=True).count(),
            "bots": Click.objects.filter(link=link, is_bot=True).count(),
            "by_day": list(by_day),
            "by_device": clicks.values("device").annotate(n=Count("pk")).order_by("-n"),
            "by_referrer": clicks.exclude(referrer_domain="")
            .values("referrer_domain")
            .annotate(n=Count("pk"))
            .order_by("-n")[:10],
            "conversions": Conversion.objects.filter(link=link)
            .values("kind")
            .annotate(n=Count("pk"), value=Sum("value"))
            .order_by("kind"),
            "form": LinkForm(initial=initial, workspace=request.workspace),  # type: ignore[attr-defined]
        },
    )


@workspace_view(Perm.EDIT)
@require_POST
def link_edit(request: HttpRequest, short_link_id: int) -> HttpResponse:
    link = get_short_link_for_member(request, short_link_id)
    form = LinkForm(request.POST, workspace=request.workspace)  # type: ignore[attr-defined]
    if form.is_valid():
        try:
            actions.do_update_link(Actor.from_request(request), link, **_link_values(form))
        except ActionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Link saved; its code stays the same."))
    else:
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, problems)
    return redirect("links:detail", slug=link.workspace.slug, short_link_id=link.pk)


@workspace_view(Perm.EDIT)
@require_POST
def link_delete(request: HttpRequest, short_link_id: int) -> HttpResponse:
    link = get_short_link_for_member(request, short_link_id)
    try:
        actions.do_delete_link(Actor.from_request(request), link)
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("links:detail", slug=link.workspace.slug, short_link_id=link.pk)
    messages.success(request, _("Link deleted."))
    return redirect("links:list", slug=request.workspace.slug)  # type: ignore[attr-defined]


def _qr(request: HttpRequest, short_link_id: int, kind: str, content_type: str) -> HttpResponse:
    link = get_short_link_for_member(request, short_link_id)
    body = qr.make(link, actions.settings_for(link.workspace), kind)
    response = HttpResponse(body, content_type=content_type)
    name = slugify(link.title)[:40] or link.code
    if request.GET.get("download") == "1":
        response["Content-Disposition"] = f'attachment; filename="qr-{name}-{link.code}.{kind}"'
    return response


@workspace_view(Perm.VIEW)
def link_qr_svg(request: HttpRequest, short_link_id: int) -> HttpResponse:
    return _qr(request, short_link_id, "svg", "image/svg+xml")


@workspace_view(Perm.VIEW)
def link_qr_png(request: HttpRequest, short_link_id: int) -> HttpResponse:
    return _qr(request, short_link_id, "png", "image/png")


@workspace_view(Perm.VIEW)
def conversion_list(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    conversions = Conversion.objects.filter(workspace=workspace).select_related("channel", "post", "link")
    per_channel = (
        conversions.values("channel__display_name", "channel__network", "kind")
        .annotate(n=Count("pk"), value=Sum("value"))
        .order_by("channel__display_name", "kind")
    )
    per_post = (
        conversions.filter(post__isnull=False)
        .values("post_id", "post__text", "post__purpose", "post__goal__name")
        .annotate(n=Count("pk"), value=Sum("value"))
        .order_by("-n")[:20]
    )
    return _render(
        request,
        "links/conversions.html",
        {
            "recent": conversions[:PAGE_SIZE],
            "per_channel": per_channel,
            "per_post": per_post,
            "per_goal": attribution.per_goal(workspace),
        },
    )


@workspace_view(Perm.MANAGE)
def link_settings(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    current = actions.settings_for(workspace)
    form = LinkSettingsForm(request.POST or None, instance=current)
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_update_link_settings(Actor.from_request(request), workspace, **form.cleaned_data)
            except ActionError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Link settings saved."))
                return redirect("links:settings", slug=workspace.slug)
        current.refresh_from_db()
    base = settings.BASE_URL
    return _render(
        request,
        "links/settings.html",
        {
            "form": form,
            "link_settings": current,
            "secret": actions.conversion_secret(current),
            "snippet_url": base + reverse("links:snippet", kwargs={"site_key": current.site_key}),
            "pixel_url": base + reverse("links:hit", kwargs={"site_key": current.site_key}),
            "server_url": base + reverse("links:server_conversion", kwargs={"site_key": current.site_key}),
            "bio_url": base + reverse("links:bio", kwargs={"slug": workspace.slug}),
            "follow_url": base + reverse("links:embed_follow", kwargs={"slug": workspace.slug}),
            "follow_js": base + reverse("links:embed_follow_js", kwargs={"slug": workspace.slug}),
            "promo_url": base + reverse("links:embed_promo", kwargs={"slug": workspace.slug}),
            "promo_js": base + reverse("links:embed_promo_js", kwargs={"slug": workspace.slug}),
        },
    )


@workspace_view(Perm.MANAGE)
@require_POST
def rotate_secret(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    actions.do_rotate_conversion_secret(Actor.from_request(request), workspace)
    messages.success(request, _("New secret made: the old one no longer works. Update your website."))
    return redirect("links:settings", slug=workspace.slug)
