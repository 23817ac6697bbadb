"""Fault injection: each kind fails the way it says, before or after the Sandbox accepted a write."""

from __future__ import annotations

import datetime as dt

import pytest

from stammtisch.networks.base import NetworkError, Outgoing, Remote
from stammtisch.networks.sandbox import clock, faults
from stammtisch.networks.sandbox.models import SandboxPost
from stammtisch.networks.sandbox.tests.conftest import START

OUT = Outgoing(text="Heute gibt es Käsekuchen!")


def our_posts():
    return SandboxPost.objects.filter(author_persona=None)


@pytest.mark.parametrize("kind", [faults.TIMEOUT, faults.RESET_AFTER])
def test_it_stores_the_post_then_times_out_or_resets(network, channel, kind) -> None:
    faults.inject(kind)
    with clock.at(START), pytest.raises(NetworkError) as error:
        network.publish(channel, OUT, "key-1")
    assert error.value.outcome_unknown and not error.value.permanent
    assert our_posts().count() == 1
    found = network.find_published(channel, "key-1", START)
    assert found is not None and found.id == our_posts().get().remote_id


@pytest.mark.parametrize("kind", [faults.SERVER_ERROR, faults.RESET_BEFORE])
def test_it_fails_transiently_and_stores_nothing(network, channel, kind) -> None:
    faults.inject(kind)
    with clock.at(START), pytest.raises(NetworkError) as error:
        network.publish(channel, OUT, "key-1")
    assert not (error.value.permanent or error.value.outcome_unknown or error.value.retry_after)
    assert not our_posts().exists()
    assert network.find_published(channel, "key-1", START) is None


def test_it_rate_limits_with_retry_after(network, channel) -> None:
    faults.inject(faults.RATE_LIMIT)
    with clock.at(START), pytest.raises(NetworkError) as error:
        network.publish(channel, OUT, "key-1")
    assert error.value.retry_after == faults.RETRY_AFTER_SECONDS
    assert not error.value.permanent and not error.value.outcome_unknown
    assert not our_posts().exists()


def test_an_injected_fault_lasts_as_many_calls_as_asked(network, channel) -> None:
    faults.inject(faults.SERVER_ERROR, times=2)
    for _ in range(2):
        with clock.at(START), pytest.raises(NetworkError):
            network.publish(channel, OUT, "key-1")
    with clock.at(START):
        network.publish(channel, OUT, "key-1")
    assert our_posts().count() == 1


def test_a_fault_hits_only_the_operation_it_is_meant_for(network, channel) -> None:
    with faults.injected(faults.SERVER_ERROR, on="fetch_activity"):
        with clock.at(START):
            network.publish(channel, OUT, "key-1")
        with clock.at(START + dt.timedelta(days=1)), pytest.raises(NetworkError):
            network.fetch_activity(channel, {})
        with clock.at(START + dt.timedelta(days=1)):
            assert network.fetch_activity(channel, {})[0]


def test_a_timeout_on_a_reply_stores_the_reply(network, channel) -> None:
    with clock.at(START):
        remote = network.publish(channel, OUT, "key-1")
    faults.inject(faults.TIMEOUT, on="reply")
    with clock.at(START + dt.timedelta(hours=1)), pytest.raises(NetworkError) as error:
        network.reply(channel, remote, "Und morgen Apfelkuchen.", "reply-1")
    assert error.value.outcome_unknown
    assert network.find_published(channel, "reply-1", START) is not None


def test_a_read_that_times_out_is_simply_transient(network, channel) -> None:
    faults.inject(faults.TIMEOUT, on="fetch_metrics")
    with pytest.raises(NetworkError) as error:
        network.fetch_metrics(channel, [Remote(id="post-1")])
    assert not error.value.outcome_unknown


def test_the_fault_rate_setting_fails_calls_in_any_process(network, channel, settings) -> None:
    settings.SANDBOX_FAULT_RATE = 1.0
    kinds = set()
    for i in range(40):
        with clock.at(START), pytest.raises(NetworkError) as error:
            network.publish(channel, OUT, f"key-{i}")
        e = error.value
        kinds.add("unknown" if e.outcome_unknown else "retry_after" if e.retry_after else "transient")
    assert kinds == {"unknown", "retry_after", "transient"}
    settings.SANDBOX_FAULT_RATE = 0.0
    with clock.at(START):
        network.publish(channel, OUT, "fine")


def test_it_refuses_unknown_kinds_and_operations() -> None:
    with pytest.raises(ValueError):
        faults.inject("meteor")
    with pytest.raises(ValueError):
        faults.inject(faults.TIMEOUT, on="dance")
