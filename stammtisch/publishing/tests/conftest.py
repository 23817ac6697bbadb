from __future__ import annotations

import pytest

from stammtisch.networks import registry
from stammtisch.publishing.tests import fake


@pytest.fixture
def fake_network(settings, monkeypatch) -> fake.FakeState:  # type: ignore[no-untyped-def]
    """Register the scripted network "fake" for one test; returns its state."""
    monkeypatch.setitem(registry.CONNECTORS, "fake", ("Fake", "stammtisch.publishing.tests.fake.FakeNetwork"))
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "fake": True}
    fake.STATE = fake.FakeState()
    monkeypatch.setattr(fake, "STATE", fake.STATE)
    return fake.STATE


@pytest.fixture
def channel(cast, fake_network):  # type: ignore[no-untyped-def]
    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="fake",
        handle="koenigsbau",
        display_name="Café Königsbau (Fake)",
    )


@pytest.fixture
def second_channel(cast, fake_network):  # type: ignore[no-untyped-def]
    from stammtisch.networks.models import Channel

    return Channel.objects.create(
        workspace=cast.workspace,
        network="fake",
        handle="koenigsbau2",
        display_name="Café Königsbau Zwei",
    )
