"""Connection health: the page, reconnect links and the token expiry warnings (networks/health.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from stammtisch.networks import health, registry
from stammtisch.networks.base import Credentials, Network, NetworkError
from stammtisch.networks.models import Channel
from stammtisch.notifications import kinds
from stammtisch.notifications.models import Notification

NOW = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


class ExpiringNetwork(Network):
    """A network whose refresh is scripted by the test: `result` is returned or raised."""

    key: ClassVar[str] = "expiring"
    label: ClassVar[str] = "Expiring"
    result: ClassVar[Any] = NotImplementedError
    calls: ClassVar[int] = 0

    def refresh_credentials(self, channel: Channel) -> Credentials:
        type(self).calls += 1
        result = type(self).result
        if isinstance(result, BaseException) or (isinstance(result, type) and issubclass(result, BaseException)):
            raise result
        if callable(result):
            return result(channel)  # type: ignore[no-any-return]
        return dict(result)


@pytest.fixture
def expiring(settings, monkeypatch):
    monkeypatch.setitem(registry.CONNECTORS, "expiring", ("Expiring", f"{__name__}.ExpiringNetwork"))
    settings.NETWORKS_ENABLED = {**settings.NETWORKS_ENABLED, "expiring": True}
    monkeypatch.setattr(ExpiringNetwork, "result", NotImplementedError)
    monkeypatch.setattr(ExpiringNetwork, "calls", 0)
    return ExpiringNetwork


def make_channel(cast, network="expiring", handle="koenigsbau", **fields) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace, network=network, handle=handle, display_name=f"Café {handle}", **fields
    )


def warnings(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind=kinds.CHANNEL_TOKEN_EXPIRING).order_by("pk"))


# --- status and reconnect links -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("health_value", "expires_in", "expected"),
    [
        (Channel.Health.OK, None, health.Status.OK),
        (Channel.Health.OK, dt.timedelta(days=30), health.Status.OK),
        (Channel.Health.OK, dt.timedelta(days=5), health.Status.EXPIRING),
        (Channel.Health.OK, -dt.timedelta(minutes=1), health.Status.RECONNECT),
        (Channel.Health.NEEDS_RECONNECT, None, health.Status.RECONNECT),
        (Channel.Health.ERROR, dt.timedelta(days=5), health.Status.SYNC_FAILING),
        (Channel.Health.DISCONNECTED, dt.timedelta(days=5), health.Status.DISCONNECTED),
    ],
)
def test_status_of_a_channel(health_value, expires_in, expected):
    channel = Channel(network="sandbox", health=health_value, token_expires_at=NOW + expires_in if expires_in else None)
    assert health.status(channel, NOW) == expected


def test_reconnect_leads_to_each_networks_connect_page(cast):
    slug = cast.workspace.slug
    for network in ("sandbox", "mastodon", "telegram", "xing"):
        channel = make_channel(cast, network=network, handle=f"h-{network}")
        assert health.reconnect_url(channel) == f"/{network}/w/{slug}/connect/"
    assert health.reconnect_url(make_channel(cast, network="myspace", handle="ms")) is None


def test_a_network_can_register_its_own_reconnect_url(cast, monkeypatch):
    monkeypatch.setitem(health._RECONNECT_URLS, "sandbox", lambda channel: f"/custom/{channel.pk}/")
    channel = make_channel(cast, network="sandbox")
    assert health.reconnect_url(channel) == f"/custom/{channel.pk}/"


# --- the page -----------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_the_health_page_shows_status_expiry_sync_and_error(client, cast):
    make_channel(cast, network="sandbox", handle="ok", last_synced_at=NOW - dt.timedelta(hours=2))
    make_channel(cast, network="mastodon", handle="soon", token_expires_at=NOW + dt.timedelta(days=5, minutes=1))
    make_channel(
        cast,
        network="telegram",
        handle="broken",
        health=Channel.Health.NEEDS_RECONNECT,
        health_message="401 Unauthorized: bot token revoked",
        health_checked_at=NOW - dt.timedelta(days=1),
    )
    client.force_login(cast.alice)

    response = client.get(reverse("networks:health", kwargs={"slug": cast.workspace.slug}), **EN)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-status="ok"' in page and 'data-status="expiring"' in page and 'data-status="reconnect"' in page
    assert "Token expiring soon" in page and "Needs reconnection" in page
    assert "in 5\xa0days" in page
    assert "2\xa0hours ago" in page
    assert "401 Unauthorized: bot token revoked" in page
    assert f'href="/telegram/w/{cast.workspace.slug}/connect/"' in page
    assert "Reconnect" in page


@time_machine.travel(NOW, tick=False)
def test_members_without_manage_see_health_but_no_reconnect_button(client, cast):
    make_channel(cast, network="telegram", handle="broken", health=Channel.Health.NEEDS_RECONNECT)
    client.force_login(cast.anna)
    response = client.get(reverse("networks:health", kwargs={"slug": cast.workspace.slug}), **EN)
    assert response.status_code == 200
    assert "Needs reconnection" in response.content.decode()
    assert "/telegram/w/" not in response.content.decode()


def test_an_outsider_gets_404(client, cast):
    client.force_login(cast.charlie)
    assert client.get(reverse("networks:health", kwargs={"slug": cast.workspace.slug})).status_code == 404


def test_the_page_queries_do_not_grow_with_channels(client, cast):
    client.force_login(cast.alice)
    url = reverse("networks:health", kwargs={"slug": cast.workspace.slug})
    make_channel(cast, network="sandbox", handle="one")
    client.get(url)  # warm: the session and per-process caches
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for number in range(10):
        make_channel(cast, network="mastodon", handle=f"m{number}", token_expires_at=NOW)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_the_channels_page_links_to_health(client, cast):
    client.force_login(cast.bob)
    response = client.get(reverse("networks:channels", kwargs={"slug": cast.workspace.slug}))
    assert reverse("networks:health", kwargs={"slug": cast.workspace.slug}) in response.content.decode()


# --- expiry warnings ----------------------------------------------------------------------------


def test_it_warns_owners_and_admins_once_per_threshold_and_token(cast, expiring, mailoutbox):
    channel = make_channel(cast, token_expires_at=NOW + dt.timedelta(days=6))

    assert health.warn_expiring_tokens(NOW) == 1
    assert health.warn_expiring_tokens(NOW + dt.timedelta(hours=1)) == 0  # same threshold: not again
    [warning] = warnings(cast.alice)
    assert warning.data["threshold"] == "7d"
    assert warning.link == reverse("networks:health", kwargs={"slug": cast.workspace.slug})
    assert warning.email == "immediate" and warning.email_due_at is not None
    assert len(warnings(cast.adam)) == 1
    assert warnings(cast.bob) == [] and warnings(cast.anna) == []

    assert health.warn_expiring_tokens(NOW + dt.timedelta(days=5, hours=1)) == 1  # within a day now
    assert [w.data["threshold"] for w in warnings(cast.alice)] == ["7d", "1d"]
    assert health.warn_expiring_tokens(NOW + dt.timedelta(days=5, hours=2)) == 0

    # A new token (reconnected) that expires soon again is warned about again.
    Channel.objects.filter(pk=channel.pk).update(token_expires_at=NOW + dt.timedelta(days=12))
    assert health.warn_expiring_tokens(NOW + dt.timedelta(days=6)) == 1
    assert len(warnings(cast.alice)) == 3


def test_it_leaves_far_away_expired_and_disconnected_tokens_alone(cast, expiring):
    make_channel(cast, handle="far", token_expires_at=NOW + dt.timedelta(days=8))
    make_channel(cast, handle="gone", token_expires_at=NOW - dt.timedelta(hours=1))
    make_channel(cast, handle="off", token_expires_at=NOW + dt.timedelta(days=2), health=Channel.Health.DISCONNECTED)
    make_channel(cast, handle="never", token_expires_at=None)
    assert health.warn_expiring_tokens(NOW) == 0
    assert expiring.calls == 0


def test_a_successful_refresh_needs_no_warning(cast, expiring):
    channel = make_channel(cast, token_expires_at=NOW + dt.timedelta(days=3), credentials={"access_token": "old"})

    def refresh(ch: Channel) -> Credentials:
        Channel.objects.filter(pk=ch.pk).update(token_expires_at=NOW + dt.timedelta(days=60))
        return {"access_token": "new"}

    expiring.result = refresh
    assert health.warn_expiring_tokens(NOW) == 0
    channel.refresh_from_db()
    assert channel.credentials == {"access_token": "new"}
    assert warnings(cast.alice) == []


def test_a_refresh_never_overwrites_a_stored_refresh_token_with_an_empty_one(cast, expiring):
    channel = make_channel(
        cast, token_expires_at=NOW + dt.timedelta(days=3), credentials={"access_token": "a1", "refresh_token": "r1"}
    )
    expiring.result = {"access_token": "a2", "refresh_token": ""}
    health.warn_expiring_tokens(NOW)
    channel.refresh_from_db()
    assert channel.credentials == {"access_token": "a2", "refresh_token": "r1"}
    assert len(warnings(cast.alice)) == 1  # the expiry did not move: still warned


def test_a_failed_refresh_warns_with_the_error_and_keeps_the_channel_healthy(cast, expiring):
    channel = make_channel(cast, token_expires_at=NOW + dt.timedelta(days=3), credentials={"refresh_token": "r1"})
    expiring.result = NetworkError("503 Service Unavailable")
    assert health.warn_expiring_tokens(NOW) == 1
    [warning] = warnings(cast.alice)
    assert warning.data["error"] == "503 Service Unavailable"
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK
    assert channel.credentials == {"refresh_token": "r1"}


def test_refresh_is_tried_at_most_once_a_day(cast, expiring):
    make_channel(cast, token_expires_at=NOW + dt.timedelta(days=6))
    expiring.result = NetworkError("timeout", outcome_unknown=True)
    health.warn_expiring_tokens(NOW)
    health.warn_expiring_tokens(NOW + dt.timedelta(hours=5))
    assert expiring.calls == 1
    health.warn_expiring_tokens(NOW + dt.timedelta(days=1, minutes=1))
    assert expiring.calls == 2


def test_a_network_without_refresh_just_warns(cast, expiring):
    make_channel(cast, token_expires_at=NOW + dt.timedelta(hours=20))
    assert health.warn_expiring_tokens(NOW) == 1
    [warning] = warnings(cast.alice)
    assert warning.data["threshold"] == "1d" and warning.data["error"] == ""
    with translation.override("en"):
        assert warning.title == "The access of Café koenigsbau expires tomorrow"
        assert "Reconnect the channel on the connection health page" in warning.body


def test_the_worker_runs_the_expiry_job(cast, expiring):
    from stammtisch.core.worker import default_jobs

    [job] = [job for job in default_jobs() if job.name == "token expiry"]
    assert job.atomic is False
    make_channel(cast, token_expires_at=NOW + dt.timedelta(days=2))
    job.run(NOW)
    assert len(warnings(cast.alice)) == 1
