"""The one place the inbox calls the offline triage (stammtisch/inbox/triage, its own package).

Imported lazily, so the inbox works, with empty labels, when the triage package is missing or
fails on a text: ingestion must never stop because a label could not be computed.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

LANGUAGES = ("de", "en", "other")
SENTIMENTS = ("positive", "neutral", "negative")
INTENTS = ("question", "complaint", "praise", "purchase_interest", "spam", "other")


@dataclass(frozen=True)
class Labels:
    language: str = ""
    sentiment: str = ""
    intent: str = ""
    confidence: float | None = None


EMPTY = Labels()
_missing = object()
_triage: Any = _missing


def _function() -> Callable[[str], Any] | None:
    global _triage
    if _triage is _missing:
        try:
            _triage = getattr(importlib.import_module("stammtisch.inbox.triage"), "triage", None)
        except Exception:
            log.warning("triage is not available; messages are stored without labels", exc_info=True)
            _triage = None
    return _triage if callable(_triage) else None


def _field(result: Any, name: str) -> Any:
    return result.get(name) if isinstance(result, dict) else getattr(result, name, None)


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    return value if isinstance(value, str) and value in allowed else ""


def triage(text: str) -> Labels:
    """Language, sentiment, intent and confidence of `text`; empty labels if triage is not
    available or fails (logged)."""
    function = _function()
    if function is None or not text.strip():
        return EMPTY
    try:
        result = function(text)
    except Exception:
        log.exception("triage failed on a text of %d characters", len(text))
        return EMPTY
    confidence = _field(result, "confidence")
    return Labels(
        language=_choice(_field(result, "language"), LANGUAGES),
        sentiment=_choice(_field(result, "sentiment"), SENTIMENTS),
        intent=_choice(_field(result, "intent"), INTENTS),
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
    )


def reset() -> None:
    """Forget the imported function (tests)."""
    global _triage
    _triage = _missing
