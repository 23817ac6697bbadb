"""Two posts added to the queue at the same moment, and two workers filling evergreen posts at
once, never take the same slot: real transactions in threads, on PostgreSQL (SQLite runs its
IMMEDIATE transactions one at a time, so there is no race to test there)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from stammtisch.core.actions import Actor
from stammtisch.publishing import queue
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, Post

pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)  # Monday, 08:00 in Berlin


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks between concurrent transactions")


def in_thread(work: Callable[[], Any], results: list[Any]) -> threading.Thread:
    def run() -> None:
        try:
            results.append(work())
        except Exception as exc:  # reported by the test
            results.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def wait_until_blocked_on_a_lock(pid: int) -> None:
    """Poll pg_stat_activity until backend `pid` waits for a lock (at most 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
        if row is not None and row[0] == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


def test_a_second_add_waits_for_the_first_and_takes_the_next_slot(cast, channel):
    queue.do_set_slots(Actor.system(), channel, [(0, dt.time(9)), (2, dt.time(9))])
    first = do_create_post(Actor.system(), cast.workspace, text="Eins", channels=[channel])
    second = do_create_post(Actor.system(), cast.workspace, text="Zwei", channels=[channel])
    holding, release = threading.Event(), threading.Event()
    pids: list[int] = []

    def add_and_hold() -> dt.datetime:
        with transaction.atomic():
            at = queue.do_add_to_queue(Actor.system(), first, now=NOW)
            holding.set()
            release.wait(10)  # keeps the channel locked until the main thread lets go
        return at

    def add() -> dt.datetime:
        pids.append(backend_pid())
        return queue.do_add_to_queue(Actor.system(), second, now=NOW)

    results_a: list[Any] = []
    results_b: list[Any] = []
    thread_a = in_thread(add_and_hold, results_a)
    assert holding.wait(10)
    thread_b = in_thread(add, results_b)
    while not pids:
        time.sleep(0.01)
    wait_until_blocked_on_a_lock(pids[0])  # the second add waits for the channel's row lock
    release.set()
    thread_a.join(10)
    thread_b.join(10)

    assert results_a == [dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)]
    assert results_b == [dt.datetime(2026, 3, 4, 8, tzinfo=dt.UTC)]


def test_many_posts_added_at_once_all_get_their_own_slot(cast, channel, second_channel):
    queue.do_set_slots(Actor.system(), channel, [(day, dt.time(9)) for day in range(7)])
    queue.do_set_slots(Actor.system(), second_channel, [(day, dt.time(9)) for day in range(7)])
    posts = [
        do_create_post(
            Actor.system(), cast.workspace, text=f"Post {n}", channels=[channel, second_channel][: 1 + n % 2]
        )
        for n in range(6)
    ]
    start = threading.Barrier(len(posts))
    results: list[Any] = []

    def adder(post: Post) -> Callable[[], dt.datetime]:
        def add() -> dt.datetime:
            start.wait(10)
            return queue.do_add_to_queue(Actor.system(), post, now=NOW)

        return add

    threads = [in_thread(adder(post), results) for post in posts]
    for thread in threads:
        thread.join(20)

    assert not [r for r in results if isinstance(r, Exception)], results
    times = list(Delivery.objects.filter(channel=channel).values_list("due_at", flat=True))
    assert len(times) == 6 and len(set(times)) == 6  # all six posts are on the first channel


def test_two_workers_filling_at_once_fill_each_slot_once(cast, channel):
    queue.do_set_slots(Actor.system(), channel, [(day, dt.time(9)) for day in range(7)])
    for n, text in enumerate(["Käsekuchen", "Brezeln", "Apfelstrudel"]):
        post = do_create_post(Actor.system(), cast.workspace, text=text, channels=[channel])
        queue.do_make_evergreen(Actor.system(), post, 1 + n)
    start = threading.Barrier(2)
    results: list[Any] = []

    def fill() -> int:
        start.wait(10)
        return queue.fill_evergreen(NOW)

    threads = [in_thread(fill, results), in_thread(fill, results)]
    for thread in threads:
        thread.join(20)

    assert all(isinstance(r, int) for r in results), results
    times = list(
        Delivery.objects.filter(channel=channel, post__source=Post.Source.EVERGREEN).values_list("due_at", flat=True)
    )
    assert sum(results) == len(times) == 7  # Monday to Sunday, each once
    assert len(set(times)) == 7
