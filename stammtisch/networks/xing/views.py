"""XING: adding a channel by hand, the list of posts waiting for a person, and the "assisted
post" page where a person copies the prepared text and confirms (or skips) it."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.core.access import WorkspaceRequest, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.links import auto
from stammtisch.networks.xing.actions import (
    CONFIRMABLE,
    NETWORK,
    SKIPPABLE,
    do_add_xing_channel,
    do_confirm_assisted,
    do_skip_assisted,
)
from stammtisch.networks.xing.forms import AddXingChannelForm, ConfirmAssistedForm
from stammtisch.publishing.models import Delivery

XING_HOME = "https://www.xing.com/"


def _switched_off(request: WorkspaceRequest) -> HttpResponse | None:
    if settings.NETWORKS_ENABLED.get(NETWORK, False):
        return None
    messages.error(request, _("XING is switched off on this server."))
    return redirect("networks:channels", slug=request.workspace.slug)


def get_delivery_for_member(request: WorkspaceRequest, delivery_id: int) -> Delivery:
    """A delivery of the request's workspace; 404 otherwise."""
    return get_object_or_404(
        Delivery.objects.select_related("post", "channel"), pk=delivery_id, post__workspace=request.workspace
    )


@workspace_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def connect(request: WorkspaceRequest) -> HttpResponse:
    if (off := _switched_off(request)) is not None:
        return off
    form = AddXingChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            channel = do_add_xing_channel(
                Actor.from_request(request),
                request.workspace,
                url=form.cleaned_data["url"],
                handle=form.handle,
                display_name=form.cleaned_data["display_name"],
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("XING channel “%(name)s” added.") % {"name": channel.display_name})
            return redirect("networks:channels", slug=request.workspace.slug)
    return render(request, "xing/connect.html", {"form": form, "nav": "settings"})


@workspace_view(Perm.EDIT)
@require_GET
def waiting(request: WorkspaceRequest) -> HttpResponse:
    """XING posts that are due and wait for a person, oldest first."""
    deliveries = (
        Delivery.objects.filter(post__workspace=request.workspace, channel__network=NETWORK)
        .filter(state__in=(Delivery.State.RETRY_WAIT, Delivery.State.FAILED), attempts__gt=0)
        .select_related("post", "channel")
        .order_by("post__created_at", "pk")
    )
    return render(request, "xing/waiting.html", {"deliveries": deliveries, "nav": "publishing"})


@workspace_view(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def assisted(request: WorkspaceRequest, delivery_id: int) -> HttpResponse:
    delivery = get_delivery_for_member(request, delivery_id)
    slug = request.workspace.slug
    if delivery.channel.network != NETWORK:
        messages.info(request, _("This post is published automatically; there is nothing to do by hand."))
        return redirect("publishing:post", slug=slug, post_id=delivery.post_id)
    form = ConfirmAssistedForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_confirm_assisted(Actor.from_request(request), delivery, form.cleaned_data["url"])
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Thank you: the post is marked as published on XING."))
            return redirect("publishing:post", slug=slug, post_id=delivery.post_id)
    media = delivery.post.media_links.select_related("asset")
    # What would have been sent: the delivery's own short link (made by the publisher when the
    # post fell due, so clicks from XING are counted) in place of the post's link.
    short = auto.for_deliveries([delivery]).get(delivery.pk, "")
    return render(
        request,
        "xing/assisted.html",
        {
            "delivery": delivery,
            "text": auto.outgoing_text(delivery.text, delivery.post.link, short),
            "link": short or delivery.post.link,
            "form": form,
            "media": media,
            "xing_home": XING_HOME,
            "can_confirm": delivery.state in CONFIRMABLE,
            "can_skip": delivery.state in SKIPPABLE,
            "nav": "publishing",
        },
    )


@workspace_view(Perm.EDIT)
@require_POST
def assisted_skip(request: WorkspaceRequest, delivery_id: int) -> HttpResponse:
    delivery = get_delivery_for_member(request, delivery_id)
    try:
        do_skip_assisted(Actor.from_request(request), delivery)
    except ActionError as error:
        messages.error(request, error.message)
        return redirect("xing:assisted", slug=request.workspace.slug, delivery_id=delivery.pk)
    messages.success(request, _("Skipped: this post will not appear on XING."))
    return redirect("publishing:post", slug=request.workspace.slug, post_id=delivery.post_id)
