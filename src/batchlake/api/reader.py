"""Reading tables for the API: planned once per snapshot, held in memory, queried locked.

DuckDB's `enable_external_access = false` also stops it reading the Parquet files behind
the engine's views (measured: "Permission Error: Cannot access file ... file system
operations are disabled by configuration"). So the server reads each table itself,
planned by PyIceberg at a snapshot (or from the raw batch manifest), into an Arrow
table kept in an LRU cache keyed by that version; a query connection gets only the Arrow
tables its SQL names, registered before external access is switched off and the
configuration locked. A new snapshot is a new key, so the cache is never stale, and a
planned read is reused by every request until the table changes.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from batchlake import duck
from batchlake.engines import TableSource
from batchlake.errors import NotFoundError, QueryError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from batchlake.config import ServeSettings
    from batchlake.lake import Lake

# How long the list of tables and their current versions is trusted before re-planning.
_VERSION_TTL_SECONDS = 1.0


@dataclass(frozen=True)
class TableVersion:
    """A table at one version: what to read and the key it is cached under."""

    name: str
    version: str  # snapshot id, or a digest of the raw batch files
    source: TableSource


class TableCache:
    """Arrow tables by (name, version), least recently used dropped beyond `max_bytes`."""

    def __init__(self, lake: Lake, max_bytes: int) -> None:
        self.lake = lake
        self.max_bytes = max_bytes
        self._tables: OrderedDict[tuple[str, str], pa.Table] = OrderedDict()
        self._versions: dict[str, tuple[float, TableVersion]] = {}
        self._names: tuple[float, list[str]] | None = None
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}

    # -- what exists ---------------------------------------------------------------------

    def table_names(self) -> list[str]:
        now = time.monotonic()
        if self._names is None or now - self._names[0] > _VERSION_TTL_SECONDS:
            self._names = (now, self.lake.table_names())
        return self._names[1]

    def current(self, name: str) -> TableVersion:
        """The current version of a table, re-planned at most once a second."""
        now = time.monotonic()
        cached = self._versions.get(name)
        if cached is not None and now - cached[0] <= _VERSION_TTL_SECONDS:
            return cached[1]
        version = self._plan(name, None)
        self._versions[name] = (now, version)
        return version

    def at(self, name: str, as_of: str | None) -> TableVersion:
        """The table at a snapshot id or timestamp (`as_of`), or now when None."""
        if not as_of:
            return self.current(name)
        if name.startswith("raw."):
            raise QueryError("as_of applies to trusted and refined (Iceberg) tables only")
        return self._plan(name, as_of)

    def _plan(self, name: str, as_of: str | None) -> TableVersion:
        if name not in self.table_names():
            raise NotFoundError(f"no table {name} in the lake; GET /api/v1/tables lists them")
        if name.startswith("raw."):
            source = self.lake.raw_source(name)
            digest = hashlib.sha256(",".join(source.files).encode()).hexdigest()[:16]
            return TableVersion(name, digest, source)
        catalog = self.lake.catalog
        table = catalog.load(name)
        snapshot_id = _snapshot_for(table, as_of) if as_of else None
        if snapshot_id is None:
            current = table.current_snapshot()
            snapshot_id = current.snapshot_id if current else None
        schema = table.schema()
        if as_of and snapshot_id is not None:
            snap = table.snapshot_by_id(snapshot_id)
            if snap is not None and snap.schema_id is not None:
                schema = next(
                    (s for s in table.schemas().values() if s.schema_id == snap.schema_id), schema
                )
        files = catalog.data_files(table, snapshot_id) if snapshot_id is not None else []
        return TableVersion(name, str(snapshot_id), TableSource(name, files, schema.as_arrow()))

    # -- reading -------------------------------------------------------------------------

    def arrow(self, version: TableVersion) -> pa.Table:
        """The whole table at `version`, read once and then served from memory."""
        key = (version.name, version.version)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one reader per table version; the others wait for its result
            with self._lock:
                if key in self._tables:
                    return self._tables[key]
            table = self._read(version.source)
            with self._lock:
                self._loading.pop(key, None)
                if table.nbytes <= self.max_bytes:
                    self._tables[key] = table
                    self._evict()
        return table

    def _evict(self) -> None:
        total = sum(t.nbytes for t in self._tables.values())
        while total > self.max_bytes and self._tables:
            _, dropped = self._tables.popitem(last=False)
            total -= dropped.nbytes

    def _read(self, source: TableSource) -> pa.Table:
        """Read a table's files with the lake's engine (paths come from the catalog only)."""
        engine = self.lake.engine()
        try:
            engine.register([source])
            target = ".".join(duck.quote_ident(p) for p in source.name.split("."))
            return engine.query(f"SELECT * FROM {target}").read_all()
        finally:
            engine.close()


def _snapshot_for(table: object, as_of: str) -> int:
    """A snapshot id from `as_of`: an id of the table, or the snapshot current at a time."""
    from pyiceberg.table import Table

    assert isinstance(table, Table)
    text = as_of.strip()
    if text.lstrip("-").isdigit():
        snapshot = table.snapshot_by_id(int(text))
        if snapshot is None:
            ids = ", ".join(str(s.snapshot_id) for s in table.snapshots()[-5:])
            raise NotFoundError(f"no snapshot {text} of this table (recent: {ids})")
        return snapshot.snapshot_id
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(
            f"as_of '{as_of}' is neither a snapshot id nor an ISO timestamp "
            "(e.g. 2024-05-01T12:00:00Z)"
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    found = table.snapshot_as_of_timestamp(int(when.timestamp() * 1000))
    if found is None:
        raise NotFoundError(f"the table has no snapshot at or before {when.isoformat()}")
    return found.snapshot_id


@dataclass
class QueryResult:
    columns: list[tuple[str, str]]
    batches: list[pa.RecordBatch]
    rows: int
    truncated: bool
    seconds: float


def run_readonly(
    cache: TableCache, tables: frozenset[str], sql: str, settings: ServeSettings, max_rows: int
) -> QueryResult:
    """Run a checked SELECT in a connection that holds only `tables` and cannot reach out."""
    import duckdb

    arrows = {name: cache.arrow(cache.current(name)) for name in sorted(tables)}
    con = duck.connect(memory_limit=settings.memory_limit, threads=2)
    timer = threading.Timer(settings.query_timeout_seconds, con.interrupt)
    clock = time.perf_counter()
    try:
        _register(con, arrows)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        timer.start()
        try:
            reader = con.execute(sql).fetch_record_batch(min(max_rows + 1, 10_000))
            batches, rows = _take(reader, max_rows + 1)
        except duckdb.InterruptException as exc:
            raise QueryError(
                f"the query ran longer than {settings.query_timeout_seconds:g} s "
                "([serve] query_timeout_seconds) and was stopped"
            ) from exc
        except duckdb.Error as exc:
            text = str(exc).strip().splitlines()
            raise QueryError(text[0] if text else type(exc).__name__) from exc
        truncated = rows > max_rows
        if truncated:
            batches, rows = _cut(batches, max_rows)
        columns = [(f.name, str(f.type)) for f in reader.schema]
        return QueryResult(columns, batches, rows, truncated, time.perf_counter() - clock)
    finally:
        timer.cancel()
        con.close()


def _register(con: duckdb.DuckDBPyConnection, arrows: dict[str, pa.Table]) -> None:
    attached: set[str] = set()
    for i, (name, table) in enumerate(arrows.items()):
        parts = name.split(".")
        if len(parts) == 3 and parts[0] not in attached:
            con.execute(f"ATTACH ':memory:' AS {duck.quote_ident(parts[0])}")
            attached.add(parts[0])
        schema = ".".join(duck.quote_ident(p) for p in parts[:-1])
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        holder = f"__arrow_{i}"
        con.register(holder, table)
        target = ".".join(duck.quote_ident(p) for p in parts)
        con.execute(f"CREATE VIEW {target} AS SELECT * FROM {duck.quote_ident(holder)}")


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


def iter_batches(table: pa.Table, size: int = 10_000) -> Iterator[pa.RecordBatch]:
    yield from table.to_batches(max_chunksize=size)
