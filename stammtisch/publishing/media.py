"""Images and videos of a workspace: upload, checks, alt text, deletion, and what the publisher
hands to a connector (docs/media.md).

An upload is judged by its content only, never by the browser's content type or file name:
Pillow must open it as JPEG, PNG, GIF or WebP, or its first box must be an ISO media `ftyp` box
of MP4 (or QuickTime). Type, size, width and height are read from the file and stored on the
`MediaAsset`, so the per-network rules (`networks.rules`) are checked without opening it again.

Privacy: a JPEG is saved again without its metadata (EXIF with GPS position, camera serial
number and time, XMP, comments), with the EXIF orientation applied to the pixels first so the
photo stays upright. PNG and WebP files that carry EXIF or XMP are cleaned the same way.

The same file uploaded twice to one workspace is stored once (SHA-256 of the stored bytes).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.base import MediaItem
from stammtisch.networks.rules import Media
from stammtisch.publishing.models import Delivery, MediaAsset, Post, PostMedia

MIB = 1024 * 1024
ALT_TEXT_MAX = 1500  # MediaAsset.alt_text; Mastodon allows 1,500 characters of description
MAX_MEDIA_PER_POST = 20  # the most any network takes in one post (LinkedIn, Threads)
RECENT_LIMIT = 12  # uploads offered again in the composer

# Pillow's format name -> (content type, file suffix). MPO is the multi-picture JPEG of many
# phones; it is stored as a plain JPEG.
IMAGE_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
# ISO base media file brands (the `ftyp` box) that mean MP4; "qt  " is Apple QuickTime (.mov).
MP4_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"mp41",
        b"mp42",
        b"avc1",
        b"M4V ",
        b"M4VP",
        b"dash",
        b"mmp4",
        b"MSNV",
    }
)
QUICKTIME_BRAND = b"qt  "
# Brands of still images in the same container (iPhone photos): told apart for a better message.
HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"avif", b"avis"}
)
MOOV_MAX = 64 * MIB  # the index box of a video; real ones are a few MB at most

# Posts in these states hold on to their media: they are on a network, on their way there, or
# waiting for a reviewer or a retry. A draft, a post with changes requested and a cancelled post
# let go of a file that is deleted.
HOLDING_STATUSES = (
    Post.Status.SCHEDULED,
    Post.Status.PENDING_APPROVAL,
    Post.Status.PUBLISHING,
    Post.Status.PUBLISHED,
    Post.Status.PARTIAL,
    Post.Status.FAILED,
)


class MediaRejected(ActionError):
    """An upload we cannot use; `message` names the file and says why."""


def max_upload_bytes() -> int:
    """The largest file anyone may upload (STAMMTISCH_MAX_UPLOAD_MB, in MiB)."""
    return int(settings.MAX_UPLOAD_MB) * MIB


# --- Reading a file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inspected:
    """What a file is, read from its bytes. `content` holds cleaned image bytes to store instead
    of the upload (None: store the upload as it is)."""

    content_type: str
    suffix: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    content: bytes | None = None


def inspect(handle: IO[bytes], name: str, size: int) -> Inspected:
    """Read type and dimensions from the file itself; MediaRejected for anything else."""
    handle.seek(0)
    head = handle.read(32)
    handle.seek(0)
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _inspect_video(handle, name, size)
    return _inspect_image(handle, name)


def _inspect_image(handle: IO[bytes], name: str) -> Inspected:
    not_usable = _("“%(name)s” is not a JPEG, PNG, GIF or WebP image or an MP4 video.") % {"name": name}
    damaged = _("“%(name)s” could not be read: the image is damaged or incomplete.") % {"name": name}
    with warnings.catch_warnings():
        # Above Pillow's pixel limit (about 89 million) an image is refused, not opened.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(handle) as probe:
                kind = probe.format or ""
                probe.verify()
            handle.seek(0)
            with Image.open(handle) as image:
                if kind not in IMAGE_FORMATS:
                    raise MediaRejected(not_usable)
                image.load()  # decodes it all: a truncated file fails here
                return _cleaned(image, kind)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise MediaRejected(
                _("“%(name)s” has too many pixels. Make it smaller and upload it again.") % {"name": name}
            ) from None
        except UnidentifiedImageError:
            raise MediaRejected(not_usable) from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError):
            raise MediaRejected(damaged) from None


def _cleaned(image: Image.Image, kind: str) -> Inspected:
    """The image's facts, and for JPEG (and PNG or WebP with metadata) bytes without metadata."""
    content_type, suffix = IMAGE_FORMATS[kind]
    if content_type == "image/jpeg":
        content = _without_metadata_jpeg(image, kind)
    elif content_type in ("image/png", "image/webp") and _has_metadata(image) and not _animated(image):
        content = _without_metadata(image, kind)
    else:
        return Inspected(content_type, suffix, width=image.width, height=image.height)
    with Image.open(io.BytesIO(content)) as stored:
        width, height = stored.size
    return Inspected(content_type, suffix, width=width, height=height, content=content)


def _animated(image: Image.Image) -> bool:
    return bool(getattr(image, "is_animated", False))


def _has_metadata(image: Image.Image) -> bool:
    return bool(image.info.get("exif") or image.info.get("xmp") or image.info.get("XML:com.adobe.xmp"))


def _without_metadata_jpeg(image: Image.Image, kind: str) -> bytes:
    """The JPEG again, without EXIF, XMP and comments; upright. Unrotated JPEGs keep their
    quantisation tables ("keep"), so the new file looks like the old one."""
    options: dict[str, Any] = {"comment": b"", "optimize": True}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]  # colours, not personal data
    try:
        orientation = image.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, struct.error):  # unreadable EXIF: dropped anyway
        orientation = 1
    out = io.BytesIO()
    if orientation not in (1, None) or kind != "JPEG":
        upright = ImageOps.exif_transpose(image)
        if upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=95, **options)
    else:
        image.save(out, "JPEG", quality="keep", subsampling="keep", **options)
    return out.getvalue()


def _without_metadata(image: Image.Image, kind: str) -> bytes:
    """A still PNG (lossless) or WebP again without EXIF and XMP. Animated files are stored as
    uploaded: saving only their first frame would change them."""
    out = io.BytesIO()
    upright = ImageOps.exif_transpose(image)
    options: dict[str, Any] = {}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    if kind == "PNG":
        upright.save(out, "PNG", **options)
    else:
        upright.save(out, "WEBP", quality=95, **options)
    return out.getvalue()


def _inspect_video(handle: IO[bytes], name: str, size: int) -> Inspected:
    damaged = _("“%(name)s” could not be read: the video is damaged or incomplete.") % {"name": name}
    ftyp = _box(handle, 0, size)
    if ftyp is None or ftyp[0] != b"ftyp" or ftyp[2] - ftyp[1] < 8:
        raise MediaRejected(damaged)
    handle.seek(ftyp[1])
    payload = handle.read(min(ftyp[2] - ftyp[1], 256))
    major = payload[:4]
    brands = {major} | {payload[i : i + 4] for i in range(8, len(payload) - 3, 4)}
    if major in HEIF_BRANDS or (brands & HEIF_BRANDS and not brands & MP4_BRANDS):
        raise MediaRejected(
            _(
                "“%(name)s” is a HEIC or AVIF photo, which most networks do not accept. "
                "Save it as JPEG and upload it again."
            )
            % {"name": name}
        )
    if major == QUICKTIME_BRAND:
        content_type, suffix = "video/quicktime", "mov"
    elif brands & MP4_BRANDS:
        content_type, suffix = "video/mp4", "mp4"
    else:
        raise MediaRejected(
            _("“%(name)s” is a video format we cannot publish. Save it as MP4 and upload it again.") % {"name": name}
        )
    facts = _movie_facts(handle, size)
    if facts is None:
        raise MediaRejected(damaged)
    width, height, duration = facts
    return Inspected(content_type, suffix, width=width, height=height, duration_s=duration)


def _box(handle: IO[bytes], offset: int, end: int) -> tuple[bytes, int, int] | None:
    """(type, payload start, box end) of the ISO media box at `offset`; None when damaged."""
    if end - offset < 8:
        return None
    handle.seek(offset)
    head = handle.read(8)
    if len(head) < 8:
        return None
    length, kind = struct.unpack(">I4s", head)
    header = 8
    if length == 1:
        large = handle.read(8)
        if len(large) < 8:
            return None
        length, header = struct.unpack(">Q", large)[0], 16
    elif length == 0:  # to the end of the file
        length = end - offset
    if length < header or offset + length > end:
        return None
    return kind, offset + header, offset + length


def _boxes(handle: IO[bytes], start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    offset = start
    for _count in range(10_000):
        found = _box(handle, offset, end)
        if found is None:
            return
        yield found
        offset = found[2]


def _movie_facts(handle: IO[bytes], size: int) -> tuple[int | None, int | None, float | None] | None:
    """(width, height, seconds) from the `moov` box: `mvhd` for the duration, the first track
    header (`tkhd`) with a picture for the size, turned as its matrix turns it. None without a
    `moov` box (not a playable file)."""
    moov = next((box for box in _boxes(handle, 0, size) if box[0] == b"moov"), None)
    if moov is None or moov[2] - moov[1] > MOOV_MAX:
        return None
    handle.seek(moov[1])
    index = io.BytesIO(handle.read(moov[2] - moov[1]))
    end = moov[2] - moov[1]
    width = height = None
    duration = None
    try:
        for kind, start, stop in _boxes(index, 0, end):
            if kind == b"mvhd":
                index.seek(start)
                data = index.read(stop - start)
                if data[0] == 1:
                    timescale, length = struct.unpack(">IQ", data[20:32])
                else:
                    timescale, length = struct.unpack(">II", data[12:20])
                duration = round(length / timescale, 3) if timescale else None
            elif kind == b"trak" and width is None:
                for inner, inner_start, inner_stop in _boxes(index, start, stop):
                    if inner == b"tkhd":
                        index.seek(inner_start)
                        width, height = _track_size(index.read(inner_stop - inner_start))
    except (struct.error, IndexError):
        return None
    return width, height, duration


def _track_size(data: bytes) -> tuple[int | None, int | None]:
    skip = 36 if data[0] == 1 else 24  # version and flags, two times, track id, reserved, duration
    matrix_at = skip + 8 + 8  # reserved (8); layer, group, volume, reserved (2 each)
    a, b = struct.unpack(">ii", data[matrix_at : matrix_at + 8])
    raw_width, raw_height = struct.unpack(">II", data[matrix_at + 36 : matrix_at + 44])
    width, height = raw_width >> 16, raw_height >> 16
    if not width or not height:
        return None, None
    if a == 0 and b != 0:  # turned by 90 or 270 degrees (a phone held upright)
        width, height = height, width
    return width, height


def _display_name(name: str | None) -> str:
    base = os.path.basename((name or "").replace("\\", "/"))
    clean = "".join(char for char in base if char.isprintable())
    return clean[:255] or "upload"


def _megabytes(size: int) -> str:
    return number_format(size / MIB, decimal_pos=1, force_grouping=True)


def _sha256(content: bytes | None, upload: File) -> str:
    digest = hashlib.sha256()
    if content is not None:
        digest.update(content)
    else:
        upload.seek(0)
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
    return digest.hexdigest()


# --- Actions ---------------------------------------------------------------------------------


def _clean_alt_text(alt_text: str) -> str:
    alt_text = " ".join((alt_text or "").split())
    if len(alt_text) > ALT_TEXT_MAX:
        raise ActionError(
            _("The description is too long: %(length)s characters, at most %(max)s.")
            % {"length": number_format(len(alt_text), force_grouping=True), "max": ALT_TEXT_MAX}
        )
    return alt_text


def do_upload_media(actor: Actor, workspace: Workspace, uploaded_file: File, alt_text: str = "") -> MediaAsset:
    """Store an image or a video for the workspace and return its MediaAsset; the same file
    uploaded before is not stored again: the earlier asset is returned (and gets `alt_text`
    if it had none). MediaRejected (an ActionError) says what is wrong with the file."""
    require_perm(actor, workspace, Perm.EDIT)
    alt_text = _clean_alt_text(alt_text)
    name = _display_name(uploaded_file.name)
    size = int(uploaded_file.size or 0)
    limit = max_upload_bytes()
    if size > limit:
        values = {"name": name, "size": _megabytes(size), "max": _megabytes(limit)}
        raise MediaRejected(_("“%(name)s” is too large: %(size)s MB, at most %(max)s MB.") % values)
    if size == 0:
        raise MediaRejected(_("“%(name)s” is empty.") % {"name": name})
    found = inspect(cast(IO[bytes], uploaded_file), name, size)
    digest = _sha256(found.content, uploaded_file)
    existing = MediaAsset.objects.filter(workspace=workspace, sha256=digest).order_by("pk").first()
    if existing is not None:
        if alt_text and not existing.alt_text:
            do_set_alt_text(actor, existing, alt_text)
        return existing
    asset = MediaAsset(
        workspace=workspace,
        uploaded_by=cast(Any, actor.user) if actor.user is not None and actor.user.pk else None,
        original_name=name,
        content_type=found.content_type,
        bytes=len(found.content) if found.content is not None else size,
        width=found.width,
        height=found.height,
        duration_s=found.duration_s,
        sha256=digest,
        alt_text=alt_text,
    )
    uploaded_file.seek(0)
    stored: File = ContentFile(found.content) if found.content is not None else uploaded_file
    asset.file.save(f"upload.{found.suffix}", stored, save=False)
    try:
        with transaction.atomic():
            asset.save()
            audit(
                actor,
                "media.upload",
                workspace=workspace,
                obj=asset,
                summary=name,
                data={"content_type": asset.content_type, "bytes": asset.bytes, "sha256": digest},
            )
    except BaseException:
        asset.file.storage.delete(asset.file.name)
        raise
    return asset


@transaction.atomic
def do_set_alt_text(actor: Actor, asset: MediaAsset, alt_text: str) -> MediaAsset:
    """The description read out to people who cannot see the image (every network takes one)."""
    require_perm(actor, asset.workspace, Perm.EDIT)
    alt_text = _clean_alt_text(alt_text)
    if alt_text == asset.alt_text:
        return asset
    MediaAsset.objects.filter(pk=asset.pk).update(alt_text=alt_text)
    asset.alt_text = alt_text
    audit(actor, "media.alt_text", workspace=asset.workspace, obj=asset, summary=alt_text[:120])
    return asset


@transaction.atomic
def do_delete_media(actor: Actor, asset: MediaAsset) -> int:
    """Delete a file. Refused while a scheduled, published (or partly published), failed, or
    waiting-for-approval post uses it; drafts and cancelled posts that use it lose it. Returns
    how many posts it was removed from."""
    workspace = asset.workspace
    require_perm(actor, workspace, Perm.EDIT)
    asset = MediaAsset.objects.select_for_update().get(pk=asset.pk)
    links = PostMedia.objects.filter(asset_id=asset.pk)
    holding = links.filter(post__status__in=HOLDING_STATUSES).count()
    if holding:
        raise ActionError(
            _(
                "This file is used by %(count)d post(s) that are scheduled, published or waiting. "
                "Remove it from those posts, or delete them, first."
            )
            % {"count": holding}
        )
    posts = sorted(set(links.values_list("post_id", flat=True)))
    links.delete()
    audit(
        actor,
        "media.delete",
        workspace=workspace,
        obj=asset,
        summary=asset.original_name,
        data={"sha256": asset.sha256, "removed_from_posts": posts},
    )
    name, storage = asset.file.name, asset.file.storage
    asset.delete()
    transaction.on_commit(lambda: storage.delete(name))
    return len(posts)


def remove_workspace_media(workspace: Workspace) -> int:
    """Delete every file of a workspace that is itself being deleted (the demo's reset): the
    links first, since a post's link protects its file (PostMedia.asset is PROTECT), then the
    rows, then the files once the transaction commits. Returns how many files."""
    assets = MediaAsset.objects.filter(workspace=workspace)
    names = [(asset.file.storage, asset.file.name) for asset in assets.only("file")]
    PostMedia.objects.filter(asset__workspace=workspace).delete()
    assets.delete()

    def remove_files() -> None:
        for storage, name in names:
            storage.delete(name)

    transaction.on_commit(remove_files)
    return len(names)


# --- Reading assets for the composer, checks and the publisher -----------------------------------


def parse_ids(values: Iterable[Any]) -> list[int]:
    """Positive whole numbers from form values, in order, each once; anything else is dropped."""
    ids: list[int] = []
    for value in values:
        text = str(value).strip()
        if text.isdigit() and int(text) > 0 and int(text) not in ids:
            ids.append(int(text))
    return ids


def assets_for_ids(workspace: Workspace, ids: Sequence[int]) -> tuple[list[MediaAsset], list[int]]:
    """The workspace's assets with these ids, in the given order, and the ids that are not the
    workspace's (deleted, or another workspace's): one query."""
    found = MediaAsset.objects.filter(workspace=workspace, pk__in=list(ids)).in_bulk() if ids else {}
    return [found[pk] for pk in ids if pk in found], [pk for pk in ids if pk not in found]


def assets_of(post_id: int) -> list[MediaAsset]:
    """A post's files in order, in one query."""
    links = PostMedia.objects.filter(post_id=post_id).select_related("asset").order_by("position", "pk")
    return [link.asset for link in links]


def recent_assets(workspace: Workspace, exclude: Iterable[int] = ()) -> list[MediaAsset]:
    """The workspace's latest uploads, to add to a post again."""
    rows = MediaAsset.objects.filter(workspace=workspace).exclude(pk__in=list(exclude))
    return list(rows.order_by("-created_at", "-pk")[:RECENT_LIMIT])


def for_rules(assets: Iterable[MediaAsset]) -> tuple[Media, ...]:
    """Assets as the rules check them: type, size in bytes, width and height."""
    return tuple(
        Media(content_type=asset.content_type, size=asset.bytes, width=asset.width, height=asset.height)
        for asset in assets
    )


def public_token(asset: MediaAsset) -> str:
    """The secret part of an asset's public address: networks fetch images from it."""
    value = f"{asset.pk}:{asset.sha256}"
    return salted_hmac("stammtisch.publishing.media.public", value).hexdigest()[:32]


def token_matches(asset: MediaAsset, token: str) -> bool:
    return constant_time_compare(public_token(asset), token)


def public_url(asset: MediaAsset) -> str:
    """The absolute address a network fetches the file from (settings.BASE_URL must reach us)."""
    path = reverse("publishing:media_public", kwargs={"media_id": asset.pk, "token": public_token(asset)})
    return f"{settings.BASE_URL}{path}"


def member_url(asset: MediaAsset) -> str:
    """The address members see the file at in the app (checks membership)."""
    return reverse("publishing:media_file", kwargs={"slug": asset.workspace.slug, "media_id": asset.pk})


def media_item(asset: MediaAsset) -> MediaItem:
    """An asset as connectors get it."""
    return MediaItem(
        path=asset.file.name,
        content_type=asset.content_type,
        alt_text=asset.alt_text,
        url=public_url(asset),
        size=asset.bytes,
        width=asset.width,
        height=asset.height,
    )


def with_media(deliveries: QuerySet[Delivery]) -> QuerySet[Delivery]:
    """Deliveries with their posts' media loaded in one more query for the whole batch (the
    publisher's claims), in order; `items_of(delivery.post)` then reads them without a query."""
    links = PostMedia.objects.select_related("asset").order_by("position", "pk")
    return deliveries.prefetch_related(Prefetch("post__media_links", queryset=links))


def items_of(post: Post) -> tuple[MediaItem, ...]:
    """The post's media as connectors get them (prefetched by `with_media`, else one query)."""
    return tuple(media_item(link.asset) for link in post.media_links.all())


def outgoing_media(post_ids: Iterable[int]) -> dict[int, tuple[MediaItem, ...]]:
    """The media of each post, in order, as connectors get them; one query for the whole batch.
    Posts without media are missing from the result."""
    ids = sorted(set(post_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:  # plain SQL first: most batches have no media at all
        table = connection.ops.quote_name(PostMedia._meta.db_table)
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(f"SELECT DISTINCT post_id FROM {table} WHERE post_id IN ({marks})", ids)  # noqa: S608
        ids = sorted(int(row[0]) for row in cursor.fetchall())
    if not ids:
        return {}
    links = PostMedia.objects.filter(post_id__in=ids).select_related("asset").order_by("post_id", "position", "pk")
    found: dict[int, list[MediaItem]] = defaultdict(list)
    for link in links:
        found[link.post_id].append(media_item(link.asset))
    return {post_id: tuple(items) for post_id, items in found.items()}
