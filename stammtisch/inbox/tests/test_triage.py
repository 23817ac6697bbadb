"""The triage API: obvious cases per label, the shipped model, and bad input that must never raise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stammtisch.inbox.triage import INTENTS, LANGUAGES, SENTIMENTS, Triage, evaluate, triage, triage_batch
from stammtisch.inbox.triage.model import DATA_DIR, default_model


def assert_valid(result: Triage) -> None:
    assert result.language in LANGUAGES
    assert result.sentiment in SENTIMENTS
    assert result.intent in INTENTS
    for value in (result.confidence, result.language_confidence, result.sentiment_confidence, result.intent_confidence):
        assert 0.0 <= value <= 1.0
    assert result.confidence == min(result.language_confidence, result.sentiment_confidence, result.intent_confidence)
    assert sum(result.sentiment_scores.values()) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Wie lange habt ihr heute geöffnet? Wir würden gern mit den Kindern vorbeikommen.", "de"),
        ("Vielen Dank für den schönen Abend, wir kommen bestimmt wieder!", "de"),
        ("Thanks for the lovely evening, we will definitely come back!", "en"),
        ("Is the new collection also available in the shop downtown?", "en"),
        ("Привет, как дела? Очень вкусно!", "other"),
        ("東京でのイベントはいつですか", "other"),
        ("Bonjour, vous êtes ouverts le dimanche ? Merci beaucoup", "other"),
        ("🎉🎉🎉", "other"),
    ],
)
def test_it_tells_the_language(text: str, language: str) -> None:
    assert triage(text).language == language


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("I absolutely love this place, the best cake ever!", "positive"),
        ("Einfach wunderbar, vielen Dank an das ganze Team!", "positive"),
        ("This is the worst service I have ever had, absolutely terrible.", "negative"),
        ("Unverschämt, schon wieder kalt und total unfreundliche Bedienung.", "negative"),
        ("The shop is on Königstraße 12.", "neutral"),
    ],
)
def test_it_tells_obvious_sentiment(text: str, sentiment: str) -> None:
    assert triage(text).sentiment == sentiment


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Was kostet die Torte für 12 Personen?", "purchase_interest"),
        ("Kann man bei euch für Freitag reservieren?", "purchase_interest"),
        ("How much are the jeans in the picture?", "purchase_interest"),
        ("When do you open on Sunday?", "purchase_interest"),
        ("Wer hat das Foto gemacht?", "question"),
        ("Is the terrace dog friendly?", "question"),
        ("Wo ist denn der Eingang", "question"),
        ("Leider war der Kaffee kalt und wir haben ewig gewartet.", "complaint"),
        ("My order never arrived and nobody answers my emails. Unacceptable.", "complaint"),
        ("Super lecker, danke!", "praise"),
        ("Love it, great job!", "praise"),
        ("Check out my channel for free followers!! http://bit.ly/abc", "spam"),
        ("Make $500 a day from home with bitcoin, DM me", "spam"),
        ("@lena schau mal", "other"),
    ],
)
def test_it_tells_obvious_intents(text: str, intent: str) -> None:
    result = triage(text)
    assert result.intent == intent, result
    assert result.intent_scores.get(intent, result.intent_confidence) >= 0.5


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😀😀😀🔥",
        "x" * 50_000,
        "Kaffee " * 10_000,
        "Der Kuchen war super, but the coffee was cold. Trotzdem danke!",
        '<p onclick="x()">Hallo <b>Welt</b><script>alert(1)</script><img src=x onerror=alert(1)></p>',
        "Hallo\x00\x01\x07\x1b[31m Welt\u202e\ufeff\u200b\ud800 ende",
        "&lt;&amp;&#0;&#xD800;&#1114112;",
        "\u0000" * 100,
        "?!?!?!",
        "http://example.com",
        None,
        12345,
        b"bytes",
    ],
)
def test_bad_input_never_raises(text: object) -> None:
    result = triage(text)
    assert_valid(result)


def test_empty_and_emoji_only_texts_are_other() -> None:
    assert triage("").language == "other"
    assert triage("").intent == "other"
    assert triage("").sentiment == "neutral"
    assert triage("😍😍").sentiment == "positive"
    assert triage("😡👎").sentiment == "negative"


def test_html_is_read_as_text() -> None:
    assert triage("<p>Was <b>kostet</b> der Kuchen?</p>").intent == "purchase_interest"


def test_a_very_long_text_is_cut_and_fast(benchmark_budget: float = 1.0) -> None:
    import time

    started = time.process_time()
    result = triage("Das Frühstück war großartig. " * 2_000)
    assert time.process_time() - started < benchmark_budget
    assert result.language == "de"


def test_batch_matches_single_calls() -> None:
    texts = ["Was kostet das?", "I love it", ""]
    assert triage_batch(texts) == [triage(text) for text in texts]


def test_the_shipped_model_is_small_and_consistent() -> None:
    size = sum(path.stat().st_size for path in DATA_DIR.glob("model.*"))
    assert size < 5_000_000
    model = default_model()
    meta = json.loads((DATA_DIR / "model.json").read_text(encoding="utf-8"))
    assert [head["name"] for head in meta["heads"]] == list(model.slices)
    scores = model.scores("Die Bahn ist wieder zu spät, unglaublich.")
    assert set(scores) == {"sentiment_de", "sentiment_en", "language", "complaint", "spam"}
    for probabilities in scores.values():
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)


def test_the_labelled_sample_is_well_formed() -> None:
    rows = [json.loads(line) for line in evaluate.SAMPLE.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 60
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert row["intent"] in INTENTS and row["sentiment"] in SENTIMENTS and row["language"] in LANGUAGES
    assert {row["intent"] for row in rows} == set(INTENTS)


def test_sample_scores_are_far_better_than_chance() -> None:
    # The figures in docs/triage.md; a guard against a broken model or rule, not a tuned target.
    scores = evaluate.sample_scores()
    assert scores["intent"]["accuracy"] >= 0.6
    assert scores["language"]["accuracy"] >= 0.9


def test_macro_f1() -> None:
    assert evaluate.macro_f1(["a", "b"], ["a", "b"]) == 1.0
    assert evaluate.macro_f1(["a", "a", "b", "b"], ["a", "a", "a", "a"]) == pytest.approx((2 / 3 + 0) / 2)


def test_model_files_live_in_the_package() -> None:
    assert (Path(__file__).resolve().parents[1] / "triage" / "data" / "model.npz").exists()
