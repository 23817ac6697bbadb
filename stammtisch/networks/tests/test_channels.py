"""The channels page (networks:channels) and disconnecting (networks:channel_disconnect)."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks.actions import do_disconnect_channel
from stammtisch.networks.models import Channel


@pytest.fixture
def channels(cast) -> dict[str, Channel]:
    def make(handle: str, stands_in_for: str, health: str = Channel.Health.OK) -> Channel:
        return Channel.objects.create(
            workspace=cast.workspace,
            network="sandbox",
            handle=handle,
            display_name=f"Königsbau {stands_in_for.title()}",
            stands_in_for=stands_in_for,
            health=health,
            credentials={"token": f"secret-{handle}"},
        )

    return {
        "instagram": make("koenigsbau.insta", "instagram"),
        "mastodon": make("koenigsbau@social.example", "mastodon", Channel.Health.NEEDS_RECONNECT),
    }


def channels_url(cast) -> str:
    return reverse("networks:channels", kwargs={"slug": cast.workspace.slug})


def disconnect_url(cast, channel: Channel) -> str:
    return reverse(
        "networks:channel_disconnect",
        kwargs={"slug": cast.workspace.slug, "channel_id": channel.pk},
    )


def test_it_lists_the_channels_with_network_handle_health_and_sandbox_badge(cast, channels) -> None:
    Channel.objects.create(
        workspace=cast.other_workspace,
        network="sandbox",
        handle="chili",
        display_name="Charlie's Chili",
    )
    response = english_client(cast.anna).get(channels_url(cast))
    assert response.status_code == 200
    text = response.content.decode()
    assert "koenigsbau.insta" in text
    assert "koenigsbau@social.example" in text
    assert "Instagram" in text and "Mastodon" in text  # what each stands in for
    assert "badge-sandbox" in text
    assert "Needs reconnection" in text
    assert "badge-ok" in text
    assert "Charlie&#x27;s Chili" not in text and "chili" not in text
    assert "secret-" not in text
    # Analysts see channels but cannot connect or disconnect them.
    assert "Disconnect" not in text
    assert "Owners and admins connect and disconnect channels." in text


def test_it_offers_to_connect_the_sandbox_and_says_real_networks_come_later(cast) -> None:
    text = english_client(cast.adam).get(channels_url(cast)).content.decode()
    assert "Connect a channel" in text
    assert "follow in a later release" in text
    try:
        sandbox_connect = reverse("sandbox:connect", kwargs={"slug": cast.workspace.slug})
    except NoReverseMatch:
        assert "Sandbox: not available yet" in text
    else:
        assert sandbox_connect in text


def test_it_disconnects_a_channel_after_confirmation_and_keeps_its_history(cast, channels) -> None:
    channel = channels["instagram"]
    client = english_client(cast.adam, REMOTE_ADDR="192.0.2.44")
    confirm = client.get(disconnect_url(cast, channel))
    assert confirm.status_code == 200
    assert "Disconnect “Königsbau Instagram”?" in confirm.content.decode()

    response = client.post(disconnect_url(cast, channel), follow=True)
    assert "“Königsbau Instagram” was disconnected." in response.content.decode()
    channel.refresh_from_db()
    assert channel.health == Channel.Health.DISCONNECTED
    assert channel.credentials == {}
    event = AuditEvent.objects.get(action="channel.disconnect")
    assert event.actor == cast.adam
    assert event.ip == "192.0.2.44"
    assert event.data == {
        "network": "sandbox",
        "handle": "koenigsbau.insta",
        "previous_health": "ok",
    }
    assert "secret" not in str(event.data)
    assert "Disconnected channels" in response.content.decode()


def test_it_refuses_to_disconnect_twice(cast, channels) -> None:
    channel = channels["instagram"]
    do_disconnect_channel(Actor(user=cast.alice, label="alice"), channel)
    with pytest.raises(ActionError):
        do_disconnect_channel(Actor(user=cast.alice, label="alice"), channel)
    response = english_client(cast.alice).post(disconnect_url(cast, channel), follow=True)
    assert response.status_code == 200
    assert "already disconnected" in response.content.decode()
    assert AuditEvent.objects.filter(action="channel.disconnect").count() == 1


def test_it_does_not_let_an_editor_disconnect(cast, channels) -> None:
    channel = channels["instagram"]
    assert english_client(cast.bob).post(disconnect_url(cast, channel)).status_code == 403
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK


def test_it_hides_channels_from_charlie_even_through_his_own_workspace(cast, channels) -> None:
    client = english_client(cast.charlie)
    channel = channels["instagram"]
    assert client.get(channels_url(cast)).status_code == 404
    foreign = reverse(
        "networks:channel_disconnect",
        kwargs={"slug": cast.other_workspace.slug, "channel_id": channel.pk},
    )
    assert client.post(foreign).status_code == 404
    channel.refresh_from_db()
    assert channel.health == Channel.Health.OK


def test_it_says_so_when_there_are_no_channels(cast) -> None:
    text = english_client(cast.carol).get(channels_url(cast)).content.decode()
    assert "No channels are connected yet." in text
