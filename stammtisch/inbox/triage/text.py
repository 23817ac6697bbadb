"""Cleaning and feature extraction, shared by training and inference (so both see the same tokens).

`clean()` makes any input safe to analyse: HTML tags and entities, control characters and
oversized texts are dealt with here, so nothing later can raise on bad input. `features()` turns a
cleaned text into the tokens of the linear models: word unigrams and bigrams plus character
n-grams (2 to 4) inside word boundaries, the TF-IDF recipe the issue measured.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata

# Only the start of a very long text is analysed: a comment of 50,000 characters says what it is
# about in its first few thousand, and the cost stays bounded.
MAX_CHARS = 2_000
RAW_MAX_CHARS = 20_000

_TAG = re.compile(r"<[^>]{0,500}>")
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|de|net|org|ly|io|co|info|biz)(?:/\S*)?\b", re.I)
_MENTION = re.compile(r"@\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?|[!?]|\d+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def clean(text: object) -> str:
    """Plain text with entities decoded, tags, control and format characters removed, spaces collapsed."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text[:RAW_MAX_CHARS]
    text = html.unescape(_TAG.sub(" ", text))
    if not text.isprintable():  # control, format, surrogate, private-use and separator characters
        text = "".join(" " if unicodedata.category(ch) in _INVISIBLE else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def normalise(text: str) -> str:
    """Lower case, with links, mentions and numbers replaced by placeholders (input of the models)."""
    text = text[:MAX_CHARS]
    text = _URL.sub(" xurlx ", text)
    text = _MENTION.sub(" xuserx ", text)
    text = _NUMBER.sub("0", text)
    return _SPACES.sub(" ", text.lower()).strip()


def words(normalised: str) -> list[str]:
    return _WORD.findall(normalised)


def features(text: str) -> list[str]:
    """The tokens of one cleaned text: `w:` words, `b:` word pairs, `c:` character n-grams."""
    tokens = words(normalise(text))
    out = [f"b:{first} {second}" for first, second in itertools.pairwise(tokens)]
    for token in tokens:
        out += word_features(token)
    return out


def word_features(token: str) -> list[str]:
    """The features one word contributes on its own: itself and its character 2- to 4-grams."""
    out = [f"w:{token}"]
    if len(token) == 1 and not token.isalpha():
        return out
    padded = f" {token} "
    size = len(padded)
    for n in (2, 3, 4):
        out += [f"c:{padded[i : i + n]}" for i in range(size - n + 1)]
    return out
