"""Which step errors are worth another attempt, backoff delays, and step timeouts.

Transient: a source that cannot be reached or read (SourceError), network errors and
timeouts of sockets, HTTP 5xx and 429, another run holding a lock, a database reporting a
lock timeout. Permanent: bad SQL, bad configuration, a failed quality gate, a step that
ran past its timeout (it would most likely hang again) — retrying those only delays the
failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from batchlake.errors import BatchlakeError, ConfigError, LockError, ModelError, SourceError

T = TypeVar("T")

_LOCK_WORDS = ("database is locked", "lock timeout", "lock wait timeout", "deadlock")


class StepTimeout(BatchlakeError):
    """A step ran longer than run.step_timeout_seconds."""


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or an error it was raised from) is worth retrying."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StepTimeout | ConfigError | ModelError):
            return False
        if isinstance(current, SourceError | LockError | ConnectionError | TimeoutError):
            return True
        status = getattr(getattr(current, "response", None), "status_code", None)
        if isinstance(status, int) and (status >= 500 or status == 429):
            return True
        name = type(current).__name__
        if name in ("TransportError", "ConnectError", "ReadTimeout", "RemoteProtocolError"):
            return True
        if name == "OperationalError" and any(w in str(current).lower() for w in _LOCK_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


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
