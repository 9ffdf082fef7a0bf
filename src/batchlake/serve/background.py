"""Pipeline runs started from the API: one background thread at a time per project.

The runner's lock in the metadata database is what really keeps runs apart (also from
`batchlake run` in a shell or the scheduler); this only answers 409 early and keeps the
outcome of runs this server started.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from batchlake.errors import BatchlakeError, LockError

if TYPE_CHECKING:
    from batchlake.lake import Lake
    from batchlake.serve.metrics import ServeMetrics


class RunManager:
    def __init__(self, lake: Lake, metrics: ServeMetrics) -> None:
        self.lake = lake
        self.root = lake.project.root
        self.metrics = metrics
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self.errors: dict[str, str] = {}  # run id → why it did not start or crashed

    def busy(self) -> str | None:
        """Who holds the project's run lock (a run id), if anyone."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread.name
        import sqlalchemy as sa

        from batchlake.metadata import tables as t
        from batchlake.run.runner import RUN_LOCK

        with self.lake.metadata.engine.connect() as conn:
            row = conn.execute(sa.select(t.locks).where(t.locks.c.name == RUN_LOCK)).first()
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        # A lease past its expiry belongs to a dead run: the next run takes it over.
        return str(row.holder) if expires > datetime.now(UTC) else None

    def start(self, select: list[str] | None, full_refresh: bool) -> str:
        """Start a run in the background and return its id; LockError when one is going."""
        from batchlake.run.runner import new_run_id

        with self._guard:
            holder = self.busy()
            if holder:
                raise LockError(f"run {holder} is in progress on this project; wait for it")
            run_id = new_run_id()
            thread = threading.Thread(
                target=self._run, args=(run_id, select, full_refresh), name=run_id, daemon=True
            )
            self._thread = thread
            thread.start()
        return run_id

    def _run(self, run_id: str, select: list[str] | None, full_refresh: bool) -> None:
        from batchlake.lake import Lake
        from batchlake.run.runner import Runner

        lake = Lake.open(self.root)  # its own connections: nothing shared with requests
        try:
            result = Runner(lake).run(
                select, full_refresh=full_refresh, command="serve", run_id=run_id
            )
            self.metrics.run_finished(result.status, result.seconds)
        except BatchlakeError as exc:
            self.errors[run_id] = str(exc)
            self.metrics.run_finished("failed", None)
        except Exception as exc:  # recorded by the runner; kept here for the API answer
            self.errors[run_id] = f"{type(exc).__name__}: {exc}"
            self.metrics.run_finished("failed", None)
        finally:
            lake.metadata.dispose()

    def starting(self, run_id: str) -> bool:
        """Whether `run_id` was started here and has not been recorded by the runner yet."""
        thread = self._thread
        return thread is not None and thread.name == run_id and thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
