"""Fault injection: make the Sandbox fail the way real networks fail.

Two switches:

* `settings.SANDBOX_FAULT_RATE` (env `STAMMTISCH_SANDBOX_FAULT_RATE`, 0.0 to 1.0): each connector
  call fails with this probability, with a kind drawn at random. Works in every process (the
  benchmarks run several workers); not deterministic, and not meant to be.
* `inject(kind, times=1, on="publish")` or the context manager `injected(...)`: the next `times`
  calls of operation `on` (or of any operation, `on="*"`) in this process fail with `kind`.
  For tests; `clear()` forgets everything injected.

Kinds and what the connector does:

| kind           | stored on the Sandbox? | raises                                              |
|----------------|------------------------|-----------------------------------------------------|
| `timeout`      | yes (accepted)         | `NetworkError(outcome_unknown=True)`                |
| `reset_after`  | yes (accepted)         | `NetworkError(outcome_unknown=True)`                |
| `reset_before` | no                     | `NetworkError` (transient)                          |
| `server_error` | no                     | `NetworkError` (transient, a 503)                   |
| `rate_limit`   | no                     | `NetworkError(retry_after=RETRY_AFTER_SECONDS)`     |

For operations that write nothing (`find_published`, `fetch_activity`, `fetch_metrics`,
`refresh_credentials`, `delete`) the "after" kinds behave like their "before" twins: a read that
times out has no effect to be unsure about.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from stammtisch.networks.base import NetworkError

TIMEOUT = "timeout"
RESET_AFTER = "reset_after"
RESET_BEFORE = "reset_before"
SERVER_ERROR = "server_error"
RATE_LIMIT = "rate_limit"
KINDS = (TIMEOUT, RESET_AFTER, RESET_BEFORE, SERVER_ERROR, RATE_LIMIT)
AFTER_ACCEPTANCE = frozenset({TIMEOUT, RESET_AFTER})
OPERATIONS = (
    "publish",
    "reply",
    "delete",
    "find_published",
    "fetch_activity",
    "fetch_metrics",
    "refresh_credentials",
)
WRITES = frozenset({"publish", "reply"})
RETRY_AFTER_SECONDS = 30.0

_lock = threading.Lock()


@dataclass
class _Injection:
    kind: str
    on: str
    remaining: int


_queue: list[_Injection] = []
_random = random.Random()  # process-local; the rate switch need not be reproducible


def inject(kind: str, times: int = 1, on: str = "publish") -> None:
    """Make the next `times` calls of operation `on` ("*" for any) fail with `kind`."""
    if kind not in KINDS:
        raise ValueError(f"Unknown fault kind {kind!r}; one of {', '.join(KINDS)}.")
    if on != "*" and on not in OPERATIONS:
        raise ValueError(f"Unknown operation {on!r}; one of {', '.join(OPERATIONS)} or '*'.")
    if times < 1:
        raise ValueError("times must be at least 1.")
    with _lock:
        _queue.append(_Injection(kind, on, times))


@contextmanager
def injected(kind: str, times: int = 1, on: str = "publish") -> Iterator[None]:
    """`inject()` for the duration of a block; what is left over is forgotten afterwards."""
    inject(kind, times, on)
    try:
        yield
    finally:
        clear()


def clear() -> None:
    with _lock:
        _queue.clear()


def take(operation: str) -> str | None:
    """The fault for this call of `operation`, or None. Used by the connector."""
    with _lock:
        for entry in _queue:
            if entry.on in ("*", operation):
                entry.remaining -= 1
                if entry.remaining == 0:
                    _queue.remove(entry)
                return entry.kind
    rate = float(settings.SANDBOX_FAULT_RATE)
    if rate > 0 and _random.random() < rate:
        return _random.choice(KINDS)
    return None


def raise_before(fault: str | None, operation: str) -> None:
    """Raise the fault that happens before the network accepted anything (if any)."""
    if fault is None:
        return
    if fault in AFTER_ACCEPTANCE and operation in WRITES:
        return  # raised by raise_after, once the write is stored
    if fault == RATE_LIMIT:
        raise NetworkError("Sandbox: 429 Too Many Requests", retry_after=RETRY_AFTER_SECONDS)
    if fault == SERVER_ERROR:
        raise NetworkError("Sandbox: 503 Service Unavailable")
    if fault == TIMEOUT:
        raise NetworkError("Sandbox: timed out before the request was sent")
    raise NetworkError("Sandbox: connection reset before the request was accepted")


def raise_after(fault: str | None) -> None:
    """Raise the fault that happens after the network accepted a write (if any)."""
    if fault == TIMEOUT:
        raise NetworkError("Sandbox: timed out waiting for the response", outcome_unknown=True)
    if fault == RESET_AFTER:
        raise NetworkError("Sandbox: connection reset after the request was sent", outcome_unknown=True)
