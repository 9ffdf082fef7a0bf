"""Writes on SQLite: one at a time per server process, in arrival order, with a bounded wait.

SQLite lets one connection write at a time. Left to SQLite's busy handler, concurrent
checkouts sleep and poll for the lock, and with the rollback journal a committing writer
also waits for every reader to finish: 50 shoppers checking out at once gave 12
invoices and 38 errors after 30 s. So the store runs SQLite in WAL mode (readers never
block the writer, nor the writer them) and the writers of one process queue in a
`WriteGate`, in arrival order, each for at most `wait_seconds`.

A writer whose turn does not come in time is refused with `Busy` (HTTP 503 with
Retry-After), never left to fail on a lock timeout. How many requests reach this point at
all is bounded by `chinook_store.limits`. Measurements: docs/benchmarks.md, "Chinook store
load".
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from chinook_store.errors import Busy


class WriteGate:
    """A first-come, first-served lock whose waiters give up after `wait_seconds`."""

    def __init__(self, *, wait_seconds: float) -> None:
        if wait_seconds <= 0:
            raise ValueError("wait_seconds must be > 0")
        self.wait_seconds = wait_seconds
        self._mutex = threading.Lock()
        self._queue: deque[threading.Event] = deque()
        self._held = False
        self.seconds_per_write = 0.01  # a moving average, first guess 10 ms

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def retry_after(self, ahead: int) -> int:
        """Seconds in which `ahead` writes should be through the gate (at least 1)."""
        return max(1, math.ceil(ahead * self.seconds_per_write))

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the gate for one write; raise Busy when the turn does not come in time."""
        self._acquire()
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            self.seconds_per_write = 0.9 * self.seconds_per_write + 0.1 * elapsed
            self._release()

    def _acquire(self) -> None:
        with self._mutex:
            if not self._held and not self._queue:
                self._held = True
                return
            turn = threading.Event()
            self._queue.append(turn)
        if turn.wait(self.wait_seconds):
            return  # the previous holder handed the gate over
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ran out
                return
            self._queue.remove(turn)
            ahead = len(self._queue) + 1
        raise Busy(
            f"the store could not take the order within {self.wait_seconds:g} s; try again shortly",
            self.retry_after(ahead),
        )

    def _release(self) -> None:
        with self._mutex:
            if self._queue:
                self._queue.popleft().set()  # the gate passes straight to the next writer
            else:
                self._held = False
