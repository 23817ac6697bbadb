"""Uploading media: a file is judged by its bytes, photos lose their location, the same file is
stored once per workspace, and every write is audited (docs/media.md)."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation
from PIL import Image

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.publishing import media
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import MediaAsset, Post, PostMedia
from stammtisch.publishing.tests.media_samples import image, mp4, phone_photo, upload


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


def bob(cast) -> Actor:
    return Actor(user=cast.bob, label="bob")


def stored_bytes(asset: MediaAsset) -> bytes:
    with asset.file.open("rb") as handle:
        return handle.read()


def test_a_png_is_stored_with_type_size_and_dimensions_read_from_the_file(cast):
    content = image("PNG", (1080, 1350))
    # The browser claims a JPEG named .gif: both are ignored, the bytes decide.
    asset = media.do_upload_media(bob(cast), cast.workspace, upload("brezel.gif", content, "image/jpeg"), "Brezel")

    asset.refresh_from_db()
    assert (asset.content_type, asset.width, asset.height) == ("image/png", 1080, 1350)
    assert asset.bytes == len(content) == len(stored_bytes(asset))
    assert asset.sha256 == hashlib.sha256(content).hexdigest()
    assert asset.file.name.startswith(f"media/{cast.workspace.pk}/") and asset.file.name.endswith(".png")
    assert (asset.original_name, asset.alt_text, asset.uploaded_by) == ("brezel.gif", "Brezel", cast.bob)
    event = AuditEvent.objects.get(action="media.upload")
    assert (event.workspace, event.actor, event.object_id) == (cast.workspace, cast.bob, str(asset.pk))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("menu.jpg", b"Tagesessen: Maultaschen mit Kartoffelsalat\n" * 20, "is not a JPEG, PNG, GIF or WebP image"),
        ("broken.png", image("PNG")[:300], "could not be read: the image is damaged"),
        ("scan.bmp", image("BMP", (40, 40)), "is not a JPEG, PNG, GIF or WebP image"),
        ("iphone.mp4", mp4(brand=b"heic"), "is a HEIC or AVIF photo"),
        ("clip.mp4", mp4()[:40], "could not be read: the video is damaged"),
        ("empty.jpg", b"", "is empty"),
    ],
)
def test_what_is_not_a_usable_image_or_video_is_refused_with_its_name(cast, name, content, message):
    with pytest.raises(ActionError) as refused:
        media.do_upload_media(bob(cast), cast.workspace, upload(name, content, "image/jpeg"))

    assert f"“{name}”" in refused.value.message and message in refused.value.message
    assert not MediaAsset.objects.exists()
    assert not AuditEvent.objects.filter(action="media.upload").exists()


def test_a_file_over_the_upload_limit_is_refused_before_it_is_read(cast, settings):
    settings.MAX_UPLOAD_MB = 1
    big = upload("big.png", image("PNG", (100, 100)) + bytes(1024 * 1024))

    with pytest.raises(ActionError) as refused:
        media.do_upload_media(bob(cast), cast.workspace, big)

    assert refused.value.message == "“big.png” is too large: 1.0 MB, at most 1.0 MB."
    assert not MediaAsset.objects.exists()


def test_a_photo_loses_its_location_camera_and_comments_but_stays_upright(cast):
    original = phone_photo(size=(1200, 900), orientation=6)  # taken with the phone held upright
    assert b"PhoneMaker" in original and b"xmpmeta" in original and b"Koenigstrasse" in original

    asset = media.do_upload_media(bob(cast), cast.workspace, upload("IMG_0042.JPG", original, "image/jpeg"))

    stored = stored_bytes(asset)
    for secret in (b"PhoneMaker", b"Pocket 12", b"xmpmeta", b"GPSLatitude", b"Koenigstrasse", b"Exif\x00\x00"):
        assert secret not in stored
    picture = Image.open(io.BytesIO(stored))
    assert not picture.getexif() and "exif" not in picture.info and "xmp" not in picture.info
    # Turned as the orientation said: 900 wide, 1200 high, the yellow corner now top right.
    assert picture.size == (900, 1200) == (asset.width, asset.height)
    assert picture.getpixel((880, 20))[2] < 60 and picture.getpixel((20, 20))[2] > 150
    assert asset.bytes == len(stored) and asset.sha256 == hashlib.sha256(stored).hexdigest()


def test_an_upright_jpeg_keeps_its_quality_and_only_loses_metadata(cast):
    original = phone_photo(size=(640, 480), orientation=1)

    asset = media.do_upload_media(bob(cast), cast.workspace, upload("a.jpg", original))

    stored = Image.open(io.BytesIO(stored_bytes(asset)))
    assert stored.size == (640, 480)
    assert stored.quantization == Image.open(io.BytesIO(original)).quantization  # same tables: no loss
    assert not stored.getexif()


def test_a_png_with_exif_is_cleaned_too(cast):
    picture = Image.new("RGB", (50, 40), "red")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    picture.save(out, "PNG", exif=exif.tobytes())
    assert b"PhoneMaker" in out.getvalue()

    asset = media.do_upload_media(bob(cast), cast.workspace, upload("shot.png", out.getvalue()))

    assert b"PhoneMaker" not in stored_bytes(asset)
    assert (asset.content_type, asset.width, asset.height) == ("image/png", 50, 40)


def test_an_mp4_is_recognised_by_its_ftyp_box_with_size_and_duration(cast):
    asset = media.do_upload_media(bob(cast), cast.workspace, upload("reel.bin", mp4((1080, 1920), 12.5), "text/plain"))

    assert (asset.content_type, asset.width, asset.height, asset.duration_s) == ("video/mp4", 1080, 1920, 12.5)
    assert asset.file.name.endswith(".mp4")


def test_a_video_filmed_upright_reports_its_shown_size(cast):
    asset = media.do_upload_media(bob(cast), cast.workspace, upload("v.mov", mp4((1920, 1080), turned=True)))
    assert (asset.width, asset.height) == (1080, 1920)


def test_the_same_file_twice_is_stored_once_per_workspace(cast):
    content = image("JPEG", (800, 800))
    first = media.do_upload_media(bob(cast), cast.workspace, upload("a.jpg", content))
    second = media.do_upload_media(bob(cast), cast.workspace, upload("copy.jpg", content), "Kuchen")

    assert second.pk == first.pk
    assert MediaAsset.objects.filter(workspace=cast.workspace).count() == 1
    assert MediaAsset.objects.get().alt_text == "Kuchen"  # it had none: it gets this one
    charlie = Actor(user=cast.charlie, label="charlie")
    theirs = media.do_upload_media(charlie, cast.other_workspace, upload("a.jpg", content))
    assert theirs.pk != first.pk and theirs.workspace == cast.other_workspace


def test_only_members_who_may_edit_upload(cast):
    with pytest.raises(PermissionDenied):
        media.do_upload_media(Actor(user=cast.anna, label="anna"), cast.workspace, upload("a.png", image()))
    with pytest.raises(PermissionDenied):
        media.do_upload_media(Actor(user=cast.charlie, label="c"), cast.workspace, upload("a.png", image()))
    assert not MediaAsset.objects.exists()


def test_alt_text_is_saved_audited_and_limited(cast):
    asset = media.do_upload_media(bob(cast), cast.workspace, upload("a.png", image()))

    media.do_set_alt_text(bob(cast), asset, "  Eine Brezel\n auf dem Tresen ")

    asset.refresh_from_db()
    assert asset.alt_text == "Eine Brezel auf dem Tresen"
    assert AuditEvent.objects.filter(action="media.alt_text", object_id=str(asset.pk)).count() == 1
    with pytest.raises(ActionError, match="too long: 1,501 characters, at most 1500"):
        media.do_set_alt_text(bob(cast), asset, "x" * 1501)
    with pytest.raises(PermissionDenied):
        media.do_set_alt_text(Actor(user=cast.carol, label="carol"), asset, "Reviewer darf nicht")


def test_a_file_used_by_a_scheduled_post_cannot_be_deleted(cast):
    import datetime as dt

    from django.utils import timezone

    asset = media.do_upload_media(bob(cast), cast.workspace, upload("a.png", image()))
    do_create_post(
        bob(cast),
        cast.workspace,
        text="Bald!",
        channels=[],
        media=[asset],
        scheduled_at=None,
    )
    post = Post.objects.get()
    Post.objects.filter(pk=post.pk).update(status=Post.Status.SCHEDULED, scheduled_at=timezone.now() + dt.timedelta(1))

    with pytest.raises(ActionError, match="used by 1 post"):
        media.do_delete_media(bob(cast), asset)

    assert MediaAsset.objects.filter(pk=asset.pk).exists() and PostMedia.objects.filter(post=post).exists()


def test_deleting_a_file_removes_it_from_drafts_and_from_disk(cast, django_capture_on_commit_callbacks):
    asset = media.do_upload_media(bob(cast), cast.workspace, upload("a.png", image()))
    draft = do_create_post(bob(cast), cast.workspace, text="Entwurf", channels=[], media=[asset])
    name = asset.file.name
    assert asset.file.storage.exists(name)

    with django_capture_on_commit_callbacks(execute=True):
        removed_from = media.do_delete_media(bob(cast), asset)

    assert removed_from == 1
    assert not MediaAsset.objects.exists() and not PostMedia.objects.filter(post=draft).exists()
    assert not asset.file.storage.exists(name)
    event = AuditEvent.objects.get(action="media.delete")
    assert event.data["removed_from_posts"] == [draft.pk]


def test_an_image_with_too_many_pixels_is_refused_not_decoded(cast, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # the real limit is about 89 million

    with pytest.raises(ActionError, match=r"“huge\.png” has too many pixels"):
        media.do_upload_media(bob(cast), cast.workspace, upload("huge.png", image("PNG", (150, 100))))

    assert not MediaAsset.objects.exists()


def test_a_gif_and_a_webp_are_stored_as_uploaded(cast):
    for name, fmt, content_type in (("wink.gif", "GIF", "image/gif"), ("logo.webp", "WEBP", "image/webp")):
        content = image(fmt, (320, 240))
        asset = media.do_upload_media(bob(cast), cast.workspace, upload(name, content))
        assert (asset.content_type, asset.width, asset.height) == (content_type, 320, 240)
        assert stored_bytes(asset) == content
