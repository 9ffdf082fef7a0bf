"""A value re-read at most every `ttl` seconds, without making readers wait for it.

When the value is stale, one caller re-reads it while the others keep getting the
previous value, so a slow catalog read never stalls every request at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Refreshing(Generic[T]):
    def __init__(self, load: Callable[[], T], ttl: float) -> None:
        self.load = load
        self.ttl = ttl
        self._value: tuple[float, T] | None = None
        self._lock = threading.Lock()
        self._loading = False

    def peek(self) -> T | None:
        """The value if it is fresh, else None (never loads: safe on the event loop)."""
        current = self._value
        if current is not None and time.monotonic() - current[0] <= self.ttl:
            return current[1]
        return None

    def get(self) -> T:
        with self._lock:
            current = self._value
            if current is not None and (time.monotonic() - current[0] <= self.ttl or self._loading):
                return current[1]
            self._loading = True
        try:
            value = self.load()
        finally:
            with self._lock:
                self._loading = False
        with self._lock:
            self._value = (time.monotonic(), value)
        return value
