"""Reading tables for the API: planned once per snapshot, held in memory, queried locked.

DuckDB's `enable_external_access = false` also stops it reading the Parquet files behind
the engine's views (measured: "Permission Error: Cannot access file ... file system
operations are disabled by configuration"). So the server reads each table itself,
planned by PyIceberg at a snapshot (or from the raw batch manifest), into an Arrow
table kept in an LRU cache keyed by that version; the rows endpoint pages through it and
the SQL sandbox (`batchlake.serve.sandbox`) copies it into its locked databases. A new
snapshot is a new key, so the cache is never stale, and a planned read is reused by
every request until the table changes.

A filtered read of an Iceberg table that is not in memory is planned under the filters
(`pruned`): only the data files whose partitions and column statistics can hold a
matching row are scanned.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from batchlake.engines import TableSource, connection
from batchlake.errors import NotFoundError, QueryError
from batchlake.lake import raw_version
from batchlake.serve import filters
from batchlake.serve.refresh import Refreshing

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.lake import Lake

# How long the list of tables and their current versions is trusted before re-planning.
_VERSION_TTL_SECONDS = 1.0
# Filtered plans kept (by table version and filters), least recently used dropped.
_PLANS_KEPT = 256


@dataclass(frozen=True)
class TableVersion:
    """A table at one version: what to read and the key it is cached under."""

    name: str
    version: str  # snapshot id, or a digest of the raw batch files
    source: TableSource
    file_bytes: int = 0  # size of its data files (from the snapshot summary or manifest)
    files_total: int | None = None  # a pruned read: the data files of the whole snapshot


class TableCache:
    """Arrow tables by (name, version), least recently used dropped beyond `max_bytes`."""

    def __init__(self, lake: Lake, max_bytes: int) -> None:
        self.lake = lake
        self.max_bytes = max_bytes
        self._tables: OrderedDict[tuple[str, str], pa.Table] = OrderedDict()
        self._versions: dict[str, Refreshing[TableVersion]] = {}
        self._names = Refreshing(lake.table_names, _VERSION_TTL_SECONDS)
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        self._plans: OrderedDict[tuple[str, str, str], TableVersion] = OrderedDict()

    # -- what exists ---------------------------------------------------------------------

    def table_names(self) -> list[str]:
        return self._names.get()

    def current(self, name: str) -> TableVersion:
        """The current version of a table, re-planned at most once a second."""
        fresh = self._versions.get(name)
        if fresh is None:
            fresh = self._versions.setdefault(
                name, Refreshing(lambda: self._plan(name, None), _VERSION_TTL_SECONDS)
            )
        return fresh.get()

    def peek_current(self, name: str) -> TableVersion | None:
        """The last planned version without waiting (re-planned in the background)."""
        fresh = self._versions.get(name)
        return fresh.peek() if fresh is not None else None

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
            digest = raw_version(source.files)
            _, src, entity = name.split(".")
            size = sum(b.bytes for b in self.lake.metadata.batches(src, entity))
            return TableVersion(name, digest, source, size)
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
        snap = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
        summary = snap.summary if snap is not None else None
        size = int(summary.get("total-files-size") or 0) if summary is not None else 0
        source = TableSource(name, files, schema.as_arrow())
        return TableVersion(name, str(snapshot_id), source, size)

    def pruned(self, version: TableVersion, wanted: list[tuple[str, str, str]]) -> TableVersion:
        """The version read under API filters: only the data files PyIceberg plans for
        them (the version itself for raw entities, empty tables and unprunable filters)."""
        if not wanted or version.name.startswith("raw.") or version.version == "None":
            return version
        key = (version.name, version.version, repr(sorted(wanted)))
        with self._lock:
            if key in self._plans:
                self._plans.move_to_end(key)
                return self._plans[key]
        table = self.lake.catalog.load(version.name)
        row_filter = filters.row_filter(wanted, version.source.schema, table.schema())
        planned = self.lake.plan_read(
            version.name, row_filter, snapshot_id=int(version.version), table=table
        )
        if planned.row_filter is None or planned.files_planned >= planned.files_total:
            found = version
        else:
            found = TableVersion(
                version.name,
                version.version,
                replace(version.source, files=planned.source.files),
                planned.file_bytes,
                planned.files_total,
            )
        with self._lock:
            self._plans[key] = found
            while len(self._plans) > _PLANS_KEPT:
                self._plans.popitem(last=False)
        return found

    # -- reading -------------------------------------------------------------------------

    def holds(self, version: TableVersion) -> bool:
        """Whether the whole table at `version` is in memory already."""
        with self._lock:
            return (version.name, version.version) in self._tables

    def fits(self, version: TableVersion) -> bool:
        """Whether the table is small enough to hold in memory (Parquet expands ~4× in Arrow);
        larger ones are scanned with filters pushed down instead (`batchlake.serve.scan`)."""
        return version.source.format != "parquet" or version.file_bytes * 4 <= self.max_bytes

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
            target = ".".join(connection.quote_ident(p) for p in source.name.split("."))
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
