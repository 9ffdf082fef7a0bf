"""The second gate of `POST /query`: sealed DuckDB databases holding only catalog tables.

This runs inside a query worker process (`batchlake.serve.query_worker`), never in the
server. A database is built once per set of tables at their versions: the Arrow tables
(sent by the server) are copied in with `CREATE TABLE ... AS`, then it is sealed:

- no readable directory at all: `temp_directory = ''` (nothing spills to disk, so
  DuckDB keeps no temp directory in `allowed_directories`; a query past
  `memory_limit` fails instead of writing files), the local file system disabled,
  `enable_external_access = false` and `lock_configuration = true`;
- no extension loading or installing, no persistent secrets, no Python replacement scans;
- every unqualified system view name (`duckdb_tables`, `pg_settings`, `sqlite_master`…)
  shadowed by an empty view of the same name in `main`, so even a name the allow-list
  misjudged reads nothing.

Each query runs on its own cursor, interrupted by the worker's watchdog at the time
limit. The few most recently used databases are kept: opening DuckDB costs ~25 ms, a
cursor well under 1 ms.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchlake.errors import QueryError
from batchlake.serve.limits import ResultTooLarge, memory_error, timeout_error

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

Key = tuple[tuple[str, str], ...]  # (table, version) pairs


@dataclass
class QueryResult:
    columns: list[tuple[str, str]]
    batches: list[pa.RecordBatch]
    rows: int
    truncated: bool
    seconds: float


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sealed_database(
    arrows: dict[str, pa.Table], memory_limit: str, threads: int = 2
) -> duckdb.DuckDBPyConnection:
    """A new in-memory database with `arrows` as tables, then cut off from the outside."""
    import duckdb

    con = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": memory_limit,
            "threads": threads,
            "temp_directory": "",
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_persistent_secrets": False,
        },
    )
    attached: set[str] = set()
    try:
        for name, table in arrows.items():
            parts = name.split(".")
            if len(parts) == 3 and parts[0] not in attached:  # raw.<source>.<entity>
                con.execute(f"ATTACH ':memory:' AS {_quote(parts[0])}")
                attached.add(parts[0])
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {'.'.join(map(_quote, parts[:-1]))}")
            con.register("__arrow", table)
            con.execute(f"CREATE TABLE {'.'.join(map(_quote, parts))} AS SELECT * FROM __arrow")
            con.unregister("__arrow")
        _shadow_system_views(con)
        con.execute("SET python_enable_replacements = false")
        con.execute("SET disabled_filesystems = 'LocalFileSystem'")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _shadow_system_views(con: duckdb.DuckDBPyConnection) -> None:
    """An empty view in `main` for each system view reachable by its bare name."""
    names = con.execute(
        "SELECT DISTINCT view_name FROM duckdb_views() "
        "WHERE internal AND schema_name IN ('main', 'pg_catalog') ORDER BY 1"
    ).fetchall()
    for (name,) in names:
        con.execute(f"CREATE VIEW main.{_quote(name)} AS SELECT NULL AS shadowed WHERE false")


class Watchdog:
    """The one thread that interrupts a query at its time limit, and ends the process if
    it is still busy well after (the server gone, or a query DuckDB cannot interrupt).

    It starts before the worker caps its address space and no thread starts per query:
    near the cap, a new thread's stack may no longer fit.
    """

    EXIT_CODE = 70

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._interrupt: Callable[[], None] | None = None
        self._interrupt_at = math.inf
        self._exit_at = math.inf
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()

    def exit_at(self, when: float) -> None:
        """End the process at `when` (monotonic) unless `disarm` comes first."""
        with self._cond:
            self._exit_at = when
            self._cond.notify()

    def interrupt_at(self, when: float, interrupt: Callable[[], None] | None) -> None:
        with self._cond:
            self._interrupt, self._interrupt_at = interrupt, when
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._interrupt, self._interrupt_at, self._exit_at = None, math.inf, math.inf

    def _watch(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                if now >= self._exit_at:
                    os._exit(self.EXIT_CODE)
                if self._interrupt is not None and now >= self._interrupt_at:
                    self._interrupt()
                    self._interrupt = None
                nearest = min(self._exit_at, self._interrupt_at if self._interrupt else math.inf)
                self._cond.wait(None if nearest == math.inf else nearest - now)


class Sandbox:
    """The sealed databases of one worker process, and running a query in one of them."""

    def __init__(
        self, memory_limit: str, max_result_bytes: int, watchdog: Watchdog, keep: int = 4
    ) -> None:
        self.memory_limit = memory_limit
        self.max_result_bytes = max_result_bytes
        self.watchdog = watchdog
        self.keep = keep
        self._bases: OrderedDict[Key, duckdb.DuckDBPyConnection] = OrderedDict()

    def keys(self) -> list[Key]:
        return list(self._bases)

    def has(self, key: Key) -> bool:
        return key in self._bases

    def load(self, key: Key, arrows: dict[str, pa.Table]) -> None:
        """Build the sealed database of `key`; old ones make room if memory runs short."""
        import duckdb

        try:
            con = sealed_database(arrows, self.memory_limit)
        except (duckdb.OutOfMemoryException, MemoryError):
            self.close()  # the tables of older databases held the memory: retry alone
            try:
                con = sealed_database(arrows, self.memory_limit)
            except (duckdb.OutOfMemoryException, MemoryError) as exc:
                raise memory_error(self.memory_limit) from exc
        self._bases[key] = con
        while len(self._bases) > self.keep:
            _, old = self._bases.popitem(last=False)
            old.close()

    def run(self, key: Key, sql: str, max_rows: int, timeout: float) -> QueryResult:
        """Run SQL in `key`'s database; at most `max_rows` rows come back."""
        import duckdb

        base = self._bases[key]
        self._bases.move_to_end(key)
        clock = time.perf_counter()
        cursor = base.cursor()
        self.watchdog.interrupt_at(time.monotonic() + timeout, cursor.interrupt)
        try:
            reader = cursor.execute(sql).fetch_record_batch(min(max_rows + 1, 10_000))
            batches, rows = self._take(reader, max_rows + 1)
            columns = [(f.name, str(f.type)) for f in reader.schema]
        except duckdb.InterruptException as exc:
            raise timeout_error(timeout) from exc
        except (duckdb.OutOfMemoryException, MemoryError) as exc:
            raise memory_error(self.memory_limit) from exc
        except duckdb.Error as exc:
            text = str(exc).strip().splitlines()
            raise QueryError(text[0][:500] if text else type(exc).__name__) from None
        finally:
            self.watchdog.interrupt_at(math.inf, None)
            cursor.close()
        truncated = rows > max_rows
        if truncated:
            batches, rows = _cut(batches, max_rows)
        return QueryResult(columns, batches, rows, truncated, time.perf_counter() - clock)

    def _take(self, reader: pa.RecordBatchReader, limit: int) -> tuple[list[pa.RecordBatch], int]:
        batches, rows, size = [], 0, 0
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            size += batch.nbytes
            if size > self.max_result_bytes:
                raise ResultTooLarge(
                    f"the result is larger than {self.max_result_bytes / 2**20:,.0f} MiB "
                    "(a quarter of [serve] memory_limit); select fewer columns or rows, "
                    "aggregate, or raise that setting"
                )
            if rows >= limit:
                break
        return batches, rows

    def close(self) -> None:
        for con in self._bases.values():
            con.close()
        self._bases.clear()


def _cut(batches: list[pa.RecordBatch], limit: int) -> tuple[list[pa.RecordBatch], int]:
    kept, rows = [], 0
    for batch in batches:
        if rows + batch.num_rows > limit:
            batch = batch.slice(0, limit - rows)
        kept.append(batch)
        rows += batch.num_rows
        if rows >= limit:
            break
    return kept, rows
