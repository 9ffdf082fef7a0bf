"""A value re-read at most every `ttl` seconds, without making readers wait for it.

When the value is stale, one caller (or, for `peek`, a background thread) re-reads it
while the others keep getting the previous value, so a slow catalog read never stalls
every request at once.
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
        """The value, without waiting (safe on the event loop): None before the first load;
        a stale value starts a reload in a background thread and is returned meanwhile."""
        current = self._value
        if current is None:
            return None
        if time.monotonic() - current[0] > self.ttl:
            with self._lock:
                start = not self._loading
                self._loading = True
            if start:
                threading.Thread(target=self._reload, daemon=True).start()
        return current[1]

    def _reload(self) -> None:
        try:
            value = self.load()
        except Exception:  # the next get() loads again and raises to its caller
            return
        finally:
            with self._lock:
                self._loading = False
        with self._lock:
            self._value = (time.monotonic(), value)

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
