"""The second gate of `POST /query`: locked DuckDB databases holding only catalog tables.

A database is built once per set of tables at their versions: the Arrow tables (read by
`TableCache`) are copied in with `CREATE TABLE ... AS`, then `enable_external_access`
is switched off and `lock_configuration` on, so nothing that runs there can read or write
a file, reach the network, load an extension or undo those settings. Each query runs on
its own cursor of that database (interruptible alone, by a timer thread at the time
limit). The few most recently used databases are kept: opening DuckDB costs ~25 ms,
a cursor well under 1 ms.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchlake.engines import connection
from batchlake.errors import QueryError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from batchlake.config import ServeSettings
    from batchlake.serve.reader import TableCache, TableVersion

Key = tuple[tuple[str, str], ...]  # (table, version) pairs


@dataclass
class QueryResult:
    columns: list[tuple[str, str]]
    batches: list[pa.RecordBatch]
    rows: int
    truncated: bool
    seconds: float


class _Locked:
    """One sealed in-memory database and how many queries use it now."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.active = 0
        self.retired = False


class QueryRunner:
    def __init__(self, cache: TableCache, settings: ServeSettings, keep: int = 8) -> None:
        self.cache = cache
        self.settings = settings
        self.keep = keep
        self._bases: OrderedDict[Key, _Locked] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Key, threading.Lock] = {}

    def run(self, tables: frozenset[str], sql: str, max_rows: int) -> QueryResult:
        """Run a checked SELECT over `tables`; at most `max_rows` rows come back."""
        import duckdb

        versions = {name: self.cache.current(name) for name in sorted(tables)}
        key = tuple((name, v.version) for name, v in versions.items())
        base = self._acquire(key, versions)
        clock = time.perf_counter()
        cursor = base.con.cursor()
        timer = threading.Timer(self.settings.query_timeout_seconds, cursor.interrupt)
        timer.start()
        try:
            reader = cursor.execute(sql).fetch_record_batch(min(max_rows + 1, 10_000))
            batches, rows = _take(reader, max_rows + 1)
            columns = [(f.name, str(f.type)) for f in reader.schema]
        except duckdb.InterruptException as exc:
            raise QueryError(
                f"the query ran longer than {self.settings.query_timeout_seconds:g} s "
                "([serve] query_timeout_seconds) and was stopped"
            ) from exc
        except duckdb.Error as exc:
            text = str(exc).strip().splitlines()
            raise QueryError(text[0] if text else type(exc).__name__) from exc
        finally:
            timer.cancel()
            cursor.close()
            self._release(base)
        truncated = rows > max_rows
        if truncated:
            batches, rows = _cut(batches, max_rows)
        return QueryResult(columns, batches, rows, truncated, time.perf_counter() - clock)

    def _acquire(self, key: Key, versions: dict[str, TableVersion]) -> _Locked:
        with self._lock:
            base = self._bases.get(key)
            if base is not None:
                self._bases.move_to_end(key)
                base.active += 1
                return base
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one build per key; concurrent askers wait for it
            with self._lock:
                base = self._bases.get(key)
                if base is not None:
                    base.active += 1
                    return base
            arrows = {name: self.cache.arrow(v) for name, v in versions.items()}
            base = _Locked(sealed_database(arrows, self.settings))
            with self._lock:
                self._building.pop(key, None)
                self._bases[key] = base
                base.active += 1
                while len(self._bases) > self.keep:
                    _, old = self._bases.popitem(last=False)
                    old.retired = True
                    if old.active == 0:
                        old.con.close()
        return base

    def _release(self, base: _Locked) -> None:
        with self._lock:
            base.active -= 1
            if base.retired and base.active == 0:
                base.con.close()

    def close(self) -> None:
        with self._lock:
            for base in self._bases.values():
                base.con.close()
            self._bases.clear()


def sealed_database(
    arrows: dict[str, pa.Table], settings: ServeSettings
) -> duckdb.DuckDBPyConnection:
    """A new in-memory database with `arrows` as tables, then cut off from the outside."""
    con = connection.connect(memory_limit=settings.memory_limit, threads=2)
    attached: set[str] = set()
    try:
        for name, table in arrows.items():
            parts = name.split(".")
            if len(parts) == 3 and parts[0] not in attached:  # raw.<source>.<entity>
                con.execute(f"ATTACH ':memory:' AS {connection.quote_ident(parts[0])}")
                attached.add(parts[0])
            schema = ".".join(connection.quote_ident(p) for p in parts[:-1])
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.register("__arrow", table)
            target = ".".join(connection.quote_ident(p) for p in parts)
            con.execute(f"CREATE TABLE {target} AS SELECT * FROM __arrow")
            con.unregister("__arrow")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _take(reader: pa.RecordBatchReader, limit: int) -> tuple[list[pa.RecordBatch], int]:
    batches, rows = [], 0
    for batch in reader:
        batches.append(batch)
        rows += batch.num_rows
        if rows >= limit:
            break
    return batches, rows


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
