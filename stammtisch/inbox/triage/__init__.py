"""Offline triage of a comment or message: language, sentiment and intent, each with a confidence.

    >>> from stammtisch.inbox.triage import triage
    >>> result = triage("Was kostet das Frühstück am Sonntag?")
    >>> result.language, result.intent
    ('de', 'purchase_interest')

A plain package (no models in the database): the shipped linear model (`data/model.npz`, numpy
only, loaded once per process) gives language (de/en), sentiment, complaint and spam
probabilities; rules (`rules.py`) add "other" languages, questions, purchase interest, German
complaints and praise. With the e5 extra and STAMMTISCH_TRIAGE_MODEL=e5, sentiment comes from an
embedding head stacked on the linear model (`e5.py`). Any input is accepted: HTML, control
characters, emoji only, empty, very long (only the start is read). docs/triage.md has the sources,
training and measured quality.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import e5, rules
from .model import default_model
from .text import MAX_CHARS, clean, normalise, words

LANGUAGES = ("de", "en", "other")
SENTIMENTS = ("positive", "neutral", "negative")
INTENTS = ("question", "complaint", "praise", "purchase_interest", "spam", "other")

# An intent wins when its score reaches this; the first in this order wins ties of purpose (a
# spam message asking a question is spam; a complaint about an order is a complaint).
INTENT_THRESHOLD = 0.5
INTENT_PRIORITY = ("spam", "complaint", "purchase_interest", "question", "praise")
FUNCTION_WORD_WEIGHT = 1.0
UMLAUT_WEIGHT = 0.7
# Each praise or complaint word (two at most) multiplies the odds of positive or negative by this
# factor in texts up to LEXICON_MAX_CHARS. The German model learnt from railway texts with few
# positive ones and calls "Einfach wunderbar, vielen Dank!" neutral; the lexicon costs 0.011
# macro-F1 on that railway dev split (0.601 -> 0.591) and is worth it for comments.
LEXICON_FACTOR = {False: 2.0, True: 3.0}  # {is German: factor}
LEXICON_MAX_CHARS = 200  # comments; longer texts give the model enough words
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n")


@dataclass(frozen=True)
class Triage:
    language: str
    sentiment: str
    intent: str
    confidence: float  # the lowest of the three confidences below
    language_confidence: float
    sentiment_confidence: float
    intent_confidence: float
    sentiment_scores: dict[str, float] = field(default_factory=dict)
    intent_scores: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def triage(text: object) -> Triage:
    """Triage one text. Never raises on odd input: anything that is not a string is turned into one."""
    cleaned = clean(text)[:MAX_CHARS]  # the start of a very long text says what it is about
    model = default_model()
    scores = model.scores(cleaned) if cleaned else None
    if scores is not None and (e5_head := e5.active_head()) is not None:
        scores = e5_head.refine(cleaned, scores)  # STAMMTISCH_TRIAGE_MODEL=e5: sentiment from the e5 head
    tokens = words(normalise(cleaned))
    lowered = cleaned.lower()

    language, language_confidence = _language(cleaned, tokens, scores)
    sentiment_scores = _sentiment(lowered, language, scores)
    sentiment = max(sentiment_scores, key=lambda label: sentiment_scores[label])
    intent_scores = _intent_scores(cleaned, lowered, language, sentiment_scores, scores)
    intent, intent_confidence = _intent(intent_scores)
    return Triage(
        language=language,
        sentiment=sentiment,
        intent=intent,
        confidence=round(min(language_confidence, sentiment_scores[sentiment], intent_confidence), 4),
        language_confidence=round(language_confidence, 4),
        sentiment_confidence=round(sentiment_scores[sentiment], 4),
        intent_confidence=round(intent_confidence, 4),
        sentiment_scores={label: round(value, 4) for label, value in sentiment_scores.items()},
        intent_scores={label: round(value, 4) for label, value in intent_scores.items()},
    )


def triage_batch(texts: Iterable[object]) -> list[Triage]:
    return [triage(text) for text in texts]


def _language(cleaned: str, tokens: list[str], scores: dict[str, dict[str, float]] | None) -> tuple[str, float]:
    letters, latin = rules.latin_share(cleaned)
    if scores is None or letters < 3:
        return "other", 0.9
    if latin < 0.5:  # Cyrillic, Arabic, CJK...: neither German nor English
        return "other", 0.95
    hits = rules.function_word_hits(tokens)
    known = max(hits["de"], hits["en"])
    foreign = max(count for language, count in hits.items() if language not in ("de", "en"))
    if foreign >= 2 and foreign > known + 1:
        return "other", min(0.95, 0.6 + 0.1 * (foreign - known))
    # The model learnt German from train-company texts: common function words and umlauts help it
    # on short everyday sentences ("Heute ist Montag.").
    german = scores["language"]["de"]
    odds = math.log(max(german, 1e-6) / max(1.0 - german, 1e-6))
    odds += FUNCTION_WORD_WEIGHT * (hits["de"] - hits["en"])
    odds += UMLAUT_WEIGHT * min(3, sum(cleaned.count(ch) for ch in "äöüßÄÖÜ"))
    german = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, odds))))
    return ("de", german) if german >= 0.5 else ("en", 1.0 - german)


def _sentiment(lowered: str, language: str, scores: dict[str, dict[str, float]] | None) -> dict[str, float]:
    positive_emoji, negative_emoji = rules.emoji_balance(lowered)
    if scores is None or not any(ch.isalpha() for ch in lowered):
        # No words: emoji alone decide ("😍😍" is positive, "👍" barely, "..." neutral).
        probabilities = {"positive": 0.6 * positive_emoji, "neutral": 0.5, "negative": 0.6 * negative_emoji}
    else:
        head = "sentiment_de" if language == "de" else "sentiment_en"
        probabilities = dict(scores[head])
        # Praise and complaint words, and emoji, shift the odds the word model gives.
        factor = LEXICON_FACTOR[language == "de"] if len(lowered) <= LEXICON_MAX_CHARS else 1.0
        probabilities["positive"] *= factor ** min(2, len(rules.PRAISE.findall(lowered)))
        probabilities["negative"] *= factor ** min(2, len(rules.COMPLAINT.findall(lowered)))
        probabilities["positive"] *= 1.0 + 1.5 * positive_emoji
        probabilities["negative"] *= 1.0 + 1.5 * negative_emoji
    total = sum(probabilities.values())
    return {label: probabilities[label] / total for label in SENTIMENTS}


def _intent_scores(
    cleaned: str,
    lowered: str,
    language: str,
    sentiment: dict[str, float],
    scores: dict[str, dict[str, float]] | None,
) -> dict[str, float]:
    spam_model = scores["spam"]["spam"] if scores else 0.0
    complaint_model = scores["complaint"]["complaint"] if scores and language == "en" else 0.0
    has_url = bool(rules.URL.search(cleaned))
    out = {intent: 0.0 for intent in INTENTS if intent != "other"}

    spam = 0.9 if rules.SPAM.search(lowered) else 0.0
    if spam_model >= 0.85 or (has_url and spam_model >= 0.5):
        spam = max(spam, spam_model)
    out["spam"] = spam

    complaint = 0.0
    if rules.COMPLAINT.search(lowered):
        complaint = 0.6 + 0.3 * sentiment["negative"] + 0.1 * complaint_model
    if sentiment["positive"] < 0.5 and complaint_model >= 0.6:
        complaint = max(complaint, complaint_model)
    out["complaint"] = min(complaint, 0.99)

    if rules.PURCHASE.search(lowered):
        out["purchase_interest"] = 0.85 if "?" in cleaned else 0.7

    first = cleaned.split("?")[0] if "?" in cleaned else cleaned
    sentences = [part.strip().lower() for part in _SENTENCE_END.split(cleaned) if part.strip()]
    if "?" in cleaned and any(ch.isalpha() for ch in first):
        out["question"] = 0.9
    elif any(rules.QUESTION_START.search(sentence) and not sentence.endswith("!") for sentence in sentences):
        out["question"] = 0.65

    if rules.PRAISE.search(lowered) and sentiment["negative"] < 0.5:
        out["praise"] = 0.55 + 0.4 * sentiment["positive"]
    elif sentiment["positive"] >= 0.75:
        out["praise"] = 0.5 + 0.2 * sentiment["positive"]
    return out


def _intent(intent_scores: dict[str, float]) -> tuple[str, float]:
    for intent in INTENT_PRIORITY:
        if intent_scores[intent] >= INTENT_THRESHOLD:
            return intent, intent_scores[intent]
    strongest = max(intent_scores.values(), default=0.0)
    return "other", 1.0 - strongest / 2


__all__ = ["INTENTS", "LANGUAGES", "SENTIMENTS", "Triage", "triage", "triage_batch"]
