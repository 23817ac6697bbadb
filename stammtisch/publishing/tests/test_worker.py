"""`stammtisch worker`: one pass, sleeping until the next due time, stopping cleanly."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine
from django.core.management import call_command
from django.urls import clear_url_caches, get_resolver

from stammtisch.core.actions import Actor
from stammtisch.core.worker import Job, PostgresWaiter, Worker
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def schedule(cast, channel, at):
    return do_create_post(Actor.system(), cast.workspace, text="Hallo Stuttgart", channels=[channel], scheduled_at=at)


def test_worker_once_publishes_what_is_due(cast, channel, fake_network, frozen, capsys):
    schedule(cast, channel, NOON)
    schedule(cast, channel, NOON + dt.timedelta(minutes=5))

    call_command("worker", "--once", "--id", "test-worker")

    assert "processed 1 deliveries" in capsys.readouterr().out
    assert sorted(Delivery.objects.values_list("state", flat=True)) == ["published", "scheduled"]
    assert fake_network.publishes() == 1


def test_it_sleeps_until_the_next_due_time_at_most_max_sleep(cast, channel, fake_network, frozen):
    worker = Worker(worker_id="w", jobs=[], max_sleep=5.0)
    assert worker.sleep_seconds() == 5.0

    schedule(cast, channel, NOON + dt.timedelta(seconds=2))
    assert worker.sleep_seconds() == 2.0

    frozen.move_to(NOON + dt.timedelta(seconds=3))
    assert worker.sleep_seconds() == 0.0


def test_periodic_jobs_run_when_due_and_failures_do_not_stop_the_worker(cast, frozen):
    ticks = {"now": 100.0}
    ran: list[dt.datetime] = []

    def broken(now: dt.datetime) -> None:
        raise RuntimeError("boom")

    worker = Worker(
        worker_id="w",
        jobs=[Job("record", 10.0, ran.append), Job("broken", 10.0, broken)],
        clock=lambda: ticks["now"],
    )
    worker.tick()
    worker.tick()
    assert ran == [NOON]
    assert worker.sleep_seconds() == 5.0  # max_sleep; the job is due in 10 s
    ticks["now"] = 108.0
    assert worker.sleep_seconds() == 2.0
    ticks["now"] = 110.0
    worker.tick()
    assert len(ran) == 2


def test_periodic_jobs_wait_while_a_backlog_is_published_but_not_for_long(
    cast, channel, fake_network, frozen, monkeypatch
):
    for _n in range(4):
        schedule(cast, channel, NOON)
    real_run_once = publisher.run_once
    monkeypatch.setattr(publisher, "run_once", lambda worker, **kw: real_run_once(worker, limit=1, max_batches=1, **kw))
    ticks = {"now": 100.0}
    ran: list[float] = []
    worker = Worker(
        worker_id="w", jobs=[Job("record", 0.0, lambda now: ran.append(ticks["now"]))], clock=lambda: ticks["now"]
    )

    assert worker.tick() == 1
    assert ran == [100.0]  # the first pass runs them
    ticks["now"] = 101.0
    assert worker.tick() == 1
    assert ran == [100.0]  # more is due: publishing first
    ticks["now"] = 131.0
    assert worker.tick() == 1
    assert ran == [100.0, 131.0]  # waited 30 s at most
    ticks["now"] = 132.0
    assert worker.tick() == 1
    assert ran == [100.0, 131.0, 132.0]  # nothing more is due
    assert set(Delivery.objects.values_list("state", flat=True)) == {"published"}


def test_a_delivery_that_comes_due_while_jobs_run_is_published_before_the_other_jobs(
    cast, channel, fake_network, frozen
):
    schedule(cast, channel, NOON + dt.timedelta(seconds=1))
    order: list[str] = []

    def slow(now: dt.datetime) -> None:
        order.append("slow")
        frozen.shift(dt.timedelta(seconds=2))  # the post came due meanwhile

    worker = Worker(
        worker_id="w",
        jobs=[Job("slow", 60.0, slow), Job("other", 60.0, lambda now: order.append("other"))],
        clock=lambda: 100.0,
    )
    worker.jobs_ran_at = 100.0  # a worker that has been running (its first pass runs every job)

    assert worker.tick() == 0
    assert order == ["slow"]  # the pass ended after the job at hand
    assert worker.tick() == 1  # published first
    assert order == ["slow", "other"]  # then the job that waited


def test_jobs_that_waited_long_enough_all_run_even_while_deliveries_come_due(cast, channel, fake_network, frozen):
    schedule(cast, channel, NOON + dt.timedelta(seconds=1))
    ticks = {"now": 100.0}
    order: list[str] = []

    def slow(now: dt.datetime) -> None:
        order.append("slow")
        frozen.shift(dt.timedelta(seconds=2))

    worker = Worker(
        worker_id="w",
        jobs=[Job("slow", 60.0, slow), Job("other", 60.0, lambda now: order.append("other"))],
        clock=lambda: ticks["now"],
    )
    worker.jobs_ran_at = ticks["now"] - worker.jobs_max_delay  # the jobs have waited their longest

    worker.tick()

    assert order == ["slow", "other"]


def test_a_stop_request_ends_the_loop(cast, channel, fake_network, frozen):
    schedule(cast, channel, NOON)
    worker = Worker(worker_id="w", jobs=[])
    worker.request_stop()

    worker.run_forever()  # returns at once

    assert worker.tick() == 0  # a stopping worker claims, sees the stop, gives everything back
    assert Delivery.objects.get().state == "scheduled"
    assert Delivery.objects.get().lease_owner == ""


def test_on_postgresql_a_new_post_wakes_the_worker_at_once(transactional_db, cast, channel):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite workers sleep until the next due time")
    worker = Worker(worker_id="w", jobs=[])
    waiter = PostgresWaiter(worker.stopping)
    try:
        schedule(cast, channel, NOON)  # commits, then NOTIFY
        started = time.monotonic()
        waiter.wait(10.0)
        assert time.monotonic() - started < 2.0
    finally:
        waiter.close()


def test_the_worker_process_exits_0_on_sigterm(tmp_path):
    import os
    import selectors
    import signal
    import subprocess
    import sys

    env = {**os.environ, "STAMMTISCH_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    subprocess.run([sys.executable, "-m", "stammtisch.cli", "migrate", "-v0"], env=env, check=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "stammtisch.cli", "worker", "--id", "sigterm-test"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        selector = selectors.DefaultSelector()
        selector.register(process.stderr, selectors.EVENT_READ)
        log = ""
        deadline = time.monotonic() + 60
        while "worker sigterm-test started" not in log and time.monotonic() < deadline:
            if selector.select(timeout=1):
                log += process.stderr.readline()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert "worker sigterm-test stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_a_starting_worker_loads_the_url_configuration_before_it_says_it_started(db, monkeypatch, caplog):
    """The first `reverse` imports every view module: done at start, not while due posts wait."""
    clear_url_caches()
    worker = Worker(worker_id="warm", jobs=[])
    seen = []
    monkeypatch.setattr(Worker, "tick", lambda self, now=None: seen.append(get_resolver()._populated) or 0)
    monkeypatch.setattr(Worker, "sleep_seconds", lambda self, now=None: worker.request_stop() or 0.0)

    with caplog.at_level("INFO", logger="stammtisch.worker"):
        worker.run_forever()

    assert seen == [True]
    assert "worker warm started" in caplog.text
