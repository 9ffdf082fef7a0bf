"""Keeping a lake tidy: expire old snapshots, delete orphan files, compact small files.

Every commit adds snapshots (a replace makes two: the delete and the append), and failed
or killed writes leave files that no table references. PyIceberg's expiry removes
snapshots from the metadata but deletes no file, so orphans are found here the safe way:
list the files first, then load the table and collect everything any remaining snapshot
or metadata-log entry references, and delete only unreferenced files older than a grace
period longer than any write. The raw zone gets the same treatment: batch files that no
manifest row records (a capture killed between its rename and its record), leftover
temporary files, and diff state files no longer current. Raw retention (`raw_retention`,
`raw_keep_batches`, see `batchlake.ops.retention`) expires old raw batches first.

Maintenance holds the run lock, so no run commits while it works.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from batchlake.catalog import PROP_CHANGED_ROWS, changed_row_files
from batchlake.errors import LockError
from batchlake.metadata import utcnow
from batchlake.storage import path_of

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from batchlake.lake import Lake
    from batchlake.ops.retention import Consumption

RUN_LOCK = "run"  # the runner's lock: maintenance never overlaps a run


@dataclass(frozen=True)
class Policy:
    """What to keep. Snapshots are expired only when BOTH older than `retain` and not
    among the `keep_last` newest; files are deleted only when older than `grace`."""

    retain: timedelta = timedelta(days=7)
    keep_last: int = 5
    grace: timedelta = timedelta(hours=24)
    compact_min_files: int = 8  # compact a table once its current data is in this many files
    compact_max_file_bytes: int = 32 * 1024 * 1024  # ... of at most this average size
    raw_retention: bool = True  # apply the sources' raw_retention / raw_keep_batches
    dry_run: bool = False


@dataclass
class TableReport:
    """What maintenance did (or, in a dry run, would do) to one table or raw entity."""

    name: str
    snapshots_expired: int = 0
    snapshots_left: int = 0
    orphans_deleted: int = 0
    orphan_bytes: int = 0
    files_before: int = 0
    files_after: int = 0
    batches_expired: int = 0  # raw entities: batches expired by retention
    expired_bytes: int = 0
    batches_held: int = 0  # ... due by the retention keys, kept for an incremental model
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _File:
    path: str  # without scheme, as pyarrow filesystems take it
    size: int
    modified: datetime


def maintain(
    lake: Lake,
    tables: Iterable[str] | None = None,
    *,
    policy: Policy = Policy(),
    compact: bool = True,
    on_table: Callable[[TableReport], None] | None = None,
) -> list[TableReport]:
    """Maintain the named tables (default: every Iceberg table and raw entity)."""
    names = list(tables) if tables else lake.table_names()
    holder = f"maintain-{uuid.uuid4().hex[:8]}"
    ttl = timedelta(seconds=lake.settings.run.lock_ttl_seconds)
    if lake.metadata.acquire_lock(RUN_LOCK, holder, ttl) is not None:
        raise LockError(
            "a run is in progress on this project; run 'batchlake maintain' when it has finished"
        )
    reports = []
    try:
        raw = [n for n in names if n.startswith("raw.")]
        readers = None
        if raw and policy.raw_retention:
            from batchlake.ops.retention import consumption

            readers = consumption(lake)  # read before any expiry, once for every entity
        for name in [n for n in names if not n.startswith("raw.")]:
            report = _maintain_table(lake, name, policy, compact)
            reports.append(report)
            if on_table is not None:
                on_table(report)
        for name in raw:
            report = _maintain_raw(lake, name, policy, readers)
            reports.append(report)
            if on_table is not None:
                on_table(report)
    finally:
        lake.metadata.release_lock(RUN_LOCK, holder)
    return reports


# -- Iceberg tables ------------------------------------------------------------------------


def _maintain_table(lake: Lake, name: str, policy: Policy, compact: bool) -> TableReport:
    report = TableReport(name)
    # Files are listed BEFORE the table is loaded: a file written after this listing is
    # never a candidate, and one committed in between is referenced by what we load.
    listed = _list(lake, lake.catalog.table_location(name))
    table = lake.catalog.load(name)
    if compact:
        table = _compact(lake, name, table, policy, report)
    table = _expire(table, policy, report)
    referenced = _referenced(table)
    cutoff = utcnow() - policy.grace
    for file in listed:
        if file.path in referenced or file.modified > cutoff:
            continue
        report.orphans_deleted += 1
        report.orphan_bytes += file.size
        if not policy.dry_run:
            lake.storage.filesystem.delete_file(file.path)
    report.snapshots_left = len(table.metadata.snapshots)
    return report


def _expire(table: Table, policy: Policy, report: TableReport) -> Table:
    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    protected = {ref.snapshot_id for ref in table.metadata.refs.values()}
    cutoff_ms = int((utcnow() - policy.retain).timestamp() * 1000)
    newest = {s.snapshot_id for s in snapshots[-policy.keep_last :]} if policy.keep_last else set()
    doomed = [
        s.snapshot_id
        for s in snapshots
        if s.timestamp_ms < cutoff_ms and s.snapshot_id not in newest | protected
    ]
    report.snapshots_expired = len(doomed)
    if doomed and not policy.dry_run:
        table.maintenance.expire_snapshots().by_ids(doomed).commit()
        table = table.refresh()
    return table


def _referenced(table: Table) -> set[str]:
    """Every file the table's metadata reaches: metadata files, manifest lists, manifests,
    data files and change feed of every remaining snapshot (paths without scheme)."""
    io = table.io
    found = {table.metadata_location}
    found.update(entry.metadata_file for entry in table.metadata.metadata_log)
    for snapshot in table.metadata.snapshots:
        found.add(snapshot.manifest_list)
        found.update(changed_row_files(snapshot.summary) or [])  # its change feed
        for manifest in snapshot.manifests(io):
            found.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=False):
                found.add(entry.data_file.file_path)
    for statistics in table.metadata.statistics:
        found.add(statistics.statistics_path)
    return {path_of(p) for p in found}


def _compact(lake: Lake, name: str, table: Table, policy: Policy, report: TableReport) -> Table:
    """Rewrite the current data into fewer files when it is spread over many small ones."""
    files = lake.catalog.data_files(table)
    report.files_before = report.files_after = len(files)
    if len(files) < policy.compact_min_files:
        return table
    sizes = [lake.storage.size(f) for f in files]
    if sum(sizes) / len(sizes) > policy.compact_max_file_bytes:
        return table
    if policy.dry_run:
        report.notes.append(f"would compact {len(files)} files")
        return table
    from batchlake.catalog import PROP_CONTENT
    from batchlake.catalog.partitioning import fields_of
    from batchlake.engines import TableSource

    run_id = f"maintain-{utcnow():%Y%m%dT%H%M%S}"
    location = lake.catalog.staging_location(name, run_id)
    lake.storage.makedirs(location.rsplit("/", 1)[0])
    temp = lake.project.state_dir / "tmp" / run_id
    temp.mkdir(parents=True, exist_ok=True)
    engine = lake.engine(temp_directory=str(temp))
    spec = fields_of(table.spec(), table.schema())  # a partitioned table stays so: a file each
    try:
        engine.register([TableSource(name, files, table.schema().as_arrow())])
        written = engine.materialize(f"SELECT * FROM {name}", location, spec)
    finally:
        engine.close()
    if len(written.files) >= len(files) or (
        table.properties.get(PROP_CONTENT) not in (None, written.content_hash)
    ):
        # Not fewer files, or (never expected) not the same rows: keep the table as it is.
        lake.storage.delete(location)
        report.notes.append("compaction skipped: the rewrite was not smaller or not equal")
        return table
    lake.catalog.replace(
        table,
        written.files,
        written.schema,
        properties=dict(table.properties),
        run_id=run_id,
        partition_by=spec,
        summary={PROP_CHANGED_ROWS: "[]"},  # the same rows: an empty change feed
    )
    report.files_after = len(written.files)
    return table.refresh()


# -- raw entities --------------------------------------------------------------------------


def _maintain_raw(
    lake: Lake, name: str, policy: Policy, readers: Consumption | None
) -> TableReport:
    """Expire batches by retention; delete files no live manifest row records (killed
    captures, expiries), superseded diff states and stale temp files."""
    report = TableReport(name)
    _, source, entity = name.split(".")
    expired_files = 0
    if readers is not None:
        from batchlake.ops.retention import expire_raw

        expiry = expire_raw(lake, source, entity, readers, dry_run=policy.dry_run)
        report.batches_expired = len(expiry.expired)
        report.expired_bytes = expiry.bytes
        report.batches_held = expiry.held
        report.notes += expiry.notes
        expired_files = sum(1 for b in expiry.expired for f in (b.path, b.quarantine_path) if f)
    folder = lake.storage.join("raw", source, entity)
    listed = _list(lake, folder)  # before reading the manifest, as for tables
    recorded = set()
    for batch in lake.metadata.batches(source, entity, status=None):
        if batch.status == "expired":
            continue  # its files are deleted (or due: a killed expiry)
        for location in (batch.path, batch.quarantine_path):
            if location:
                recorded.add(path_of(location))
    state = lake.metadata.diff_state(source, entity)  # older states are superseded
    if state is not None:
        recorded.add(path_of(state))
    cutoff = utcnow() - policy.grace
    for file in listed:
        if file.path in recorded or file.modified > cutoff:
            continue
        report.orphans_deleted += 1
        report.orphan_bytes += file.size
        if not policy.dry_run:
            lake.storage.filesystem.delete_file(file.path)
    if policy.dry_run:  # the expired batches' files are still there, and listed
        report.files_before = len(listed)
        report.files_after = len(listed) - report.orphans_deleted - expired_files
    else:
        report.files_before = len(listed) + expired_files
        report.files_after = len(listed) - report.orphans_deleted
    return report


def _list(lake: Lake, location: str) -> list[_File]:
    found = []
    for info in lake.storage.file_infos(location):
        modified = info.mtime
        if modified is None:  # some object stores omit it: treat as brand new (kept)
            modified = utcnow()
        elif modified.tzinfo is None:
            modified = modified.replace(tzinfo=utcnow().tzinfo)
        found.append(_File(info.path, int(info.size or 0), modified))
    return found
