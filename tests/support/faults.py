"""Faults injected at the transport: a TCP proxy that can refuse or drop connections.

Put it between batchlake and a real database (PostgreSQL): while `down` is set, or when
`fail()` says so, a new connection is closed at once, exactly as when the server is
unreachable; otherwise bytes are relayed both ways unchanged.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class FlakyProxy:
    def __init__(self, target: tuple[str, int], fail: Callable[[], bool] | None = None) -> None:
        self.target = target
        self.fail = fail or (lambda: False)
        self.down = False
        self.refused = 0
        self.relayed = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="flaky-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.down or self.fail():
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self.relayed += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._server.close()

    def __enter__(self) -> FlakyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


# -- kill -9 at a chosen point of a model's incremental build -------------------------------
#
# `python -m tests.support.faults POINT MODEL PROJECT` runs `batchlake run -p PROJECT` in a process
# that SIGKILLs itself when the increment of MODEL reaches POINT. Nothing of batchlake is
# changed: the points are wrapped methods of the engine, the incremental job, the catalog
# and PyIceberg's SQL catalog. A run whose MODEL never reaches POINT (no increment, or
# rebuilt in full) ends normally, and its exit code says so.

KILL_POINTS = {
    "result-half-written": "the result is being written: one of its files is half on disk",
    "result-written": "the result is written, the kept rows of the touched files are not",
    "feed-half-written": "the change feed's old rows are being written: half on disk",
    "kept-half-written": "the kept rows are being rewritten: one file is half on disk",
    "commit-started": "LakeCatalog.commit entered, nothing of the snapshot written",
    "manifests-written": "manifests and manifest list written, no table metadata yet",
    "metadata-written": "new table metadata written, the catalog still points to the old",
    "committed": "the catalog commit returned; the step is not recorded",
    "step-unrecorded": "the step's result is about to be recorded in the metadata database",
}


def _die() -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def _half_write(files: list[str]) -> None:
    """Cut the largest written file to half its bytes, as a write cut short leaves it."""
    from pathlib import Path

    local = [Path(f.removeprefix("file://")) for f in files]
    if local:
        victim = max(local, key=lambda p: p.stat().st_size)
        with victim.open("r+b") as handle:
            handle.truncate(victim.stat().st_size // 2)


def install_kill_point(point: str, model: str) -> None:
    """Wrap batchlake's and PyIceberg's methods so the process dies at `point` of `model`."""
    from typing import Any

    from pyiceberg.catalog.sql import SqlCatalog

    from batchlake.catalog import LakeCatalog
    from batchlake.engines.duckdb import DuckDBEngine
    from batchlake.metadata import MetadataStore
    from batchlake.transform.incremental.job import Job

    if point not in KILL_POINTS:
        raise SystemExit(f"unknown kill point {point}; one of {', '.join(KILL_POINTS)}")
    state = {"increment": False, "commit": False, "incremented": False, "step": -1}

    def at(name: str) -> bool:
        return point == name and state["increment"] is True

    increment = Job.increment

    def wrapped_increment(self: Job) -> Any:
        state["increment"] = self.name == model
        try:
            done = increment(self)
        finally:
            state["increment"] = False
        state["incremented"] = self.name == model
        return done

    job_materialize = Job._materialize

    def wrapped_job_materialize(self: Job, sql: str, location: str) -> Any:
        written = job_materialize(self, sql, location)
        if at("result-written"):
            _die()
        return written

    materialize = DuckDBEngine.materialize

    def wrapped_materialize(
        self: DuckDBEngine, sql: str, location: str, *args: Any, **kwargs: Any
    ) -> Any:
        written = materialize(self, sql, location, *args, **kwargs)
        if at("feed-half-written") and "/changes/" in location:
            _half_write(written.files)
            _die()
        if at("result-half-written") and location.endswith("-data"):
            _half_write(written.files)
            _die()
        if at("kept-half-written") and location.endswith("-kept"):
            _half_write(written.files)
            _die()
        return written

    commit = LakeCatalog.commit

    def wrapped_commit(self: LakeCatalog, *args: Any, **kwargs: Any) -> Any:
        if at("commit-started"):
            _die()
        state["commit"] = True
        try:
            snapshot_id = commit(self, *args, **kwargs)
        finally:
            state["commit"] = False
        if at("committed"):
            _die()
        return snapshot_id

    commit_table = SqlCatalog.commit_table

    def wrapped_commit_table(self: SqlCatalog, *args: Any, **kwargs: Any) -> Any:
        if at("manifests-written") and state["commit"]:
            _die()
        return commit_table(self, *args, **kwargs)

    write_metadata = SqlCatalog._write_metadata

    def wrapped_write_metadata(*args: Any, **kwargs: Any) -> Any:
        write_metadata(*args, **kwargs)
        if at("metadata-written") and state["commit"]:
            _die()

    start_step = MetadataStore.start_step

    def wrapped_start_step(self: MetadataStore, run_id: str, step: str, kind: str) -> int:
        step_id = start_step(self, run_id, step, kind)
        if step == model:
            state["step"] = step_id
        return step_id

    finish_step = MetadataStore.finish_step

    def wrapped_finish_step(self: MetadataStore, step_id: int, status: str, **values: Any) -> None:
        if point == "step-unrecorded" and step_id == state["step"] and state["incremented"]:
            _die()
        finish_step(self, step_id, status, **values)

    Job.increment = wrapped_increment  # type: ignore[method-assign]
    Job._materialize = wrapped_job_materialize  # type: ignore[method-assign]
    DuckDBEngine.materialize = wrapped_materialize  # type: ignore[method-assign]
    LakeCatalog.commit = wrapped_commit  # type: ignore[method-assign]
    SqlCatalog.commit_table = wrapped_commit_table  # type: ignore[method-assign]
    SqlCatalog._write_metadata = staticmethod(wrapped_write_metadata)  # type: ignore[method-assign]
    MetadataStore.start_step = wrapped_start_step  # type: ignore[method-assign]
    MetadataStore.finish_step = wrapped_finish_step  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    import sys

    from batchlake.cli import main as batchlake_main

    point, model, project = argv
    install_kill_point(point, model)
    sys.argv = ["batchlake", "run", "-p", project]
    batchlake_main()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
