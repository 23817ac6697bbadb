"""Per-network rules: every network counts as it does, and `validate` says what is wrong."""

from __future__ import annotations

import pytest
from django.utils import translation

from stammtisch.networks import rules
from stammtisch.networks.base import MB, MediaItem
from stammtisch.networks.registry import UnknownNetwork
from stammtisch.networks.rules import Media, count, validate

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦, 7 code points
FLAG = "\U0001f1e9\U0001f1ea"  # 🇩🇪
PHOTO = Media("image/jpeg", size=2 * MB, width=1080, height=1080)
VIDEO = Media("video/mp4", size=20 * MB, width=1080, height=1920)


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


def codes(validation: rules.Validation) -> list[str]:
    return [problem.code for problem in validation.problems]


def messages(validation: rules.Validation) -> list[str]:
    return [problem.message for problem in validation.problems]


# --- the table ---


def test_every_network_of_the_design_has_rules_a_label_and_a_counter():
    expected = {"sandbox", "facebook", "instagram", "threads", "linkedin", "x", "mastodon", "bluesky", "telegram"}
    assert set(rules.RULES) == expected | {"xing"}
    assert set(rules.LABELS) == set(rules.RULES)
    assert rules.label_for("x") == "X"
    for key, each in rules.RULES.items():
        assert each.counting in rules.COUNTERS, key
        assert each.media_types, key


@pytest.mark.parametrize(
    ("network", "limit"),
    [
        ("facebook", 63206),
        ("instagram", 2200),
        ("threads", 500),
        ("linkedin", 3000),
        ("x", 280),
        ("mastodon", 500),
        ("bluesky", 300),
        ("telegram", 4096),
    ],
)
def test_the_limits_are_the_networks_own(network, limit):
    media = [PHOTO] if rules.rules_for(network).media_required else []
    assert rules.rules_for(network).max_length == limit
    assert validate(network, "a" * limit, media).length == limit
    assert validate(network, "a" * limit, media).ok
    assert codes(validate(network, "a" * (limit + 1), media)) == ["too_long"]


def test_the_sandbox_rules_are_the_ones_its_connector_enforces():
    from stammtisch.networks.sandbox.connector import SandboxNetwork

    assert rules.RULES["sandbox"].max_length == SandboxNetwork.rules.max_length


def test_an_unknown_network_raises_a_clear_exception():
    with pytest.raises(UnknownNetwork, match="myspace"):
        validate("myspace", "hello")
    with pytest.raises(UnknownNetwork):
        count("", "hello")


# --- X ---


def test_x_says_how_much_too_long():
    validation = validate("x", "a" * 295)
    assert (validation.network, validation.length, validation.max, validation.ok) == ("x", 295, 280, False)
    assert messages(validation) == ["Too long for X: 295 of 280 characters"]


def test_x_counts_urls_as_23_and_an_emoji_sequence_as_2():
    text = "Heute frisch: https://cafe-koenigsbau.de/karte/heute/kuchen?sorte=apfel " + FAMILY
    assert count("x", text) == 14 + 23 + 1 + 2
    assert count("x", "故人西辞") == 8  # CJK weighs 2


def test_x_accepts_4_images_or_one_video_never_both():
    assert validate("x", "hi", [PHOTO] * 4).ok
    assert codes(validate("x", "hi", [PHOTO] * 5)) == ["too_many_media"]
    assert codes(validate("x", "hi", [VIDEO, VIDEO])) == ["too_many_videos"]
    assert codes(validate("x", "hi", [PHOTO, VIDEO])) == ["mixed_media"]


def test_x_allows_bigger_gifs_than_photos():
    assert validate("x", "hi", [Media("image/gif", size=12 * MB)]).ok
    validation = validate("x", "hi", [Media("image/jpeg", size=6 * MB)])
    assert messages(validation) == ["File 1 is too large for X: 6.0 MB, at most 5.0 MB"]


def test_text_with_noncharacters_cannot_be_posted():
    assert codes(validate("x", "ABC\ufffe")) == ["invalid_characters"]


# --- Mastodon ---


def test_mastodon_counts_every_url_as_23():
    long_url = "https://cafe-koenigsbau.de/" + "k" * 200
    assert count("mastodon", long_url) == 23
    assert count("mastodon", "Neu: " + long_url + " und http://t.co") == 5 + 23 + 5 + 23
    assert validate("mastodon", "a" * 470 + " " + long_url).ok  # 494 as Mastodon counts


def test_mastodon_counts_a_domain_without_protocol_as_written():
    assert count("mastodon", "cafe-koenigsbau.de") == len("cafe-koenigsbau.de")


def test_mastodon_counts_a_remote_mention_by_its_local_part():
    assert count("mastodon", "Danke @anna@social.cafe-koenigsbau.de!") == len("Danke @anna!")


# --- Threads ---


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Grüß Gott aus Stuttgart", 23),  # letters with accents are one character each
        ("\U0001f44d", 4),  # thumbs up: 4 UTF-8 bytes
        ("\U0001f44d\U0001f3fd", 8),  # with a skin tone: two emoji code points
        ("\u2764\ufe0f", 6),  # red heart (3 bytes) with the emoji presentation selector (3)
        (FLAG, 8),  # two regional indicators
        ("Prost \U0001f37a!", 11),
    ],
)
def test_threads_counts_emoji_by_their_utf8_bytes(text, length):
    assert count("threads", text) == length


def test_threads_refuses_a_short_text_whose_emoji_make_it_too_long():
    assert validate("threads", "a" * 496 + "\U0001f37a").ok
    assert not validate("threads", "a" * 497 + "\U0001f37a").ok


# --- Bluesky ---


@pytest.mark.parametrize(
    "grapheme",
    [
        FAMILY,
        FLAG,
        "e\u0301",  # e + combining acute accent
        "\U0001f44d\U0001f3fd",  # thumbs up, medium skin tone
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
        "\u0928\u093f",  # Devanagari ni
    ],
)
def test_bluesky_counts_a_grapheme_as_one(grapheme):
    assert count("bluesky", grapheme) == 1
    assert count("bluesky", f"a{grapheme}b") == 3


def test_bluesky_allows_300_graphemes_but_also_no_more_than_3000_bytes():
    assert validate("bluesky", "ä" * 300).ok
    assert messages(validate("bluesky", "ä" * 301)) == ["Too long for Bluesky: 301 of 300 characters"]
    validation = validate("bluesky", FAMILY * 200)  # 200 graphemes, 5,000 bytes
    assert validation.length == 200
    assert messages(validation) == ["Too long for Bluesky: 5,000 of 3,000 bytes"]


def test_bluesky_images_may_have_one_megabyte():
    validation = validate("bluesky", "hi", [Media("image/png", size=1_200_000)])
    assert messages(validation) == ["File 1 is too large for Bluesky: 1.2 MB, at most 1.0 MB"]


# --- Instagram ---


def test_instagram_needs_an_image_or_a_video():
    validation = validate("instagram", "Nur Text")
    assert messages(validation) == ["Instagram needs at least one image or video"]
    assert validate("instagram", "", [PHOTO]).ok


def test_instagram_allows_30_hashtags():
    thirty = " ".join(f"#kuchen{n}" for n in range(30))
    assert validate("instagram", thirty, [PHOTO]).ok
    validation = validate("instagram", thirty + " #a #b #c #d", [PHOTO])
    assert messages(validation) == ["Instagram allows at most 30 hashtags (this has 34)"]


def test_a_hash_in_a_url_or_a_word_is_no_hashtag():
    text = "#café #Kaffee_2024 C# https://example.com/#top &#39; \uff03Kuchen"
    assert rules.hashtags(text) == ["café", "Kaffee_2024", "Kuchen"]


def test_instagram_wants_aspect_ratios_from_4_5_to_1_91_1():
    for width, height in [(1080, 1350), (1080, 1080), (1080, 566)]:
        assert validate("instagram", "", [Media("image/jpeg", width=width, height=height)]).ok
    validation = validate("instagram", "", [PHOTO, Media("image/jpeg", width=1080, height=1920)])
    assert messages(validation) == [
        "Image 2: Instagram needs an aspect ratio between 4:5 and 1.91:1 (this one is 1080 by 1920 pixels)"
    ]
    assert validate("instagram", "", [VIDEO]).ok  # reels are 9:16


def test_instagram_takes_jpeg_photos_and_up_to_10_items():
    assert messages(validate("instagram", "", [Media("image/png")])) == [
        "File 1: Instagram does not accept image/png files"
    ]
    assert validate("instagram", "", [PHOTO] * 10).ok
    assert codes(validate("instagram", "", [PHOTO] * 11)) == ["too_many_media"]


# --- Telegram ---


def test_telegram_allows_4096_characters_but_1024_as_a_caption():
    text = "a" * 1500
    assert validate("telegram", text).ok
    assert validate("telegram", text).max == 4096
    validation = validate("telegram", text, [PHOTO])
    assert (validation.length, validation.max) == (1500, 1024)
    assert messages(validation) == ["Too long for a Telegram caption: 1,500 of 1,024 characters"]
    assert validate("telegram", "a" * 1024, [PHOTO]).ok


# --- everything else ---


def test_a_post_needs_text_or_media():
    assert messages(validate("sandbox", "  \n")) == ["A post for Sandbox needs text or media"]
    assert validate("sandbox", "", [PHOTO]).ok


def test_facebook_counts_characters_not_weights():
    assert count("facebook", "故人西辞 " + FAMILY) == 5 + 7


def test_media_without_size_or_dimensions_is_checked_for_type_and_count():
    item = MediaItem(path="media/kuchen.jpg", content_type="image/jpeg")
    assert validate("instagram", "Kuchen", [item]).ok
    assert codes(validate("xing", "Kuchen", [item, item])) == ["too_many_media"]


def test_a_validation_serialises_for_the_api():
    validation = validate("x", "a" * 281)
    assert validation.as_dict() == {
        "network": "x",
        "length": 281,
        "max": 280,
        "ok": False,
        "problems": [{"code": "too_long", "message": "Too long for X: 281 of 280 characters"}],
    }


def test_every_problem_code_is_documented():
    everything_wrong = validate(
        "x", "\ufffe" + "a" * 300, [PHOTO, VIDEO, VIDEO, Media("image/tiff"), Media("image/gif", size=99 * MB)]
    )
    assert set(codes(everything_wrong)) <= set(rules.PROBLEM_CODES)
    assert len(set(codes(everything_wrong))) == 7
