"""Encoded pages of rows, kept per table version: a snapshot never changes, so the same
request on the same snapshot is answered from memory without encoding again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class PageCache:
    def __init__(self, max_entries: int = 1024, max_body: int = 1 << 20) -> None:
        self.max_entries = max_entries
        self.max_body = max_body
        self._bodies: OrderedDict[Hashable, tuple[bytes, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[bytes, dict[str, str]] | None:
        with self._lock:
            found = self._bodies.get(key)
            if found is not None:
                self._bodies.move_to_end(key)
            return found

    def put(self, key: Hashable, body: bytes, headers: dict[str, str]) -> None:
        if len(body) > self.max_body or self.max_entries == 0:
            return
        with self._lock:
            self._bodies[key] = (body, headers)
            while len(self._bodies) > self.max_entries:
                self._bodies.popitem(last=False)
