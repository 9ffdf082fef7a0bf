"""Which step errors are worth another attempt, backoff delays, and step timeouts.

Transient (retried): a source that cannot be reached or dropped the link (a refused or
reset connection, a timeout, an unknown or unreachable host — recognised by the
exception types of the network and the drivers, or their messages), HTTP 5xx and 429,
another run holding a lock, a database reporting a lock timeout.

Permanent (fail at once): everything else, in particular what no retry can change — bad
SQL, bad configuration, a failed quality gate, schema drift, a file that is missing,
truncated or not in its format, a step that ran past its timeout (it would most likely
hang again) — and a source that already waited for a server as long as it is configured
to (MongoDB's `timeout_seconds` to select a server): retrying those only delays the
failure.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from batchlake.errors import BatchlakeError, ConfigError, LockError, ModelError

T = TypeVar("T")

_LOCK_WORDS = ("database is locked", "lock timeout", "lock wait timeout", "deadlock")
# What drivers and the network say when a server cannot be reached or the link broke.
_NETWORK_WORDS = (
    "connection refused",
    "connection reset",
    "connection aborted",
    "timed out",
    "timeout expired",
    "could not connect to",
    "can't connect to",
    "server closed the connection",
    "lost connection to",
    "server has gone away",
    "network is unreachable",
    "no route to host",
    "temporary failure in name resolution",
    "broken pipe",
)
_NETWORK_TYPES = (
    "TransportError",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "RemoteProtocolError",
    "AutoReconnect",
    "NetworkTimeout",
)
# How the REST and files sources report a 5xx or 429 that outlived their own retries.
_STATUS_WORDS = re.compile(r"\b(answered|last with) (5\d\d|429)\b")
# The source waited for a server for its whole configured timeout before failing.
_WAITED_TYPES = ("ServerSelectionTimeoutError",)


class StepTimeout(BatchlakeError):
    """A step ran longer than run.step_timeout_seconds."""


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or an error it was raised from) is worth retrying."""
    if any(type(current).__name__ in _WAITED_TYPES for current in _chain(exc)):
        return False
    for current in _chain(exc):
        if isinstance(current, StepTimeout | ConfigError | ModelError):
            return False
        if isinstance(current, LockError) or _says(current, _LOCK_WORDS):
            return True
        status = getattr(getattr(current, "response", None), "status_code", None)
        if isinstance(status, int) and (status >= 500 or status == 429):
            return True
        if _STATUS_WORDS.search(str(current)) or _network(current):
            return True
    return False


def is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says a server could not be reached (or its link broke): once retries
    are spent, the other entities of that source would fail the same way."""
    return any(_network(c) or type(c).__name__ in _WAITED_TYPES for c in _chain(exc))


def _network(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return type(exc).__name__ in _NETWORK_TYPES or _says(exc, _NETWORK_WORDS)


def _says(exc: BaseException, words: tuple[str, ...]) -> bool:
    text = str(exc).lower()
    return any(word in text for word in words)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the errors it was raised from or while handling, once each."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before attempt `attempt + 1` (attempt counts from 1): base·2^(n-1)."""
    return float(min(cap, base * 2 ** (attempt - 1)))


def call_with_timeout(
    fn: Callable[[], T],
    timeout: float | None,
    *,
    name: str,
    on_timeout: Callable[[], None] | None = None,
    grace: float = 10.0,
) -> T:
    """Run `fn`; past `timeout` seconds call `on_timeout` (to interrupt it) and raise.

    Python cannot kill a thread: `on_timeout` interrupts what can be interrupted (a DuckDB
    query); anything else is left to finish in the background while the run moves on.
    """
    if timeout is None:
        return fn()
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"batchlake-step-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        if on_timeout is not None:
            on_timeout()
        worker.join(grace)
        left = "" if not worker.is_alive() else " (it could not be interrupted; left running)"
        raise StepTimeout(
            f"{name} timed out after {timeout:g}s{left}; raise run.step_timeout_seconds "
            "in batchlake.toml if it needs longer"
        )
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
