from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stammtisch.links import spool, tracking


@pytest.fixture(autouse=True)
def _fresh_link_memory(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Links and the day's salt are kept in process memory; every test starts without them and
    spools its clicks into a directory of its own (import them with `helpers.drain()`)."""
    tracking.forget_all()
    tracking.forget_salt()
    settings.CLICK_SPOOL_DIR = tmp_path / "clicks"
    yield
    spool.WRITER.close()
