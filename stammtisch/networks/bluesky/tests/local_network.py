"""The `atproto_network` fixture: a real, local AT Protocol network (PLC directory, PDS, Bluesky
AppView from the official @atproto/dev-env) for the whole test session, started on 127.0.0.1 by
stammtisch/devtools/atproto and stopped at the end.

Without Node 22 and the installed packages (`make atproto`) the tests that use it skip with one
line saying so; with STAMMTISCH_REQUIRE_ATPROTO=1 or STAMMTISCH_CI=1 (both set by .ci/run) that
is a failure instead. Test modules import the fixture from here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from stammtisch.devtools.atproto import network
from stammtisch.devtools.atproto.network import LocalNetwork


def required() -> bool:
    return os.environ.get("STAMMTISCH_REQUIRE_ATPROTO") == "1" or os.environ.get("STAMMTISCH_CI") == "1"


def unavailable(reason: str) -> None:
    if required():
        pytest.fail(
            f"the local AT Protocol network is required (STAMMTISCH_REQUIRE_ATPROTO=1 or STAMMTISCH_CI=1) but "
            f"{reason}; `make atproto` installs what it needs"
        )
    pytest.skip(f"Bluesky real-network tests skipped: {reason}; `make atproto` installs what they need")


@pytest.fixture(scope="session")
def atproto_network() -> Iterator[LocalNetwork]:
    reason = network.missing()
    if reason:
        unavailable(reason)
    server = network.postgres_server()
    if server is None:
        unavailable("no PostgreSQL server answers for the AppView (set STAMMTISCH_TEST_DATABASE_URL)")
        return
    try:
        with network.running(server) as running:
            yield running
    except network.SetupError as error:
        pytest.fail(f"the local AT Protocol network did not start: {error}")
