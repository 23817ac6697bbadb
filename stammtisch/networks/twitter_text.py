"""How X counts a post: the weighted length of twitter-text v3, written from its public rules.

X does not count characters. Every code point has a weight (config `ranges`: Latin, general
punctuation and the like weigh 100, everything else `default_weight` 200); `scale` 100 turns the
sum into "characters", so a CJK character or an emoji counts 2 of the 280. Before counting, the
text is normalised to NFC. Every URL, written with or without `https://`, counts as
`transformed_url_length` (23) whatever its length, because X shortens it to a t.co link. With
`emoji_parsing` (v3), a whole emoji sequence (family, flag, skin tone, keycap) counts as one
default weight: 2. U+FFFE, U+FEFF and U+FFFF make a text invalid.

The conformance suite of twitter-text (`validate.yml`, sections `WeightedTweetsCounterTest`,
`WeightedTweetsWithDiscountedEmojiCounterTest`, `UnicodeDirectionalMarkerCounterTest`) is the
judge: `tests/test_twitter_text.py` runs every case. The first section is written for the v2
configuration, which is v3 without emoji parsing (`V2` below).

What counts as a URL follows twitter-text's extractor:
* `http://` or `https://` and a host whose last label is a top-level domain of IANA's list
  (`data/tlds-alpha-by-domain.txt`; IDN labels in Unicode or as `xn--`);
* or a bare ASCII host (`example.com`, `www.example.de`, `t.co`): a generic TLD, or a country TLD
  with a subdomain, or `.co`/`.tv`, or a country TLD directly followed by a path (`bit.ly/x`);
* not preceded by a letter, digit, `@`, `$` or `#` (nor by `-_./` without a protocol);
* labels of 1 to 63 characters (63 also in the punycode form), no leading or trailing `-`/`_`,
  `_` only in subdomains;
* then an optional port, a path and a query whose last character must be one a URL can end
  with (so a full stop or a closing bracket after a link is not part of it).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import regex

TLD_FILE = Path(__file__).resolve().parent / "data" / "tlds-alpha-by-domain.txt"
INVALID_CHARACTERS = frozenset("\ufffe\ufeff\uffff")


@dataclass(frozen=True)
class WeightRange:
    start: int
    end: int  # inclusive
    weight: int


@dataclass(frozen=True)
class Config:
    """twitter-text's config/v3.json (numbers unchanged)."""

    max_weighted_length: int = 280
    scale: int = 100
    default_weight: int = 200
    transformed_url_length: int = 23
    emoji_parsing: bool = True
    ranges: tuple[WeightRange, ...] = (
        WeightRange(0, 4351, 100),  # Latin, Greek, Cyrillic, Hebrew, Arabic, Indic, Thai, ...
        WeightRange(8192, 8205, 100),  # U+2000..U+200D: spaces, zero-width joiners
        WeightRange(8208, 8223, 100),  # U+2010..U+201F: dashes and quotation marks
        WeightRange(8242, 8247, 100),  # U+2032..U+2037: primes
    )


V3 = Config()
V2 = replace(V3, emoji_parsing=False)  # config/v2.json: the same numbers, no emoji discount


@dataclass(frozen=True)
class ParseResult:
    """Field for field twitter-text's parse result. Ranges are inclusive UTF-16 offsets into the
    text as given: `display_range` is the whole text, `valid_range` the part within the limit."""

    weighted_length: int
    valid: bool
    permillage: int
    display_range: tuple[int, int]
    valid_range: tuple[int, int]


def parse(text: str, config: Config = V3) -> ParseResult:
    if not text:
        return ParseResult(0, False, 0, (0, 0), (0, 0))
    normalized = unicodedata.normalize("NFC", text)
    # start index -> (end index, weight) of every unit that is weighed as a whole
    units: dict[int, tuple[int, int]] = {}
    for start, end in url_spans(normalized):
        units[start] = (end, config.transformed_url_length * config.scale)
    if config.emoji_parsing:
        taken = {i for start, (end, _w) in units.items() for i in range(start, end)}
        for start, end in emoji_spans(normalized):
            if taken.isdisjoint(range(start, end)):
                units[start] = (end, config.default_weight)

    limit = config.max_weighted_length * config.scale
    weighted = offset = valid_offset = 0
    has_invalid = False
    index = 0
    while index < len(normalized):
        if index in units:
            end, weight = units[index]
        else:
            end, weight = index + 1, _weight(ord(normalized[index]), config)
            has_invalid = has_invalid or normalized[index] in INVALID_CHARACTERS
        weighted += weight
        offset += _utf16_length(normalized[index:end])
        if not has_invalid and weighted <= limit:
            valid_offset = offset
        index = end

    length = weighted // config.scale
    # Offsets were counted in the normalised text; like twitter-text, shift them by the difference.
    shift = _utf16_length(text) - offset
    return ParseResult(
        weighted_length=length,
        valid=not has_invalid and length <= config.max_weighted_length,
        permillage=length * 1000 // config.max_weighted_length,
        display_range=(0, offset + shift - 1),
        valid_range=(0, valid_offset + shift - 1),
    )


def weighted_length(text: str, config: Config = V3) -> int:
    return parse(text, config).weighted_length


def _weight(code_point: int, config: Config) -> int:
    for each in config.ranges:
        if each.start <= code_point <= each.end:
            return each.weight
    return config.default_weight


def _utf16_length(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


# --- emoji ------------------------------------------------------------------------------------

# One element of a sequence: a base with skin tone, anything emoji with VS16, or a pictograph.
_EMOJI_ELEMENT = r"(?:\p{Emoji_Modifier_Base}\p{Emoji_Modifier}|\p{Emoji}\uFE0F|\p{Extended_Pictographic})"
_EMOJI_SEQUENCE = regex.compile(
    rf"""
    [0-9#*]\uFE0F?\u20E3                                            # keycap: 1️⃣, also without VS16
    | \p{{Regional_Indicator}}{{2}}                                 # flag: 🇩🇪
    | \p{{Extended_Pictographic}}[\U000E0020-\U000E007E]+\U000E007F  # tag sequence: 🏴󠁧󠁢󠁳󠁣󠁴󠁿
    | {_EMOJI_ELEMENT}(?:\u200D{_EMOJI_ELEMENT})*                   # ZWJ sequence or one element
    """,
    regex.VERBOSE,
)


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """Emoji sequences of more than one code point (a single code point is weighed on its own:
    emoji outside the light ranges weigh 2 anyway, and ©, ® written as text stay 1)."""
    return [match.span() for match in _EMOJI_SEQUENCE.finditer(text) if match.end() - match.start() > 1]


# --- URLs -------------------------------------------------------------------------------------


@cache
def top_level_domains() -> frozenset[str]:
    """IANA's list, lower case, each IDN both as `xn--...` and in Unicode."""
    names: set[str] = set()
    for line in TLD_FILE.read_text(encoding="ascii").splitlines():
        name = line.strip().lower()
        if not name or name.startswith("#"):
            continue
        names.add(name)
        if name.startswith("xn--"):
            names.add(name[4:].encode("ascii").decode("punycode"))
    return frozenset(names)


# Two-letter country TLDs that twitter-text accepts in a bare domain without a subdomain (t.co).
SPECIAL_COUNTRY_TLDS = frozenset({"co", "tv"})

# Characters of a Unicode host label: not a space, not punctuation, not a format character.
_UNICODE_HOST_CHAR = r"[^\s\p{Z}\p{P}\p{Cc}\p{Cf}\p{Cs}\u2000-\u206F\uFFFE\uFFFF!-/:-@\[-`{-~]"
_CANDIDATE = regex.compile(
    rf"(?P<protocol>https?://)(?P<host>(?:{_UNICODE_HOST_CHAR}|[-_.])+)|(?P<bare>[a-z0-9][a-z0-9_.\-]*)",
    regex.IGNORECASE,
)
_ASCII_LABEL = regex.compile(r"[a-z0-9](?:[a-z0-9_\-]*[a-z0-9])?", regex.IGNORECASE)
_UNICODE_LABEL = regex.compile(rf"{_UNICODE_HOST_CHAR}(?:(?:{_UNICODE_HOST_CHAR}|[-_])*{_UNICODE_HOST_CHAR})?")
# Never before a URL; without a protocol not after `-_./` either (the end of another URL or path).
_INVALID_BEFORE = regex.compile(r"[a-z0-9@\uFF20$#\uFF03\uFFFE\uFEFF\uFFFF]", regex.IGNORECASE)
_INVALID_BEFORE_BARE = regex.compile(r"[-_./]")

_LATIN = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    "\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = "\u0400-\u04ff"
_PATH_CHAR = rf"[a-z0-9{_LATIN}{_CYRILLIC}!*';:=+,.$/%#\[\]\-\u2013_~|&@]"
_PATH_END = rf"[a-z0-9{_LATIN}{_CYRILLIC}=_#/\-+]"
_PARENS = rf"\((?:{_PATH_CHAR}|\({_PATH_CHAR}*\))*\)"  # balanced, one level deep: /wiki/Foo_(bar)
_QUERY_CHAR = r"[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@]"
_QUERY_END = r"[a-z0-9\-_&=#/]"
_AFTER_HOST = regex.compile(
    rf"(?::[0-9]+)?(?:/(?:(?:{_PATH_CHAR}|{_PARENS})*(?:{_PATH_END}|{_PARENS}))?)?(?:\?{_QUERY_CHAR}*{_QUERY_END})?",
    regex.IGNORECASE,
)


def url_spans(text: str, *, without_protocol: bool = True) -> list[tuple[int, int]]:
    """(start, end) of every URL in `text`, as X (and, `without_protocol=False`, Mastodon) sees them."""
    spans: list[tuple[int, int]] = []
    position = 0
    while (match := _CANDIDATE.search(text, position)) is not None:
        start = match.start()
        before = text[start - 1] if start else ""
        protocol = match.group("protocol") is not None
        host_start = match.start("host") if protocol else start
        run = match.group("host") if protocol else match.group("bare")
        host_length = 0
        if not (before and _INVALID_BEFORE.match(before)) and (
            protocol or (without_protocol and not (before and _INVALID_BEFORE_BARE.match(before)))
        ):
            host_length = _host_length(text, host_start, run, protocol)
        if host_length:
            after = _AFTER_HOST.match(text, host_start + host_length)
            end = after.end() if after else host_start + host_length
            spans.append((start, end))
            position = end
        else:
            # A failed `http://...` may still hold a bare domain; a failed bare run cannot.
            position = start + 1 if protocol else match.end()
    return spans


def _host_length(text: str, host_start: int, run: str, protocol: bool) -> int:
    """Length of the longest valid host at the start of `run` (labels and dots), or 0."""
    labels = run.split(".")
    for count in range(len(labels), 1, -1):
        host = labels[:count]
        end = host_start + len(".".join(host))
        following = text[end] if end < len(text) else ""
        if following in ("@", "+"):
            continue
        if _valid_host(host, protocol, followed_by_path=following == "/"):
            return end - host_start
    return 0


def _valid_host(labels: list[str], protocol: bool, *, followed_by_path: bool) -> bool:
    tld = labels[-1].lower()
    if tld not in top_level_domains():
        return False
    label_pattern = _UNICODE_LABEL if protocol else _ASCII_LABEL
    for position, label in enumerate(labels[:-1]):
        is_domain_name = position == len(labels) - 2
        if not label_pattern.fullmatch(label) or (is_domain_name and "_" in label):
            return False
        if len(label) > 63 or len(_ascii_label(label)) > 63:
            return False
    if len(".".join(_ascii_label(label) for label in labels)) > 253:
        return False
    is_country = len(tld) == 2 and tld.isascii()
    if not protocol and is_country and len(labels) == 2:
        return tld in SPECIAL_COUNTRY_TLDS or followed_by_path
    return True


def _ascii_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return "xn--" + label.lower().encode("punycode").decode("ascii")
    except UnicodeError:  # pragma: no cover - punycode encodes every str
        return label
