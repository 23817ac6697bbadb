"""Media in the app: the composer's upload area (htmx partials) and the two ways a file is
served: to members (checked like any workspace page) and at a secret public address that
networks fetch images from (docs/media.md)."""

from __future__ import annotations

from typing import Any, cast

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from stammtisch.core.access import public_view, workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.publishing import media
from stammtisch.publishing.models import MediaAsset, Post

# Re-check every channel after the media changed: compose.html listens for this event.
CHANGED_EVENT = "media-changed"


def compose_media_context(
    workspace: Workspace, selected: list[MediaAsset], errors: list[str] | None = None
) -> dict[str, Any]:
    """What `publishing/_compose_media.html` shows: the post's files in order, recent uploads to
    add again, and what went wrong."""
    return {
        "media_selected": selected,
        "media_recent": media.recent_assets(workspace, exclude=[asset.pk for asset in selected]),
        "media_errors": errors or [],
        "media_max_mb": int(media.max_upload_bytes() / media.MIB),
        "media_max_count": media.MAX_MEDIA_PER_POST,
    }


def selected_from_post(request: HttpRequest) -> list[MediaAsset]:
    """The files the compose form lists (`media` ids), this workspace's only, in order; for the
    post page's edit form (`editing` = a post id, no `media`), that post's files."""
    workspace = request.workspace  # type: ignore[attr-defined]
    editing = request.POST.get("editing", "")
    if "media" not in request.POST and editing.isdigit():
        post = Post.objects.filter(pk=int(editing), workspace=workspace).only("pk").first()
        return media.assets_of(post.pk) if post is not None else []
    assets, _missing = media.assets_for_ids(workspace, media.parse_ids(request.POST.getlist("media")))
    return assets


def _partial(request: HttpRequest, selected: list[MediaAsset], errors: list[str]) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    response = render(
        request,
        "publishing/_compose_media.html",
        {"workspace": workspace, **compose_media_context(workspace, selected, errors)},
    )
    response["HX-Trigger-After-Settle"] = CHANGED_EVENT
    return response


@require_POST
@workspace_view(Perm.EDIT)
def compose_media_upload(request: HttpRequest) -> HttpResponse:
    """Files chosen in the composer (`upload`, several at once) are stored and added after the
    ones the form lists already. A file that cannot be used gets its own message; the others
    are added all the same."""
    workspace = request.workspace  # type: ignore[attr-defined]
    actor = Actor.from_request(request)
    selected = selected_from_post(request)
    errors: list[str] = []
    files = request.FILES.getlist("upload")
    if not files:
        errors.append(_("Choose one or more images or a video to upload."))
    for upload in files:
        try:
            asset = media.do_upload_media(actor, workspace, upload)
        except ActionError as exc:
            errors.append(exc.message)
            continue
        if all(asset.pk != chosen.pk for chosen in selected):
            selected.append(asset)
    if len(selected) > media.MAX_MEDIA_PER_POST:
        errors.append(_("A post can have at most %(max)s files.") % {"max": media.MAX_MEDIA_PER_POST})
        selected = selected[: media.MAX_MEDIA_PER_POST]
    return _partial(request, selected, errors)


@require_POST
@workspace_view(Perm.EDIT)
def compose_media(request: HttpRequest) -> HttpResponse:
    """One change to the composer's files, `media_op` = `<what>:<id>`: `add` (a recent upload),
    `remove`, `up`, `down`, `delete` (from the workspace, see `do_delete_media`) or `alt` (save
    the description typed into `alt_<id>`; answered with 204, nothing to redraw)."""
    workspace = request.workspace  # type: ignore[attr-defined]
    actor = Actor.from_request(request)
    selected = selected_from_post(request)
    what, _sep, number = request.POST.get("media_op", "").partition(":")
    asset = get_object_or_404(MediaAsset, pk=number, workspace=workspace) if number.isdigit() else None
    if asset is None:
        return HttpResponse(_("Unknown change."), status=400, content_type="text/plain; charset=utf-8")
    errors: list[str] = []
    position = next((index for index, chosen in enumerate(selected) if chosen.pk == asset.pk), None)
    if what == "alt":
        try:
            media.do_set_alt_text(actor, asset, request.POST.get(f"alt_{asset.pk}", ""))
        except ActionError as exc:
            return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
        return HttpResponse(status=204)
    if what == "add" and position is None:
        if len(selected) >= media.MAX_MEDIA_PER_POST:
            errors.append(_("A post can have at most %(max)s files.") % {"max": media.MAX_MEDIA_PER_POST})
        else:
            selected.append(asset)
    elif what == "remove" and position is not None:
        selected.pop(position)
    elif what in ("up", "down") and position is not None:
        other = position - 1 if what == "up" else position + 1
        if 0 <= other < len(selected):
            selected[position], selected[other] = selected[other], selected[position]
    elif what == "delete":
        try:
            media.do_delete_media(actor, asset)
        except ActionError as exc:
            errors.append(exc.message)
        else:
            selected = [chosen for chosen in selected if chosen.pk != asset.pk]
    elif what not in ("add", "remove", "up", "down"):
        return HttpResponse(_("Unknown change."), status=400, content_type="text/plain; charset=utf-8")
    return _partial(request, selected, errors)


def _file_response(asset: MediaAsset, cache: str) -> HttpResponse:
    """The file, streamed (a video may be hundreds of MB)."""
    try:
        handle = asset.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=asset.content_type)
    response["Cache-Control"] = cache
    response["X-Content-Type-Options"] = "nosniff"
    # Never a document: nothing in the file can run in our origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return cast(HttpResponse, response)  # streamed; the access marks type views as HttpResponse


@require_safe
@workspace_view(Perm.VIEW)
def media_file(request: HttpRequest, media_id: int) -> HttpResponse:
    """A file for members of its workspace (the composer, the post page)."""
    asset = get_object_or_404(MediaAsset, pk=media_id, workspace=request.workspace)  # type: ignore[attr-defined]
    return _file_response(asset, "private, max-age=86400")


@public_view
@require_safe
def media_public(request: HttpRequest, media_id: int, token: str) -> HttpResponse:
    """A file at its secret public address, for networks that fetch images by URL (Instagram,
    Threads) and the Sandbox's public feed. The token is an HMAC of the file's id and hash, so
    the address cannot be guessed, and a file never changes under it."""
    asset = MediaAsset.objects.filter(pk=media_id).first()
    if asset is None or not media.token_matches(asset, token):
        raise Http404
    return _file_response(asset, "public, max-age=31536000, immutable")


def form_media_context(workspace: Workspace, form: Any) -> dict[str, Any]:
    """The upload area of the compose page for `form` (a ComposeForm): the files it names,
    in order, and its errors about them."""
    cleaned = getattr(form, "cleaned_data", {})
    if "media" in cleaned:
        selected = list(cleaned["media"])
    elif form.is_bound and hasattr(form.data, "getlist"):
        selected, _missing = media.assets_for_ids(workspace, media.parse_ids(form.data.getlist("media")))
    else:
        selected = []
    return compose_media_context(workspace, selected, [str(error) for error in form.errors.get("media", [])])
