"""The one path that commits a result to its Iceberg table, for SQL models and Python steps.

A step is skipped when it was built from the same inputs (its definition and the version
of every table it reads: `inputs_fingerprint`, kept as a table property). Otherwise its
result is written to a staging folder of the table (`Staged`) and `promote`:
- keeps the current snapshot when the rows are the same (an order-independent content
  hash), only recording the new inputs fingerprint;
- else commits the files as the table's whole content in one catalog transaction.
Staged files that are not committed are deleted, also on failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from batchlake.catalog import PROP_CONTENT, PROP_INPUTS

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table

    from batchlake.catalog import TableInfo
    from batchlake.catalog.partitioning import PartitionField
    from batchlake.lake import Lake

PromotionStatus = Literal["success", "unchanged"]


@dataclass(frozen=True)
class Staged:
    """A result written as Parquet files in a fresh staging folder of its table."""

    table: str
    location: str
    files: list[str]
    schema: pa.Schema
    rows: int
    bytes: int
    content_hash: str


@dataclass(frozen=True)
class Counts:
    """Rows a build inserted, updated and deleted (by unique key where it has one)."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def text(self) -> str:
        return f"+{self.inserted} ~{self.updated} -{self.deleted}"


@dataclass(frozen=True)
class Promotion:
    """What promoting a result did to its table."""

    table: str
    status: PromotionStatus
    rows: int | None
    snapshot_id: int | None
    bytes: int | None = None
    message: str | None = None
    engine: str | None = None  # the engine that built it
    counts: Counts | None = None  # incremental kinds: what changed


def inputs_fingerprint(definition: str, versions: Mapping[str, str]) -> str:
    """A digest of what a step is built from: its definition and its inputs' versions."""
    digest = hashlib.sha256(definition.encode())
    for name in sorted(versions):
        digest.update(f"{name}={versions[name]};".encode())
    return digest.hexdigest()


def built_from(lake: Lake, tables: list[str], fingerprint: str) -> list[TableInfo] | None:
    """The tables' current state when every one was built from `fingerprint`, else None."""
    infos = []
    for name in tables:
        if not lake.catalog.exists(name):
            return None
        info = lake.catalog.info(name)
        if info.properties.get(PROP_INPUTS) != fingerprint or info.snapshot_id is None:
            return None
        infos.append(info)
    return infos


def promote(
    lake: Lake,
    staged: Staged,
    properties: dict[str, str],
    *,
    full_refresh: bool,
    run_id: str,
    partition_by: Sequence[PartitionField] | None = None,
) -> Promotion:
    """Commit `staged` as the table's content, unless its rows equal the current ones.

    `properties` (lineage, inputs fingerprint, content hash…) are set on the table in
    either case. The staged files are deleted when they are not committed. With
    `partition_by` (SQL models), the table's spec becomes it (none: unpartitioned).
    """
    properties = {**properties, PROP_CONTENT: staged.content_hash}
    try:
        table = lake.catalog.ensure_table(staged.table, staged.schema, partition_by or ())
        current = table.current_snapshot()
        respec = partition_by is not None and spec_of(table) != list(partition_by)
        if (
            current is not None
            and not full_refresh
            and not respec
            and table.properties.get(PROP_CONTENT) == staged.content_hash
        ):
            lake.storage.delete(staged.location)
            with table.transaction() as tx:
                tx.set_properties(properties)
            return Promotion(staged.table, "unchanged", staged.rows, current.snapshot_id)
        snapshot_id = lake.catalog.replace(
            table,
            staged.files,
            staged.schema,
            properties=properties,
            run_id=run_id,
            partition_by=partition_by,
        )
    except BaseException:
        lake.storage.delete(staged.location)
        raise
    message = None
    if respec and current is not None:
        spec = ", ".join(f.text for f in partition_by or ()) or "unpartitioned"
        message = f"partition spec evolved to {spec}; rebuilt in full"
    return Promotion(staged.table, "success", staged.rows, snapshot_id, staged.bytes, message)


def spec_of(table: Table) -> list[PartitionField]:
    """A table's partition spec in its declared form (`month(day)`, ...)."""
    from batchlake.catalog.partitioning import fields_of

    return fields_of(table.spec(), table.schema())
