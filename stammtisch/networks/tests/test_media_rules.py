"""Media rules of each network, as `rules.validate` applies them for the composer, the Sandbox and
(later) the API: counts, types, sizes, videos, aspect ratios and required media."""

from __future__ import annotations

import pytest
from django.utils import translation

from stammtisch.networks import rules
from stammtisch.networks.base import MB, MediaItem
from stammtisch.networks.rules import Media, validate

SQUARE = Media("image/jpeg", size=2 * MB, width=1080, height=1080)
CLIP = Media("video/mp4", size=20 * MB, width=1080, height=1920)


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


def codes(validation: rules.Validation) -> list[str]:
    return [problem.code for problem in validation.problems]


def messages(validation: rules.Validation) -> list[str]:
    return [problem.message for problem in validation.problems]


def test_instagram_refuses_a_post_without_an_image_or_video_and_takes_one_with_it():
    assert messages(validate("instagram", "Brunch am Sonntag")) == ["Instagram needs at least one image or video"]
    assert validate("instagram", "Brunch am Sonntag", [SQUARE]).ok
    assert validate("instagram", "Brunch am Sonntag", [CLIP]).ok


@pytest.mark.parametrize(
    ("width", "height", "fits"),
    [(1080, 1350, True), (1080, 1080, True), (1080, 566, True), (1080, 1351, False), (1080, 560, False)],
)
def test_instagram_images_must_be_between_4_5_and_1_91_1(width, height, fits):
    validation = validate("instagram", "x", [Media("image/jpeg", size=MB, width=width, height=height)])
    assert validation.ok is fits
    if not fits:
        assert codes(validation) == ["aspect_ratio"]
        assert f"this one is {width} by {height} pixels" in messages(validation)[0]


def test_instagram_takes_jpeg_only_up_to_8_mb():
    assert messages(validate("instagram", "x", [Media("image/webp", size=MB)])) == [
        "File 1: Instagram does not accept image/webp files"
    ]
    assert validate("instagram", "x", [Media("image/jpeg", size=8 * MB)]).ok
    assert messages(validate("instagram", "x", [Media("image/jpeg", size=8 * MB + 1)])) == [
        "File 1 is too large for Instagram: 8.0 MB, at most 8.0 MB"
    ]


def test_x_takes_four_images_of_5_mb_gifs_of_15_mb_or_one_video_never_both():
    assert validate("x", "x", [SQUARE] * 4).ok
    assert codes(validate("x", "x", [SQUARE] * 5)) == ["too_many_media"]
    assert codes(validate("x", "x", [Media("image/png", size=5 * MB + 1)])) == ["media_too_large"]
    assert validate("x", "x", [Media("image/gif", size=15 * MB)]).ok
    assert codes(validate("x", "x", [Media("image/gif", size=15 * MB + 1)])) == ["media_too_large"]
    assert codes(validate("x", "x", [CLIP, CLIP])) == ["too_many_videos"]
    assert codes(validate("x", "x", [SQUARE, CLIP])) == ["mixed_media"]


def test_bluesky_images_are_at_most_1_000_000_bytes():
    assert validate("bluesky", "x", [Media("image/jpeg", size=1_000_000)]).ok
    assert codes(validate("bluesky", "x", [Media("image/jpeg", size=1_000_001)])) == ["media_too_large"]
    assert codes(validate("bluesky", "x", [SQUARE] * 5)) == ["too_many_media", *["media_too_large"] * 5]


def test_mastodon_counts_megabytes_as_rails_does_and_takes_four_attachments():
    assert validate("mastodon", "x", [Media("image/png", size=16 * 1024 * 1024)]).ok
    assert codes(validate("mastodon", "x", [Media("image/png", size=16 * 1024 * 1024 + 1)])) == ["media_too_large"]
    assert validate("mastodon", "x", [Media("video/mp4", size=99 * 1024 * 1024)]).ok
    assert codes(validate("mastodon", "x", [Media("image/png", size=MB)] * 5)) == ["too_many_media"]


def test_telegram_albums_hold_ten_photos_of_10_mb_and_videos_of_50_mb():
    assert validate("telegram", "x", [Media("image/jpeg", size=10 * MB)] * 10).ok
    assert codes(validate("telegram", "x", [Media("image/jpeg", size=MB)] * 11)) == ["too_many_media"]
    assert codes(validate("telegram", "x", [Media("video/mp4", size=50 * MB + 1)])) == ["media_too_large"]
    assert codes(validate("telegram", "x", [Media("image/jpeg", width=4200, height=200)])) == ["aspect_ratio"]


def test_threads_linkedin_and_facebook_limits():
    assert validate("threads", "x", [SQUARE] * 20).ok
    assert codes(validate("threads", "x", [SQUARE] * 21)) == ["too_many_media"]
    assert codes(validate("threads", "x", [Media("image/gif")])) == ["media_type"]
    assert validate("linkedin", "x", [Media("image/png", size=50 * MB)] * 20).ok  # pixels, not bytes
    assert codes(validate("linkedin", "x", [SQUARE, CLIP])) == ["mixed_media"]
    assert codes(validate("facebook", "x", [Media("image/jpeg", size=4 * MB + 1)])) == ["media_too_large"]


def test_the_publisher_s_media_items_are_checked_with_their_size_and_dimensions():
    tall = MediaItem(
        path="media/1/a.jpg", content_type="image/jpeg", url="https://x.example/a", width=1080, height=1920
    )
    assert codes(validate("instagram", "x", [tall])) == ["aspect_ratio"]
    huge = MediaItem(path="media/1/b.jpg", content_type="image/jpeg", size=9 * MB)
    assert codes(validate("instagram", "x", [huge])) == ["media_too_large"]
