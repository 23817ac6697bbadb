"""`stammtisch bench publish`: what it counts, not how fast anything is (no timing assertions)."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db.models import Q
from django.utils import timezone

from stammtisch.networks.sandbox import faults, simulation
from stammtisch.networks.sandbox.models import SandboxAccount
from stammtisch.publishing import publisher
from stammtisch.publishing.benchmarks import publish, scenario
from stammtisch.publishing.models import Delivery

FIELDS = [
    "database",
    "deliveries",
    "workers",
    "published",
    "failed",
    "duplicates",
    "lost",
    "seconds",
    "per_second",
    "lateness_p50_s",
    "lateness_p99_s",
    "baseline_per_second",
    "ratio",
]


@pytest.fixture(autouse=True)
def _quiet_sandbox(settings):
    settings.SANDBOX_FAULT_RATE = 0.0
    settings.SANDBOX_REACTIONS = False
    faults.clear()
    yield
    faults.clear()


@pytest.fixture
def published_workspace(db):
    """A benchmark workspace of 20 deliveries on 4 channels, all published by one worker."""
    workspace = scenario.create(20, channels=4)
    scenario.make_due(workspace, timezone.now() - dt.timedelta(seconds=1))
    publisher.run_once("bench-test", where=Q(post__workspace=workspace))
    return workspace


def test_it_counts_a_clean_run(published_workspace):
    counted = scenario.count(published_workspace)

    assert counted["deliveries"] == 20
    assert counted["published"] == 20
    assert counted["failed"] == 0
    assert counted["duplicates"] == 0
    assert counted["lost"] == 0
    assert 0 < counted["lateness_p50_s"] <= counted["lateness_p99_s"]


def test_it_counts_a_planted_duplicate_on_the_sandbox_side(published_workspace):
    delivery = Delivery.objects.filter(post__workspace=published_workspace).select_related("channel").first()
    account = SandboxAccount.objects.get(handle=delivery.channel.handle)
    simulation.publish_post(account, text=delivery.text, idempotency_key=str(delivery.idempotency_key))

    counted = scenario.count(published_workspace)

    assert counted["duplicates"] == 1
    assert counted["published"] == 20
    assert counted["lost"] == 0


def test_it_counts_deliveries_left_unfinished_and_published_without_a_post_as_lost(published_workspace):
    first, second = Delivery.objects.filter(post__workspace=published_workspace).order_by("pk")[:2]
    Delivery.objects.filter(pk=first.pk).update(state=Delivery.State.RETRY_WAIT)  # never finished
    account = SandboxAccount.objects.get(handle=second.channel.handle)
    account.posts.filter(idempotency_key=str(second.idempotency_key)).delete()  # "published", but not there

    counted = scenario.count(published_workspace)

    assert counted["lost"] == 2
    assert counted["published"] == 19
    assert counted["duplicates"] == 0


def test_lateness_is_measured_from_the_first_due_time():
    assert scenario.percentile([], 0.5) is None
    assert scenario.percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert scenario.percentile([float(n) for n in range(1, 101)], 0.99) == 99.0


def test_without_flags_it_runs_the_default_set(monkeypatch):
    monkeypatch.setattr(publish, "postgres_answers", lambda url: False)
    parser = argparse.ArgumentParser()
    publish.add_arguments(parser)

    configs = publish.configurations(parser.parse_args([]))

    assert [(c.vendor, c.total, c.workers, c.chaos, c.steady) for c in configs] == [
        ("sqlite", 10_000, 2, False, None),
        ("sqlite", 1_000, 2, False, 50),
        ("sqlite", 2_000, 2, True, None),
    ]
    [config] = publish.configurations(parser.parse_args(["--steady", "50", "--duration", "60"]))
    assert (config.total, config.workers, config.vendor) == (3_000, 2, "sqlite")


def test_a_tiny_run_end_to_end_prints_one_json_line_with_every_field():
    out = io.StringIO()

    call_command("bench", "publish", "--deliveries", "20", "--workers", "1", stdout=out)

    [line] = out.getvalue().splitlines()
    result = json.loads(line)
    assert list(result) == FIELDS
    assert result["database"] == "sqlite"
    assert (result["deliveries"], result["workers"]) == (20, 1)
    assert (result["published"], result["failed"], result["duplicates"], result["lost"]) == (20, 0, 0, 0)
    assert result["seconds"] > 0
    # `seconds` is rounded to milliseconds: on a fast run (tens of ms) that alone moves 20 / seconds
    # by more than 1 %.
    rounding = 0.0005 / result["seconds"]
    assert result["per_second"] == pytest.approx(20 / result["seconds"], rel=rounding + 0.002)
    assert result["baseline_per_second"] > 0
    assert result["ratio"] == pytest.approx(result["per_second"] / result["baseline_per_second"], abs=0.001)


def test_the_clock_waits_for_every_state_that_is_not_final():
    final = set(scenario.FINAL_STATES)
    assert set(publish.UNFINISHED_STATES) == {state for state in Delivery.State.values if state not in final}
