"""A query worker: a process that checks and runs the API's SQL, bounded and killable.

Started by `batchlake.serve.query_pool` as `python -m batchlake.serve.query_worker`, in a
private empty directory with a minimal environment. It talks to the server over its
stdin and stdout with framed messages (`multiprocessing.connection`): a JSON header,
then binary frames of Arrow IPC (tables in, the result out).

Once its libraries are loaded and warm, the worker caps its own address space
(`RLIMIT_AS`) at what it uses then plus the budget the server gives, so a query that
allocates past it (`repeat('x', 2000000000)`) fails at once with an out-of-memory error
instead of growing the process. A query runs under a DuckDB interrupt at its time
limit; the server kills the process if no answer comes shortly after, and the worker
leaves by itself if still busy well after that (e.g. when the server is gone).

Requests (header fields):
- `{"op": "check", "sql", "catalog"}` → `{"ok", "sql", "tables"}`: the allow-list.
- `{"op": "run", "key", "load", "names", "frames", "sql", "max_rows", "timeout"}`,
  followed, when `load` (the worker lacks `key`'s database), by one Arrow stream per
  name → `{"ok", "rows",
  "truncated", "columns", "seconds", "keys", "frames": 1}` and the result's Arrow stream.
Errors answer `{"ok": false, "error", "limit"}`; the server maps `limit` to a status.
Every answer says `recycle` when the worker has little of its address-space budget left:
the server then replaces it (DuckDB's allocator keeps what it once mapped).
"""

from __future__ import annotations

import json
import os
import threading
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchlake.serve.sandbox import Key, Sandbox

# After the time limit: how long the worker waits before leaving by itself.
SELF_EXIT_AFTER_SECONDS = 3.0
SERVING_STACK_BYTES = 32 * 2**20  # deep enough for Python's recursion limit in sqlglot


def address_space(field: str = "VmSize") -> int | None:
    """This process's virtual size (or `VmRSS`, `VmHWM`) in bytes on Linux, else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cap_address_space(budget: int) -> int | None:
    """Limit this process to its current size plus `budget` bytes; the limit, or None."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    now = address_space()
    if now is None:
        return None
    limit = now + budget
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return limit


class Worker:
    def __init__(self, inbox: Connection, outbox: Connection, init: dict[str, Any]) -> None:
        from batchlake.serve.sandbox import Sandbox, Watchdog

        self.inbox = inbox
        self.outbox = outbox
        self.budget = int(init["address_budget"])
        self.limit: int | None = None
        self.watchdog = Watchdog()
        self.sandbox: Sandbox = Sandbox(
            init["memory_limit"], int(init["max_result_bytes"]), self.watchdog
        )

    def start(self) -> None:
        """Warm up, cap the address space, say so, then answer requests until EOF."""
        started = time.perf_counter()
        self.warm_up()
        before = address_space()
        self.limit = _cap_address_space(self.budget)
        ready = {
            "ready": True,
            "pid": os.getpid(),
            "baseline": before,
            "limit": self.limit,
            "rss": address_space("VmRSS"),
            "start_seconds": time.perf_counter() - started,
        }
        self.outbox.send_bytes(json.dumps(ready).encode())
        self.serve()

    def warm_up(self) -> None:
        """Load every library and code path once, before the address space is measured."""
        import pyarrow as pa

        from batchlake.serve.sql_guard import check_query

        check_query("WITH a AS (SELECT * FROM t.x) SELECT count(*) FROM a", ["t.x"])
        key: Key = (("t.x", "0"),)
        self.sandbox.load(key, {"t.x": pa.table({"n": [1, 2]})})
        result = self.sandbox.run(key, "SELECT count(*) FROM t.x", 10, 5.0)
        _ipc(result.batches[0].schema, result.batches)
        self.sandbox.close()

    def serve(self) -> None:
        while True:
            try:
                header = json.loads(self.inbox.recv_bytes())
            except EOFError:  # the server is gone
                return
            frames = [self.inbox.recv_bytes() for _ in range(int(header.get("frames", 0)))]
            timeout = float(header.get("timeout", 60))
            self.watchdog.exit_at(time.monotonic() + timeout + SELF_EXIT_AFTER_SECONDS)
            try:
                reply, out = self.handle(header, frames)
            finally:
                self.watchdog.disarm()
            reply.update(frames=len(out), recycle=self.worn_out())
            self.outbox.send_bytes(json.dumps(reply).encode())
            for frame in out:
                self.outbox.send_bytes(frame)

    def worn_out(self) -> bool:
        """Whether the server should replace this worker: less than a quarter of its budget
        is left (DuckDB's allocator keeps the address space it once took, e.g. for a query
        that grew up to the cap, and new databases need some for their threads)."""
        now = address_space()
        return self.limit is not None and now is not None and self.limit - now < self.budget // 4

    def handle(
        self, header: dict[str, Any], frames: list[bytes]
    ) -> tuple[dict[str, Any], list[Any]]:
        from batchlake.errors import BatchlakeError

        try:
            if header["op"] == "check":
                return self.check(header), []
            if header["op"] == "run":
                return self.run(header, frames)
            raise ValueError(f"unknown op {header['op']!r}")
        except BatchlakeError as exc:
            return {"ok": False, "error": str(exc), "limit": getattr(exc, "limit", "")}, []
        except MemoryError:
            from batchlake.serve.limits import memory_error

            stopped = memory_error(self.sandbox.memory_limit)
            return {"ok": False, "error": str(stopped), "limit": stopped.limit}, []
        except Exception as exc:  # a bug here: reported to the server's log, one line
            return {"ok": False, "internal": f"{type(exc).__name__}: {exc}"[:500]}, []

    def check(self, header: dict[str, Any]) -> dict[str, Any]:
        from batchlake.serve.sql_guard import check_query

        checked = check_query(header["sql"], header["catalog"])
        return {"ok": True, "sql": checked.sql, "tables": sorted(checked.tables)}

    def run(self, header: dict[str, Any], frames: list[bytes]) -> tuple[dict[str, Any], list[Any]]:
        import pyarrow as pa

        key: Key = tuple((name, version) for name, version in header["key"])
        if header.get("load"):
            arrows = {
                name: pa.ipc.open_stream(pa.py_buffer(frame)).read_all()
                for name, frame in zip(header["names"], frames, strict=True)
            }
            frames.clear()
            self.sandbox.load(key, arrows)
        elif not self.sandbox.has(key):
            raise ValueError("the server sent no tables for a database this worker lacks")
        result = self.sandbox.run(key, header["sql"], int(header["max_rows"]), header["timeout"])
        schema = result.batches[0].schema if result.batches else pa.schema([])
        reply = {
            "ok": True,
            "rows": result.rows,
            "truncated": result.truncated,
            "columns": result.columns,
            "seconds": result.seconds,
            "keys": self.sandbox.keys(),
        }
        return reply, [_ipc(schema, result.batches)]


def _ipc(schema: Any, batches: list[Any]) -> Any:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return sink.getvalue()


def main() -> None:
    out_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed goes to the log, never into the channel
    inbox, outbox = Connection(0, writable=False), Connection(out_fd, readable=False)
    try:
        init = json.loads(inbox.recv_bytes())
    except EOFError:
        return
    # Requests are served on a thread whose whole stack is mapped now, before the cap:
    # the main thread's stack grows on demand, and near the cap it could not (SIGSEGV).
    threading.stack_size(SERVING_STACK_BYTES)
    serving = threading.Thread(target=Worker(inbox, outbox, init).start, name="serving")
    serving.start()
    serving.join()


if __name__ == "__main__":
    main()
