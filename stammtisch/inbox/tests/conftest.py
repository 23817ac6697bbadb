from __future__ import annotations

import datetime as dt

import pytest

from stammtisch.inbox import labels
from stammtisch.inbox.tests import fake
from stammtisch.networks import registry
from stammtisch.networks.models import Channel
from stammtisch.publishing import publisher, ratelimit


@pytest.fixture(autouse=True)
def _fresh_limiter(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No rate-limit reservations carried over from another test."""
    monkeypatch.setattr(publisher, "LIMITER", ratelimit.Limiter())
    labels.reset()


@pytest.fixture
def fake_network(settings, monkeypatch) -> fake.FakeState:  # type: ignore[no-untyped-def]
    path = "stammtisch.inbox.tests.fake.InboxFakeNetwork"
    monkeypatch.setitem(registry.CONNECTORS, "inboxfake", ("Inbox fake", path))
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "inboxfake": True}
    state = fake.FakeState()
    monkeypatch.setattr(fake, "STATE", state)
    return state


@pytest.fixture
def channel(cast, fake_network) -> Channel:  # type: ignore[no-untyped-def]
    return Channel.objects.create(
        workspace=cast.workspace, network="inboxfake", handle="koenigsbau", display_name="Café Königsbau"
    )


@pytest.fixture
def now() -> dt.datetime:
    return fake.T0 + dt.timedelta(hours=2)
