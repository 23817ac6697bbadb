"""German and English are complete: every translatable string of the source has a German
translation in the committed catalogue, and the compiled catalogue matches it."""

from __future__ import annotations

import ast
import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2]
LOCALE = PACKAGE / "locale" / "de" / "LC_MESSAGES"


def parse_po(path: Path) -> dict[tuple[str, str], list[str]]:
    """(msgctxt, msgid) -> msgstr forms, for entries that are not obsolete; fuzzy ones get []."""
    entries: dict[tuple[str, str], list[str]] = {}
    fields: dict[str, str] = {}
    current: str | None = None
    fuzzy = False

    def flush() -> None:
        nonlocal fields, fuzzy
        if fields.get("msgid"):
            forms = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
            entries[(fields.get("msgctxt", ""), fields["msgid"])] = [] if fuzzy else forms
        fields, fuzzy = {}, False

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            current = None
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert current is not None
            fields[current] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            current = key
            fields[key] = ast.literal_eval(value)
    flush()
    return entries


def test_every_german_entry_is_translated() -> None:
    entries = parse_po(LOCALE / "django.po")
    missing = [msgid for (_, msgid), forms in entries.items() if not forms or not all(forms)]
    assert not missing, f"{len(missing)} untranslated or fuzzy German entries, e.g. {missing[:5]}"


def test_the_compiled_catalogue_matches_the_source() -> None:
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for (context, msgid), forms in parse_po(LOCALE / "django.po").items():
        if context:
            assert compiled.pgettext(context, msgid) == forms[0], msgid
        elif len(forms) == 1:
            assert compiled.gettext(msgid) == forms[0], f"django.mo is stale for {msgid!r}: run make messages"


def test_the_catalogue_holds_every_string_of_the_source(tmp_path: Path) -> None:
    if shutil.which("xgettext") is None:
        if os.environ.get("STAMMTISCH_CI") == "1":
            pytest.fail("xgettext (Debian package gettext) is required in CI")
        pytest.skip("xgettext is missing (apt-get install gettext): cannot extract strings")
    copy = tmp_path / "stammtisch"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "tests", "vendor", "*.mo"))
    # Settings that point makemessages at the copy, so the real catalogue is never touched.
    (tmp_path / "i18n_settings.py").write_text(
        f"from stammtisch.settings import *  # noqa\nLOCALE_PATHS = [{str(copy / 'locale')!r}]\n"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="i18n_settings", PYTHONPATH=str(tmp_path))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "makemessages",
            "-l",
            "de",
            "--no-location",
            "-i",
            "static/*",
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    # The copy's catalogue is the committed one merged with what the source holds now.
    merged = parse_po(copy / "locale" / "de" / "LC_MESSAGES" / "django.po")
    missing = [msgid for (_, msgid), forms in merged.items() if not forms or not all(forms)]
    assert not missing, f"{len(missing)} strings lack a German translation (make messages): {missing[:8]}"
