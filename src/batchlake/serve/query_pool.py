"""Where the API's SQL runs: a small pool of long-lived worker processes, bounded and killable.

Each query is checked (the allow-list, `batchlake.serve.sql_guard`) and run in a worker
process (`batchlake.serve.query_worker`), never in the server, so that neither parsing
nor running it can hold the server's interpreter, memory or threads:

- memory: a worker caps its own address space at its start-up size plus
  `memory_limit` and half as much again (at least 256 MiB) for what DuckDB does not
  count (huge strings and lists, Arrow buffers); past it, allocations fail and the
  query answers 413;
- time: DuckDB is interrupted at `query_timeout_seconds`; a worker that has not
  answered shortly after (a long parse, a function DuckDB cannot interrupt) is killed,
  the query answers 408 and a new worker starts in the background;
- concurrency: at most `workers` queries run at once; the others wait for a worker, up
  to half the time limit, then answer 429 with Retry-After.

Workers start on first use or at the server's start (`warm`), each in ~1 s (Python,
DuckDB, PyArrow and sqlglot loaded, then warmed), and then serve query after query: the
overhead per query is two round trips over a pipe and the result's Arrow bytes. A worker
keeps its last few sealed databases, so a table is sent to it once per version.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Collection, Iterable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchlake.errors import QueryError
from batchlake.serve.limits import (
    LimitError,
    QueryOutOfMemory,
    QueryTimeout,
    QueryTooLarge,
    ResultTooLarge,
    WorkerError,
    WorkersBusy,
    memory_error,
    parse_size,
    timeout_error,
)
from batchlake.serve.sandbox import Key, QueryResult

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.config import ServeSettings
    from batchlake.serve.reader import TableCache

log = logging.getLogger("batchlake.serve")

START_TIMEOUT_SECONDS = 60.0  # a worker that is not ready by then did not start
_ENV_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")
_LIMITS: dict[str, type[LimitError]] = {
    cls.limit: cls for cls in (QueryTimeout, QueryTooLarge, QueryOutOfMemory, ResultTooLarge)
}


class _Gone(Exception):
    """The worker stopped answering: past its deadline, or dead."""


class _Worker:
    """One worker process and the two ends of its pipe."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        inbox: Connection,
        outbox: Connection,
        log_file: Path,
        live: set[subprocess.Popen[bytes]],
    ) -> None:
        self.proc = proc
        self.live = live
        self.inbox = inbox  # what the worker answers
        self.outbox = outbox  # what we ask
        self.log_file = log_file  # the worker's stderr
        self.keys: set[Key] = set()
        self.ready: dict[str, Any] = {}
        self.worn_out = False  # little of its memory budget left: replace it once it is free

    @classmethod
    def start(
        cls, folder: Path, init: dict[str, Any], live: set[subprocess.Popen[bytes]]
    ) -> _Worker:
        """Start a worker in `folder` and wait until it is ready; `live` holds its process
        from the start, so that the pool can stop it even while it starts."""
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        log_file = folder / f"worker-{time.monotonic_ns()}.log"
        try:
            with log_file.open("wb") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "batchlake.serve.query_worker"],
                    stdin=to_read,
                    stdout=from_write,
                    stderr=err,
                    cwd=folder,
                    env=_worker_env(folder),
                    start_new_session=True,  # Ctrl-C reaches the server, which stops workers
                )
        except OSError:
            for fd in (to_read, to_write, from_read, from_write):
                os.close(fd)
            raise
        live.add(proc)
        os.close(to_read)
        os.close(from_write)
        inbox, outbox = Connection(from_read, writable=False), Connection(to_write, readable=False)
        worker = cls(proc, inbox, outbox, log_file, live)
        try:
            worker.outbox.send_bytes(json.dumps(init).encode())
            if not worker.inbox.poll(START_TIMEOUT_SECONDS):
                raise _Gone(f"not ready after {START_TIMEOUT_SECONDS:g} s")
            worker.ready = json.loads(worker.inbox.recv_bytes())
        except (_Gone, EOFError, OSError) as exc:
            worker.kill()
            raise RuntimeError(f"{exc or 'it exited'}; {worker.last_words()}") from None
        return worker

    def call(
        self, header: dict[str, Any], frames: Iterable[Any], deadline: float, max_bytes: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Send a request and wait for its answer until `deadline` (monotonic)."""
        try:
            self.outbox.send_bytes(json.dumps(header).encode())
            for frame in frames:
                self.outbox.send_bytes(frame)
            reply = json.loads(self._receive(deadline, 1 << 20))
            out = [self._receive(deadline, max_bytes) for _ in range(int(reply.get("frames", 0)))]
        except (EOFError, OSError, ValueError) as exc:
            raise _Gone(str(exc)) from None
        return reply, out

    def _receive(self, deadline: float, max_bytes: int) -> bytes:
        if not self.inbox.poll(max(0.0, deadline - time.monotonic())):
            raise _Gone("deadline")
        return self.inbox.recv_bytes(max_bytes)

    def kill(self) -> None:
        _kill(self.proc)
        self.live.discard(self.proc)
        self.inbox.close()
        self.outbox.close()

    def last_words(self) -> str:
        """The end of the worker's own log (its stderr), on one line."""
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
            self.log_file.unlink()
        except OSError:
            lines = []
        code = self.proc.returncode
        how = f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"
        return f"{how}: {lines[-1][:300]}" if lines else how


def _worker_env(folder: Path) -> dict[str, str]:
    """A minimal environment: no API keys or passwords of the server reach the worker."""
    import batchlake

    package_root = str(Path(batchlake.__file__).resolve().parents[1])
    env = {k: os.environ[k] for k in _ENV_KEPT if k in os.environ}
    paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(PYTHONPATH=os.pathsep.join(paths), HOME=str(folder), TMPDIR=str(folder))
    # Arrow on malloc: mimalloc reserves 1 GiB of address space up front, which would let
    # Arrow allocations grow under the address-space cap without counting against it.
    env["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    return env


class QueryRunner:
    """Checks and runs API queries in a pool of worker processes (see the module's doc)."""

    def __init__(self, cache: TableCache, settings: ServeSettings, workers: int = 2) -> None:
        self.cache = cache
        self.settings = settings
        self.size = max(1, workers)
        memory = parse_size(settings.memory_limit)
        self.max_result_bytes = memory // 4
        self.init: dict[str, Any] = {
            "memory_limit": settings.memory_limit,
            "address_budget": memory + max(memory // 2, 256 * 2**20),
            "max_result_bytes": self.max_result_bytes,
        }
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting = 0
        self._failure: str | None = None
        self._closed = False
        self._folder: Path | None = None
        self._procs: set[subprocess.Popen[bytes]] = set()  # every worker process, starting too
        self._finalizer = weakref.finalize(self, _stop, self._procs, [])

    # -- the pool ------------------------------------------------------------------------

    def warm(self) -> None:
        """Start the workers now (in the background) rather than on the first query."""
        with self._cond:
            while len(self._all) + self._starting < self.size:
                self._spawn_locked()

    def _folder_locked(self) -> Path:
        if self._folder is None:
            # Private (0700), unpredictable, outside the server's working directory; gone
            # at close. The workers run here, and nothing they run can read it.
            self._folder = Path(tempfile.mkdtemp(prefix="batchlake-sql-"))
            self._finalizer.detach()
            self._finalizer = weakref.finalize(self, _stop, self._procs, [self._folder])
        return self._folder

    def _spawn_locked(self) -> None:
        self._starting += 1
        folder = self._folder_locked()
        threading.Thread(target=self._spawn, args=(folder,), daemon=True).start()

    def _spawn(self, folder: Path) -> None:
        began = time.perf_counter()
        try:
            worker = _Worker.start(folder, self.init, self._procs)
        except Exception as exc:
            with self._cond:
                self._starting -= 1
                self._failure = str(exc)
                self._cond.notify_all()
                closed = self._closed
            if not closed:  # at shutdown, a worker still starting is stopped on purpose
                log.error("a SQL query worker did not start: %s", exc)
            return
        worker.ready["wall_seconds"] = time.perf_counter() - began
        if worker.ready.get("limit") is None:
            log.warning("SQL query workers run without a memory cap here (no RLIMIT_AS)")
        with self._cond:
            self._starting -= 1
            if self._closed:
                worker.kill()
                return
            self._failure = None
            self._all.add(worker)
            self._idle.append(worker)
            self._cond.notify_all()

    def _acquire(self) -> _Worker:
        busy_wait = self.settings.query_timeout_seconds / 2
        started = time.monotonic()
        with self._cond:
            while True:
                if self._closed:
                    raise QueryError("the server is shutting down; send the query again later")
                if self._idle:
                    return self._idle.pop()
                if len(self._all) + self._starting < self.size:
                    self._spawn_locked()
                if self._failure is not None and not self._starting and not self._all:
                    raise WorkerError(f"the SQL query workers cannot start: {self._failure}")
                waited = time.monotonic() - started
                limit = START_TIMEOUT_SECONDS if self._starting else busy_wait
                if waited >= limit:
                    raise WorkersBusy(
                        f"all {self.size} query workers stayed busy for {busy_wait:g} s "
                        "(half of [serve] query_timeout_seconds); send the query again "
                        "shortly",
                        retry_after=busy_wait,
                    )
                self._cond.wait(limit - waited)

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed or worker not in self._all:
                return
            if not worker.worn_out:
                self._idle.append(worker)
                self._cond.notify()
                return
        self._discard(worker, "little of its memory budget left", logging.INFO)

    def _discard(self, worker: _Worker, why: str, level: int = logging.WARNING) -> str:
        """Stop a worker that ran past its deadline, died or is worn out; a new one starts."""
        worker.kill()
        words = worker.last_words()
        log.log(level, "SQL query worker %s replaced (%s; %s)", worker.proc.pid, why, words)
        with self._cond:
            self._all.discard(worker)
            if not self._closed:
                self._spawn_locked()
        return words

    # -- queries -------------------------------------------------------------------------

    def run(self, sql: str, catalog: Collection[str], max_rows: int) -> QueryResult:
        """Check `sql` against the allow-list over `catalog`, then run it: one worker, one
        time limit for both."""
        timeout = self.settings.query_timeout_seconds
        worker = self._acquire()
        try:
            began = time.monotonic()
            reply = self._call(
                worker, {"op": "check", "sql": sql, "catalog": list(catalog)}, [], began + timeout
            )[0]
            remaining = max(0.001, timeout - (time.monotonic() - began))
            return self._execute(worker, reply["tables"], reply["sql"], max_rows, remaining)
        finally:
            self._release(worker)

    def execute(self, tables: Collection[str], sql: str, max_rows: int) -> QueryResult:
        """Run SQL over `tables` without the allow-list (for SQL batchlake wrote, and for
        tests of the second gate): the worker's sealed database is all that bounds it."""
        worker = self._acquire()
        try:
            return self._execute(worker, tables, sql, max_rows, self.settings.query_timeout_seconds)
        finally:
            self._release(worker)

    def _execute(
        self, worker: _Worker, tables: Collection[str], sql: str, max_rows: int, timeout: float
    ) -> QueryResult:
        import pyarrow as pa

        versions = {name: self.cache.current(name) for name in sorted(tables)}
        key: Key = tuple((name, v.version) for name, v in versions.items())
        load = key not in worker.keys  # the worker builds this database: send its tables
        frames = [_ipc(self.cache.arrow(v)) for v in versions.values()] if load else []
        header = {
            "op": "run",
            "key": key,
            "load": load,
            "names": list(versions),
            "frames": len(frames),
            "sql": sql,
            "max_rows": max_rows,
            "timeout": timeout,
        }
        # Building a database is the server's doing, not the query's: it gets its own time.
        grace = min(0.5, 0.2 * timeout)
        deadline = time.monotonic() + timeout + grace + (timeout if load else 0.0)
        reply, out = self._call(worker, header, frames, deadline, self.max_result_bytes)
        del frames
        worker.keys = {tuple(tuple(pair) for pair in k) for k in reply["keys"]}
        reader = pa.ipc.open_stream(pa.py_buffer(out[0]))
        batches = list(reader)
        return QueryResult(
            [(str(n), str(t)) for n, t in reply["columns"]],
            batches,
            int(reply["rows"]),
            bool(reply["truncated"]),
            float(reply["seconds"]),
        )

    def _call(
        self,
        worker: _Worker,
        header: dict[str, Any],
        frames: list[Any],
        deadline: float,
        max_bytes: int = 1 << 20,
    ) -> tuple[dict[str, Any], list[bytes]]:
        try:
            reply, out = worker.call(header, frames, deadline, max_bytes + (1 << 20))
        except _Gone as gone:
            timeout = self.settings.query_timeout_seconds
            if str(gone) == "deadline":
                self._discard(worker, f"past the {timeout:g} s time limit")
                what = "checking the query took" if header["op"] == "check" else "the query ran"
                raise timeout_error(timeout, what) from None
            words = self._discard(worker, "it died during a query")
            if any(sign in words.lower() for sign in ("memory", "bad_alloc", "signal 9")):
                raise memory_error(self.settings.memory_limit) from None
            raise WorkerError(
                "the SQL query worker died on this query and was replaced; the server log "
                "has the details"
            ) from None
        worker.worn_out = bool(reply.get("recycle"))
        if reply.get("ok"):
            return reply, out
        if "internal" in reply:
            log.error("SQL query worker %s failed: %s", worker.proc.pid, reply["internal"])
            raise WorkerError("the SQL query worker failed; the server log has the details")
        kind = _LIMITS.get(str(reply.get("limit", "")), QueryError)
        if kind is QueryTimeout:  # the worker knew only the time left, not the setting
            raise timeout_error(self.settings.query_timeout_seconds)
        raise kind(str(reply["error"]))

    def stats(self) -> list[dict[str, Any]]:
        """Each ready worker's start-up figures (pid, seconds, address space and cap)."""
        with self._cond:
            return [dict(w.ready) for w in self._all]

    def close(self) -> None:
        """Stop every worker and remove their private directory."""
        with self._cond:
            self._closed = True
            self._idle.clear()
            self._cond.notify_all()
        self._finalizer()


def _ipc(table: pa.Table) -> Any:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _stop(procs: set[subprocess.Popen[bytes]], folders: list[Path]) -> None:
    for proc in list(procs):
        _kill(proc)
    procs.clear()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
