"""The X counter against twitter-text's own conformance suite, case by case.

The suite lives outside the project (`../shared/data/twitter-text/validate.yml`, see its README).
Without it these tests skip, unless STAMMTISCH_REQUIRE_SHARED=1 (then they fail). The app itself
never reads it: the TLD list it needs is shipped in `stammtisch/networks/data/`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from stammtisch.networks import twitter_text
from stammtisch.networks.twitter_text import V2, V3, parse, url_spans

# The team's shared data sits beside the checkout (../shared); STAMMTISCH_SHARED_DIR points elsewhere.
SHARED_DIR = Path(os.environ.get("STAMMTISCH_SHARED_DIR") or Path(__file__).resolve().parents[3] / ".." / "shared")
SUITE_DIR = SHARED_DIR / "data" / "twitter-text"
VALIDATE_YML = SUITE_DIR / "validate.yml"

# The section's name -> the configuration twitter-text runs it with. The first section predates
# emoji parsing (config v2: v3's numbers without the emoji discount).
SECTIONS = {
    "WeightedTweetsCounterTest": V2,
    "WeightedTweetsWithDiscountedEmojiCounterTest": V3,
    "UnicodeDirectionalMarkerCounterTest": V3,
}


def _require_suite() -> None:
    message = f"twitter-text conformance suite not found at {VALIDATE_YML.resolve()}"
    if os.environ.get("STAMMTISCH_REQUIRE_SHARED") == "1":
        pytest.fail(f"{message} and STAMMTISCH_REQUIRE_SHARED=1")
    pytest.skip(f"{message} (set STAMMTISCH_REQUIRE_SHARED=1 to make this a failure)")


def _load_suite() -> dict[str, list[dict]]:
    return yaml.safe_load(VALIDATE_YML.read_text(encoding="utf-8"))["tests"]


def _case_id(section: str, number: int, description: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "-", description).strip("-")[:60]
    return f"{section}-{number:02d}-{words}"


def _cases(sections: list[str]) -> list:
    if not VALIDATE_YML.exists():
        return [pytest.param(None, None, None, id="suite-missing")]
    suite = _load_suite()
    return [
        pytest.param(section, case["text"], case["expected"], id=_case_id(section, number, case["description"]))
        for section in sections
        for number, case in enumerate(suite[section], start=1)
    ]


@pytest.mark.parametrize(("section", "text", "expected"), _cases(list(SECTIONS)))
def test_it_counts_like_twitter_text(section, text, expected):
    if section is None:
        _require_suite()
    result = parse(text, SECTIONS[section])
    assert {
        "weightedLength": result.weighted_length,
        "valid": result.valid,
        "permillage": result.permillage,
        "displayRangeStart": result.display_range[0],
        "displayRangeEnd": result.display_range[1],
        "validRangeStart": result.valid_range[0],
        "validRangeEnd": result.valid_range[1],
    } == expected


def test_every_section_of_the_suite_has_cases():
    if not VALIDATE_YML.exists():
        _require_suite()
    suite = _load_suite()
    assert all(suite[section] for section in SECTIONS)


@pytest.mark.parametrize(("section", "text", "expected"), _cases(["urls_without_protocol"]))
def test_a_bare_domain_of_the_suite_is_one_whole_url(section, text, expected):
    if section is None:
        _require_suite()
    assert expected is True
    assert url_spans(text) == [(0, len(text))]


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("see https://stammtisch.app/menu.", ["https://stammtisch.app/menu"]),
        ("https://stammtisch.example is reserved, no TLD", []),
        ("(https://de.wikipedia.org/wiki/Stammtisch_(Brauch))", ["https://de.wikipedia.org/wiki/Stammtisch_(Brauch)"]),
        ("www.cafe-koenigsbau.de and cafe.com/karte?tag=heute", ["www.cafe-koenigsbau.de", "cafe.com/karte?tag=heute"]),
        ("bit.ly/abc but not cafe.de alone", ["bit.ly/abc"]),
        ("t.co and HTTP://EXAMPLE.COM", ["t.co", "HTTP://EXAMPLE.COM"]),
        ("write to alice@example.com", []),
        ("price $example.com #example.com", []),
        ("nice.tryhard and version 1.2.3", []),
        ("http://example.com:8080/path?q=1#top", ["http://example.com:8080/path?q=1#top"]),
        ("http://müller.de/ and http://☃.net", ["http://müller.de/", "http://☃.net"]),
    ],
)
def test_it_finds_urls_as_twitter_text_does(text, urls):
    assert [text[start:end] for start, end in url_spans(text)] == urls


def test_mastodon_style_finds_only_urls_with_a_protocol():
    text = "example.com or https://example.com"
    assert [text[start:end] for start, end in url_spans(text, without_protocol=False)] == ["https://example.com"]


def test_every_url_counts_23_however_long():
    short, long = "https://a.de", "https://example.com/" + "x" * 200
    assert twitter_text.weighted_length(short) == twitter_text.weighted_length(long) == 23


def test_an_emoji_sequence_counts_2_only_with_emoji_parsing():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    assert twitter_text.weighted_length(family, V3) == 2
    assert twitter_text.weighted_length(family, V2) == 11
    assert twitter_text.weighted_length("\U0001f1e9\U0001f1ea") == 2  # a flag
    assert twitter_text.weighted_length("\u00a9") == 1  # © written as text is no emoji


def test_the_tld_list_ships_with_the_package():
    assert twitter_text.TLD_FILE.is_relative_to(Path(twitter_text.__file__).resolve().parent)
    tlds = twitter_text.top_level_domains()
    assert {"com", "de", "app", "xn--mgbai9azgqp6j", "پاکستان"} <= tlds
