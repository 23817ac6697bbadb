"""The worker loop behind `stammtisch worker` (DESIGN.md "Workers and scale", STYLE.md §4).

One pass (`Worker.tick`) publishes everything due and runs the periodic jobs whose time has
come; between passes the worker sleeps until the next due time, at most `max_sleep` seconds. On
PostgreSQL it also LISTENs for the NOTIFY that actions send when they make work due, so a new
post is picked up within milliseconds. Everything is callable from a test without threads:
`tick(now=...)` is one pass, `sleep_seconds(now)` says how long the loop would wait.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, close_old_connections, connection, connections, transaction
from django.urls import get_resolver
from django.utils import timezone

from stammtisch.publishing import publisher

log = logging.getLogger("stammtisch.worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def sandbox_simulation(now: dt.datetime) -> None:
    """Let the Sandbox's simulated audience react up to `now` (if the Sandbox is installed)."""
    try:
        simulation = importlib.import_module("stammtisch.networks.sandbox.simulation")
    except ModuleNotFoundError:
        return
    simulation.advance(now)


def evergreen_fill(now: dt.datetime) -> None:
    """Put evergreen posts into free queue slots of the next days (publishing/queue.py). It
    commits once per workspace, under the same channel locks as "add to queue", so two workers
    never fill one slot twice."""
    from stammtisch.publishing import queue

    filled = queue.fill_evergreen(now)
    if filled:
        log.info("scheduled %d evergreen posts", filled)


def feed_checks(now: dt.datetime) -> None:
    """Check the RSS/Atom feeds that are due (publishing/feeds.py). Not one transaction: each
    feed is fetched outside any transaction and each new article commits on its own."""
    from stammtisch.publishing import feeds

    made = feeds.check_due_feeds(default_worker_id(), now)
    if made:
        log.info("made %d posts from feeds", made)


def notification_emails(now: dt.datetime) -> None:
    """Send the notification e-mails that are due (notifications/mailer.py). Not one
    transaction: each mail is marked sent on its own, right after it went out."""
    from stammtisch.notifications import mailer

    sent = mailer.send_due(default_worker_id(), now=now)
    if sent:
        log.info("sent %d notification e-mails", sent)


def notification_cleanup(now: dt.datetime) -> None:
    from stammtisch.notifications import mailer

    mailer.prune(now)


def token_expiry(now: dt.datetime) -> None:
    """Refresh or warn about channel tokens that expire within 7 days (networks/health.py). Not
    one transaction: a refresh is a network call, and each channel commits on its own."""
    from stammtisch.networks import health

    warned = health.warn_expiring_tokens(now)
    if warned:
        log.info("warned about %d expiring channel tokens", warned)


def metric_checks(now: dt.datetime) -> None:
    """Read the metrics that are due (analytics/sync.py). Not one transaction: each network call
    happens outside any transaction and its figures commit on their own."""
    from stammtisch.analytics import sync

    handled = sync.run_due(default_worker_id(), now=now)
    if handled:
        log.info("handled %d metric checks", handled)


def metric_scheduling(now: dt.datetime) -> None:
    """Schedule metric checks the signals missed and start channels' daily checks
    (analytics/scheduling.py `sweep`)."""
    from stammtisch.analytics import scheduling

    scheduling.sweep(now)


def inbox_sync(now: dt.datetime) -> None:
    """Read new comments, mentions and messages of the channels that are due (inbox/sync.py).
    Not one transaction: each network call happens outside any transaction and each page of
    events commits with its cursor."""
    from stammtisch.inbox import sync

    stored = sync.run_due(default_worker_id(), now=now)
    if stored:
        log.info("stored %d inbox events", stored)


def inbox_replies(now: dt.datetime) -> None:
    """Send the replies written in the inbox, each exactly once (inbox/replies.py). Not one
    transaction: each attempt is committed before its network call."""
    from stammtisch.inbox import replies

    sent = replies.run_due(default_worker_id(), now=now)
    if sent:
        log.info("sent %d inbox replies", sent)


def sandbox_link_clicks(now: dt.datetime) -> None:
    """Record the clicks of the Sandbox's audience on our short links like real ones, with
    simulated conversions (links/auto.py). Each click commits on its own."""
    from stammtisch.links import auto

    recorded = auto.record_sandbox_clicks()
    if recorded:
        log.info("recorded %d simulated link clicks", recorded)


def click_import(now: dt.datetime) -> None:
    """Store the clicks the redirector spooled (links/spool.py) in the Click table. Not one
    transaction: each batch commits before its spool file may be deleted."""
    from stammtisch.links import spool

    spool.import_spool()


def audience(now: dt.datetime) -> None:
    """Read new inbox rows into people; once a day move stages and apply retention
    (audience/jobs.py). Not one transaction: each batch of rows commits with its cursor."""
    from stammtisch.audience import jobs

    jobs.run(now)


def rollups(now: dt.datetime) -> None:
    """Recompute the daily rollups dashboards and goals read (analytics/rollups.py): the last
    days of each due workspace, a backfill the first time. Each workspace commits on its own."""
    from stammtisch.analytics import rollups as analytics_rollups

    done = analytics_rollups.run_due(now)
    if done:
        log.info("refreshed the rollups of %d workspaces", done)


def reports(now: dt.datetime) -> None:
    """Make the reports schedules ask for, generate due reports (PDF) and e-mail finished ones
    (reports/jobs.py). Not one transaction: each report and each mail commits on its own."""
    from stammtisch.reports import jobs

    done = jobs.run_due(default_worker_id(), now=now)
    if done:
        log.info("generated or e-mailed %d reports", done)


@dataclass
class Job:
    name: str
    every: float  # seconds
    run: Callable[[dt.datetime], None]
    next_at: float = 0.0  # time.monotonic() of the next run; 0 = at the first pass
    atomic: bool = True  # run in one transaction; False for a job that commits in steps itself


def default_jobs() -> list[Job]:
    return [
        Job("sandbox simulation", 5.0, sandbox_simulation),
        Job("evergreen posts", 300.0, evergreen_fill, atomic=False),
        Job("feeds", 15.0, feed_checks, atomic=False),
        Job("notification e-mails", 30.0, notification_emails, atomic=False),
        Job("notification cleanup", 3600.0, notification_cleanup),
        Job("token expiry", 3600.0, token_expiry, atomic=False),
        Job("metrics", 60.0, metric_checks, atomic=False),
        Job("metric scheduling", 3600.0, metric_scheduling),
        Job("sandbox link clicks", 10.0, sandbox_link_clicks, atomic=False),
        Job("click import", 1.0, click_import, atomic=False),
        Job("inbox sync", 10.0, inbox_sync, atomic=False),
        Job("inbox replies", 2.0, inbox_replies, atomic=False),
        Job("audience", 10.0, audience, atomic=False),
        Job("rollups", 60.0, rollups, atomic=False),
        Job("reports", 10.0, reports, atomic=False),
    ]


@dataclass
class Worker:
    worker_id: str = field(default_factory=default_worker_id)
    jobs: list[Job] = field(default_factory=default_jobs)
    max_sleep: float = 5.0
    stopping: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], float] = time.monotonic
    jobs_max_delay: float = 30.0  # seconds the periodic jobs may wait behind a backlog
    jobs_ran_at: float = float("-inf")  # clock() of the last pass that ran the periodic jobs

    def request_stop(self, *_args: Any) -> None:
        """Signal handler for SIGTERM and SIGINT: finish the current item, then stop."""
        self.stopping.set()

    def should_stop(self) -> bool:
        return self.stopping.is_set()

    def tick(self, now: dt.datetime | None = None) -> int:
        """One pass: publish what is due, run the periodic jobs that are due. Returns how many
        deliveries were processed.

        Publishing comes first: while more deliveries are due than one pass takes (a burst of
        scheduled posts), the periodic jobs wait, but never longer than `jobs_max_delay`
        seconds after their last pass (docs/publishing.md "The worker"). And when a delivery
        becomes due while the jobs run, the pass ends after the job at hand (unless the jobs
        have waited `jobs_max_delay` already; at least one job runs each pass): the rest runs in
        the next pass, after publishing."""
        processed = publisher.run_once(self.worker_id, now=now, should_stop=self.should_stop)
        due = publisher.next_due(now)
        overdue = self.clock() - self.jobs_ran_at >= self.jobs_max_delay
        if processed and not overdue and due is not None and due <= (now or timezone.now()):
            return processed  # a backlog: the next pass publishes on at once
        self.jobs_ran_at = self.clock()
        ran = 0
        for job in self.jobs:
            if self.should_stop():
                break
            if ran and not overdue and due is not None and due <= (now or timezone.now()):
                break  # a delivery is due: publish first, the other jobs follow in the next pass
            if self.clock() >= job.next_at:
                ran += 1
                job.next_at = self.clock() + job.every
                try:
                    # A failing job leaves nothing half-written.
                    with transaction.atomic() if job.atomic else contextlib.nullcontext():
                        job.run(now or timezone.now())
                except Exception:
                    log.exception("periodic job %r failed", job.name)
        return processed

    def sleep_seconds(self, now: dt.datetime | None = None) -> float:
        """How long to wait before the next pass: until the next due delivery or periodic job,
        never more than `max_sleep`, never negative."""
        now = now or timezone.now()
        wait = self.max_sleep
        due = publisher.next_due(now)
        if due is not None:
            wait = min(wait, (due - now).total_seconds())
        for job in self.jobs:
            wait = min(wait, job.next_at - self.clock())
        return max(0.0, wait)

    def run_forever(self) -> None:
        warm_up()
        log.info("worker %s started", self.worker_id)
        waiter = Waiter.for_connection(self.stopping)
        try:
            while not self.should_stop():
                try:
                    close_old_connections()
                    processed = self.tick()
                    if processed:
                        log.info("published or settled %d deliveries", processed)
                    if self.should_stop():
                        break
                    waiter.wait(self.sleep_seconds())
                except DatabaseError:
                    log.exception("database error; trying again in a few seconds")
                    close_old_connections()
                    waiter.close()  # its LISTEN connection may be the one that broke
                    self.stopping.wait(self.max_sleep)
                    waiter = Waiter.for_connection(self.stopping)
        finally:
            waiter.close()
            log.info("worker %s stopped", self.worker_id)


def warm_up() -> None:
    """Load at start what the first publish would otherwise load while due posts wait: the URL
    configuration (connectors and notifications build links with `reverse`, and its first call
    imports every view module, a sizeable part of a second on a slow disk)."""
    get_resolver().reverse_dict  # noqa: B018 (the property fills the resolver's caches)


class Waiter:
    """Sleeps until a timeout or a stop request (SQLite: no notifications)."""

    def __init__(self, stopping: threading.Event) -> None:
        self.stopping = stopping

    @staticmethod
    def for_connection(stopping: threading.Event) -> Waiter:
        if connection.vendor == "postgresql":
            try:
                return PostgresWaiter(stopping)
            except DatabaseError:
                log.exception("LISTEN failed; falling back to sleeping until the next due time")
        return Waiter(stopping)

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)

    def close(self) -> None:
        pass


class PostgresWaiter(Waiter):
    """LISTENs on its own connection; a NOTIFY from an action ends the wait at once. Waits in
    short slices so a stop request (a signal) is noticed within half a second."""

    SLICE = 0.5

    def __init__(self, stopping: threading.Event) -> None:
        super().__init__(stopping)
        self.db = connections.create_connection("default")
        self.db.ensure_connection()
        self.db.set_autocommit(True)
        with self.db.cursor() as cursor:
            cursor.execute(f"LISTEN {publisher.NOTIFY_CHANNEL}")

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        raw = self.db.connection
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            # (Never nest notifies(): the generator holds the connection's lock while it yields.)
            if any(True for _notify in raw.notifies(timeout=min(self.SLICE, left), stop_after=1)):
                return

    def close(self) -> None:
        self.db.close()
