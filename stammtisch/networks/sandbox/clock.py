"""The Sandbox clock: what time it is on the simulated network.

`now()` is the wall clock (`django.utils.timezone.now()`, so time-machine moves it too) unless a
caller has set a simulated time with `at(dt)`. Everything in the Sandbox that asks "what has
happened by now" (the feed, `fetch_activity`, `fetch_metrics`, the follower count) and every
timestamp it writes (`published_at`, reactions) uses `now()`. The demo uses `at()` to publish
back-dated posts over 90 days of simulated time:

    with clock.at(datetime(2026, 3, 1, 18, 0, tzinfo=UTC)):
        connector.publish(channel, outgoing, key)

The override lives in a context variable, so it is per thread and per asyncio task.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.utils import timezone

_override: ContextVar[dt.datetime | None] = ContextVar("sandbox_clock", default=None)


def now() -> dt.datetime:
    """The Sandbox's current time (aware, UTC)."""
    return _override.get() or timezone.now()


@contextmanager
def at(when: dt.datetime) -> Iterator[dt.datetime]:
    """Run the block as if the Sandbox's clock showed `when` (an aware datetime)."""
    if timezone.is_naive(when):
        raise ValueError("clock.at() needs a timezone-aware datetime.")
    token = _override.set(when.astimezone(dt.UTC))
    try:
        yield when
    finally:
        _override.reset(token)
