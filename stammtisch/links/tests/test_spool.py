"""The click spool: a click is in a file before its 302 goes out, survives a killed process and
is imported into the Click table once, however often the importer reads it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from stammtisch.core.models import Workspace
from stammtisch.links import spool, tracking
from stammtisch.links.models import Click, ShortLink
from stammtisch.links.tests.helpers import drain, make_link

UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


def record(link: ShortLink, uid: str) -> tuple[object, ...]:
    return (
        uid,
        link.pk,
        link.workspace_id,
        None,
        None,
        time.time(),
        "social.example",
        "desktop",
        "f" * 64,
        False,
        False,
    )


def test_a_click_survives_a_killed_web_process(cast, settings: Any) -> None:
    """The process appends the click, "sends" its 302 and is killed with SIGKILL at once: the
    click is in its spool file, the kernel released the file's lock, the import stores it."""
    link = make_link(cast)
    directory: Path = settings.CLICK_SPOOL_DIR
    lines = [spool.encode(record(link, f"dead{n}")).decode() for n in range(3)]
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from stammtisch.links import spool\n"
        f"for line in {lines!r}:\n"
        f"    spool.WRITER.append(line.encode(), Path({str(directory)!r}))\n"
        "    print('302 sent', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == -9 and done.stdout.count("302 sent") == 3
    assert drain() == 3
    assert sorted(Click.objects.values_list("uid", flat=True)) == ["dead0", "dead1", "dead2"]
    assert not list(directory.glob("*.clicks"))  # committed, so the file is gone


def test_a_file_still_being_written_is_imported_but_kept(cast, settings: Any) -> None:
    link = make_link(cast)
    resolved = tracking.resolve(link.code)
    assert resolved is not None
    first = tracking.record_click(resolved, ip="192.0.2.1", user_agent=UA)
    assert drain() == 1
    [live] = settings.CLICK_SPOOL_DIR.glob("*.clicks")  # its writer holds it: not deleted
    second = tracking.record_click(resolved, ip="192.0.2.2", user_agent=UA)
    assert drain() == 1  # only what is new
    assert spool.Importer().run(settings.CLICK_SPOOL_DIR) == 2  # another importer reads it all again...
    assert sorted(Click.objects.values_list("uid", flat=True)) == sorted([first, second])  # ...stored once
    spool.WRITER.close()  # the process stops writing (rotation, shutdown or death)
    assert drain() == 0 and not live.exists()


def test_files_rotate_and_finished_ones_are_deleted(cast, settings: Any, monkeypatch) -> None:
    monkeypatch.setattr(spool, "ROTATE_RECORDS", 2)
    link = make_link(cast)
    resolved = tracking.resolve(link.code)
    assert resolved is not None
    for n in range(5):
        tracking.record_click(resolved, ip=f"192.0.2.{n}", user_agent=UA)
    assert len(list(settings.CLICK_SPOOL_DIR.glob("*.clicks"))) == 3
    assert drain() == 5
    assert len(list(settings.CLICK_SPOOL_DIR.glob("*.clicks"))) == 1  # the one still open
    assert Click.objects.filter(link=link).count() == 5


def test_a_torn_last_line_and_garbage_are_skipped(cast, settings: Any, caplog) -> None:
    link = make_link(cast)
    directory: Path = settings.CLICK_SPOOL_DIR
    directory.mkdir(parents=True)
    good = spool.encode(record(link, "good1"))
    (directory / f"other.1.aa.000001{spool.SUFFIX}").write_bytes(good + b"not json\n" + good[:20])
    assert drain() == 2
    assert list(Click.objects.values_list("uid", flat=True)) == ["good1"]
    assert "no click record" in caplog.text and "unfinished last line" in caplog.text
    assert not list(directory.iterdir())


def test_clicks_of_a_deleted_link_are_dropped_and_a_deleted_post_is_left_empty(cast, settings) -> None:
    kept, gone = make_link(cast), make_link(cast)
    directory: Path = settings.CLICK_SPOOL_DIR
    directory.mkdir(parents=True)
    orphan = list(record(kept, "kept1"))
    orphan[3] = 999_999  # a post deleted meanwhile
    lines = spool.encode(tuple(orphan)) + spool.encode(record(gone, "gone1"))
    gone.delete()
    (directory / f"other.1.bb.000001{spool.SUFFIX}").write_bytes(lines)
    drain()
    assert list(Click.objects.values_list("uid", "post_id")) == [("kept1", None)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_each_spool_their_click() -> None:
    workspace = Workspace.objects.create(name="Spool", slug="spool")
    link = ShortLink.objects.create(workspace=workspace, target="https://example.org/")
    resolved = tracking.resolve(link.code)
    assert resolved is not None
    tracking.salt_of_today()  # the salt is read from the database once, before the threads
    made: list[str] = []
    lock = threading.Lock()

    def click(n: int) -> None:
        uid = tracking.record_click(resolved, ip=f"192.0.2.{n}", user_agent=UA)
        with lock:
            made.append(uid)

    threads = [threading.Thread(target=click, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert drain() == 20
    stored = Click.objects.filter(link=link)
    assert sorted(made) == sorted(stored.values_list("uid", flat=True))
    assert len(set(stored.values_list("visitor_hash", flat=True))) == 20


def test_a_spool_line_is_one_json_record() -> None:
    line = spool.encode(("u1", 1, 2, None, None, 1.5, "a\nb", "mobile", "h", False, True))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)[6] == "a\nb"
