from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.utils import translation

from stammtisch.analytics.tests import fake as metrics_fake
from stammtisch.core.actions import Actor
from stammtisch.networks import registry
from stammtisch.networks.models import Channel
from stammtisch.publishing import publisher, ratelimit
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.tests import fake

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Every test starts in English and leaves no language behind: a request in German (the
    middleware activates the request's language for the thread) must not change what a later
    test's worker job writes."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fresh_limiter(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No rate-limit reservations carried over from another test."""
    monkeypatch.setattr(publisher, "LIMITER", ratelimit.Limiter())


@pytest.fixture
def fake_network(settings, monkeypatch) -> metrics_fake.MetricsState:  # type: ignore[no-untyped-def]
    """Register the scripted network "fake" (with metrics) for one test; returns its metrics state."""
    path = "stammtisch.analytics.tests.fake.MetricsFakeNetwork"
    monkeypatch.setitem(registry.CONNECTORS, "fake", ("Fake", path))
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "fake": True}
    monkeypatch.setattr(fake, "STATE", fake.FakeState())
    monkeypatch.setattr(metrics_fake, "METRICS", metrics_fake.MetricsState())
    return metrics_fake.METRICS


@pytest.fixture
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def make_channel(cast, handle: str = "koenigsbau") -> Channel:  # type: ignore[no-untyped-def]
    return Channel.objects.create(
        workspace=cast.workspace,
        network="fake",
        handle=handle,
        display_name=f"Café Königsbau ({handle})",
        remote_account_id=f"account-{handle}",
    )


@pytest.fixture
def channel(cast, fake_network) -> Channel:  # type: ignore[no-untyped-def]
    return make_channel(cast)


@pytest.fixture
def second_channel(cast, fake_network) -> Channel:  # type: ignore[no-untyped-def]
    return make_channel(cast, "koenigsbau2")


def publish(cast, channels, at=NOON, text="Heute gibt es Maultaschen!"):  # type: ignore[no-untyped-def]
    """A post scheduled for `at` and published by the publisher (time must be frozen at `at`)."""
    post = do_create_post(Actor.system("test"), cast.workspace, text=text, channels=channels, scheduled_at=at)
    publisher.run_once("publisher")
    return post
