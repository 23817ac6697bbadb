"""Readers for the labelled public data in `../shared/data/triage/` (training and the benchmark only).

The app never needs these files: the trained model ships in `data/`. Only the files present in that
folder are read (the rest of each source is held back for evaluation by others). Each text goes to
our train or dev split by a hash of its text, so the split is stable, needs no random state and a
text that occurs twice lands on the same side.
"""

from __future__ import annotations

import csv
import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .text import clean

DEV_PERCENT = 20


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str

    @property
    def split(self) -> str:
        return split_of(self.text)


def split_of(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "dev" if int.from_bytes(digest[:4], "big") % 100 < DEV_PERCENT else "train"


def default_data_dir() -> Path:
    """`$STAMMTISCH_SHARED_DIR/data/triage`, else `../shared/data/triage` beside the checkout."""
    shared = os.environ.get("STAMMTISCH_SHARED_DIR") or Path(__file__).resolve().parents[4] / "shared"
    return Path(shared) / "data" / "triage"


def missing_parts(data_dir: Path) -> list[str]:
    wanted = ["germeval2017", "tweeteval_sentiment", "complaints", "youtube_spam"]
    return [name for name in wanted if not (data_dir / name).is_dir()]


def germeval(data_dir: Path) -> list[Example]:
    """German sentiment (GermEval 2017, Deutsche Bahn): tweets, news and forum texts."""
    out = []
    for path in sorted((data_dir / "germeval2017").glob("*.xml")):
        root = ET.parse(path).getroot()  # noqa: S314 - a local, read-only data file of a known source
        for doc in root.iter("Document"):
            text = clean(doc.findtext("text") or "")
            label = (doc.findtext("sentiment") or "").strip()
            if text and label in ("negative", "neutral", "positive"):
                kind = "tweet" if "twitter.com" in (doc.get("id") or "") else "web"
                out.append(Example(text, label, f"germeval:{kind}"))
    return out


def tweeteval(data_dir: Path) -> list[Example]:
    """English sentiment (TweetEval): the `val_*` and `test_part1_*` files."""
    folder = data_dir / "tweeteval_sentiment"
    names = {"0": "negative", "1": "neutral", "2": "positive"}
    out = []
    for stem in ("val", "test_part1"):
        texts = (folder / f"{stem}_text.txt").read_text(encoding="utf-8").splitlines()
        labels = (folder / f"{stem}_labels.txt").read_text(encoding="utf-8").splitlines()
        for text, label in zip(texts, labels, strict=True):
            cleaned = clean(text)
            if cleaned and label.strip() in names:
                out.append(Example(cleaned, names[label.strip()], "tweeteval"))
    return out


def complaints(data_dir: Path) -> list[Example]:
    """English tweets to brands, complaint or not (Preotiuc-Pietro et al. 2019)."""
    out = []
    for path in sorted((data_dir / "complaints").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                if len(row) >= 3 and row[2] in ("0", "1"):
                    out.append(Example(clean(row[1]), "complaint" if row[2] == "1" else "no", "complaints"))
    return [example for example in out if example.text]


def youtube_spam(data_dir: Path) -> list[Example]:
    """YouTube comments, spam or not (YouTube Spam Collection)."""
    out = []
    for path in sorted((data_dir / "youtube_spam").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                text = clean(row.get("CONTENT") or "")
                label = (row.get("label") or row.get("CLASS") or "").strip()
                if text and label in ("0", "1"):
                    out.append(Example(text, "spam" if label == "1" else "no", "youtube"))
    return out
