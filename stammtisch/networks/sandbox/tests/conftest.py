"""Fixtures of the Sandbox's tests: a Sandbox account, a channel connected to it, the connector."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.urls import NoReverseMatch, reverse

from conftest import Cast
from stammtisch.core.actions import Actor
from stammtisch.networks.models import Channel
from stammtisch.networks.sandbox import clock, faults
from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel
from stammtisch.networks.sandbox.connector import SandboxNetwork
from stammtisch.networks.sandbox.models import SandboxAccount

# A Tuesday; 18:00 in Stuttgart is 16:00 UTC in summer.
START = dt.datetime(2026, 6, 2, 6, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _no_faults(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    settings.SANDBOX_FAULT_RATE = 0.0
    settings.SANDBOX_SEED = 2026
    faults.clear()
    yield
    faults.clear()


@pytest.fixture
def network() -> SandboxNetwork:
    return SandboxNetwork()


@pytest.fixture
def channel(cast: Cast) -> Channel:
    """alice's Sandbox channel @cafe-koenigsbau, created at START. A plain Sandbox channel: one
    standing in for a network gets that network's rules too (Instagram would need an image)."""
    with clock.at(START):
        return do_connect_sandbox_channel(Actor.system("test"), cast.workspace, "cafe-koenigsbau", "Café Königsbau")


@pytest.fixture
def account(channel: Channel) -> SandboxAccount:
    return SandboxAccount.objects.get(handle=channel.handle)


@pytest.fixture
def app_layout() -> None:
    """Pages in the app's layout need the navigation's URLs, which other issues add."""
    try:
        for name in ("accounts:language", "accounts:profile"):
            reverse(name)
        reverse("publishing:calendar", args=["x"])
    except NoReverseMatch as exc:
        pytest.skip(f"the app layout needs URLs that are not built yet ({exc})")
