"""Iceberg catalog access for the trusted and refined zones (PyIceberg).

A model result arrives as Parquet files already written under the table's location;
`LakeCatalog.commit` adds them and removes the files they replace (all of them for
`replace`) in ONE catalog transaction that makes ONE snapshot, with the table's
properties set in the same commit. Readers see the complete old or the complete new
contents, never a mix nor an empty in-between snapshot, and a killed writer leaves the
previous snapshot current.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchlake.catalog.partitioning import (
    PartitionField,
    data_files,
    fields_of,
    to_spec,
    transform_of,
)
from batchlake.errors import ModelError, NotFoundError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

    from batchlake.config import CatalogSettings
    from batchlake.storage.azure import AzureOptions
    from batchlake.storage.s3 import S3Options

ZONES = ("trusted", "refined")
PROP_UPSTREAM = "batchlake.upstream"
PROP_INPUTS = "batchlake.inputs-hash"
PROP_CONTENT = "batchlake.content-hash"
PROP_RUN = "batchlake.run-id"
# Incremental models (transform/incremental): what they consumed of each input (JSON: a
# raw input's last batch id, an Iceberg input's snapshot id), committed with their data.
PROP_CONSUMED = "batchlake.consumed"
# A snapshot's change feed (JSON list of Parquet files): the before and after images of
# every row the commit may have changed, written with it (transform/incremental/feed.py).
# Absent: the commit may have changed any row. Maintenance keeps these files with their
# snapshot.
PROP_CHANGED_ROWS = "batchlake.changed-rows"


def changed_row_files(summary: Any) -> list[str] | None:
    """The change feed files a snapshot summary names; None when it names none."""
    listed = summary.get(PROP_CHANGED_ROWS) if summary is not None else None
    return None if listed is None else list(json.loads(listed))


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    committed_at: datetime
    operation: str
    rows: int | None
    run_id: str | None


@dataclass(frozen=True)
class TableInfo:
    """What the catalog knows about one table."""

    zone: str
    name: str
    rows: int
    columns: list[tuple[str, str]]
    snapshot_id: int | None
    updated_at: datetime | None
    upstream: list[str] = field(default_factory=list)
    location: str = ""
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.zone}.{self.name}"


def split_name(full_name: str) -> tuple[str, str]:
    """`refined.sales_by_day` → ('refined', 'sales_by_day'); the zone must be known."""
    zone, _, name = full_name.partition(".")
    if zone not in ZONES or not name or "." in name:
        raise NotFoundError(
            f"'{full_name}' is not a table name; write <zone>.<table> with zone one of "
            f"{', '.join(ZONES)} (raw entities are raw.<source>.<entity>)"
        )
    return zone, name


class LakeCatalog:
    """The project's Iceberg catalog (a SQL catalog on SQLite by default)."""

    def __init__(
        self,
        settings: CatalogSettings,
        *,
        uri: str,
        warehouse: str,
        s3: S3Options | None = None,
        azure: AzureOptions | None = None,
        owned: bool = False,
    ) -> None:
        self.settings = settings
        self.uri = uri
        self.warehouse = warehouse
        self.s3 = s3
        self.azure = azure
        self.owned = owned  # the catalog database lives in the project (moves with it)

    @cached_property
    def iceberg(self) -> Catalog:
        from batchlake.catalog.loader import open_catalog
        from batchlake.catalog.relocation import claim, rebase_catalog

        if self.uri.startswith("sqlite:///"):
            Path(self.uri.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        if self.warehouse.startswith("file://"):
            Path(self.warehouse[len("file://") :]).mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(
            self.settings, uri=self.uri, warehouse=self.warehouse, s3=self.s3, azure=self.azure
        )
        for zone in ZONES:
            catalog.create_namespace_if_not_exists(zone)
        rebase_catalog(catalog, self.warehouse, owned=self.owned)  # a moved or copied project
        claim(self.warehouse, self.uri, kind="catalog", key="[catalog] uri")
        return catalog

    # -- reading -------------------------------------------------------------------------

    def table_names(self, zone: str | None = None) -> list[str]:
        names = []
        for z in ZONES if zone is None else (zone,):
            names += [f"{z}.{ident[-1]}" for ident in self.iceberg.list_tables(z)]
        return sorted(names)

    def exists(self, full_name: str) -> bool:
        return self.iceberg.table_exists(split_name(full_name))

    def load(self, full_name: str) -> Table:
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.iceberg.load_table(split_name(full_name))
        except NoSuchTableError as exc:
            raise NotFoundError(
                f"table {full_name} does not exist; run 'batchlake catalog' to list tables "
                "or 'batchlake run' to build it"
            ) from exc

    def info(self, full_name: str, table: Table | None = None) -> TableInfo:
        table = table or self.load(full_name)
        zone, name = split_name(full_name)
        snapshot = table.current_snapshot()
        rows = 0
        updated_at = None
        if snapshot is not None:
            summary = snapshot.summary
            total = summary.get("total-records") if summary else None
            rows = int(total) if total is not None else 0
            updated_at = datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC)
        props = dict(table.properties)
        upstream = [u for u in props.get(PROP_UPSTREAM, "").split(",") if u]
        columns = [(f.name, str(f.field_type)) for f in table.schema().fields]
        return TableInfo(
            zone,
            name,
            rows,
            columns,
            snapshot.snapshot_id if snapshot else None,
            updated_at,
            upstream,
            table.location(),
            props,
        )

    def snapshots(self, full_name: str) -> list[Snapshot]:
        table = self.load(full_name)
        found = []
        for snap in table.snapshots():
            summary = snap.summary
            rows: str | None = summary.get("total-records") if summary else None
            found.append(
                Snapshot(
                    snap.snapshot_id,
                    datetime.fromtimestamp(snap.timestamp_ms / 1000, UTC),
                    summary.operation.value if summary else "",
                    int(rows) if rows is not None else None,
                    summary.get(PROP_RUN) if summary else None,
                )
            )
        return found

    def data_files(self, table: Table, snapshot_id: int | None = None) -> list[str]:
        """The Parquet files making up a table (at a snapshot), as planned by PyIceberg."""
        if table.current_snapshot() is None:
            return []
        scan = table.scan(snapshot_id=snapshot_id)
        return [task.file.file_path for task in scan.plan_files()]

    # -- writing -------------------------------------------------------------------------

    def table_location(self, full_name: str) -> str:
        """Where a table's files live: its own location, or where it will be created."""
        if self.exists(full_name):
            return self.load(full_name).location().rstrip("/")
        zone, name = split_name(full_name)
        return f"{self.warehouse.rstrip('/')}/{zone}/{name}"

    def staging_location(self, full_name: str, run_id: str) -> str:
        """A fresh folder under the table's data folder for one write's files."""
        return f"{self.table_location(full_name)}/data/{run_id}-{uuid.uuid4().hex[:8]}"

    def ensure_table(
        self, full_name: str, schema: pa.Schema, partition_by: Sequence[PartitionField] = ()
    ) -> Table:
        """Load the table, creating it (empty, no snapshot) with `schema` if missing."""
        if self.exists(full_name):
            return self.load(full_name)
        from pyiceberg.exceptions import TableAlreadyExistsError
        from pyiceberg.io.pyarrow import pyarrow_to_schema
        from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC

        spec = UNPARTITIONED_PARTITION_SPEC
        iceberg_schema: Any = _portable(schema)
        if partition_by:
            # The spec names columns by field id: number them before creating the table.
            iceberg_schema = pyarrow_to_schema(pa_with_ids(iceberg_schema))
            spec = to_spec(iceberg_schema, list(partition_by))
        try:
            return self.iceberg.create_table(
                split_name(full_name),
                schema=iceberg_schema,
                location=self.table_location(full_name),
                partition_spec=spec,
            )
        except TableAlreadyExistsError:
            return self.load(full_name)

    def replace(
        self,
        table: Table,
        files: list[str],
        schema: pa.Schema,
        *,
        properties: dict[str, str],
        run_id: str,
        partition_by: Sequence[PartitionField] | None = None,
        summary: dict[str, str] | None = None,
    ) -> int:
        """Atomically make `files` the whole content of `table`; return the snapshot id.

        One catalog commit and ONE snapshot (an `overwrite` removing every current file
        and adding the new ones), so time travel never meets an empty in-between state.
        """
        snapshot_id = self.commit(
            table,
            add=files,
            remove=None,
            schema=schema,
            properties=properties,
            run_id=run_id,
            partition_by=partition_by,
            summary=summary,
        )
        assert snapshot_id is not None
        return snapshot_id

    def commit(
        self,
        table: Table,
        *,
        add: list[str],
        remove: list[DataFile] | None,
        schema: pa.Schema,
        properties: dict[str, str],
        run_id: str,
        partition_by: Sequence[PartitionField] | None = None,
        summary: dict[str, str] | None = None,
    ) -> int | None:
        """Add `add` and remove `remove` (None: every current file) in one snapshot.

        The table's properties are set in the same catalog commit, so what a model
        consumed (`summary` and `properties`) is committed exactly with its data. The
        schema (and, when given, the partition spec) evolve in that commit too. Returns
        the new snapshot id, or the current one when nothing was added or removed (a
        table's first commit always makes a snapshot, empty or not).
        """
        from pyiceberg.exceptions import CommitFailedException, ValidationError

        snapshot_properties = {PROP_RUN: run_id, **(summary or {})}
        for attempt in range(5):
            try:
                with table.transaction() as tx:
                    _evolve_schema(tx, table, schema)
                    if partition_by is not None:
                        _evolve_spec(tx, table, list(partition_by))
                    _ensure_name_mapping(tx)
                    removed = self.data_file_entries(table) if remove is None else remove
                    # A table's first commit is a snapshot even when empty: it carries
                    # what the build consumed, so the next run knows it was built.
                    if add or removed or table.current_snapshot() is None:
                        producer = tx.update_snapshot(snapshot_properties=snapshot_properties)
                        with producer.overwrite() as overwrite:
                            for data_file in removed:
                                overwrite.delete_data_file(data_file)
                            for data_file in data_files(table.io, tx.table_metadata, add):
                                overwrite.append_data_file(data_file)
                    tx.set_properties(properties)
                break
            except (CommitFailedException, ValidationError):
                if attempt == 4 or remove is not None:
                    raise  # a merge was computed against the files it read: run it again
                table = table.refresh()
        snapshot = table.refresh().current_snapshot()
        return snapshot.snapshot_id if snapshot else None

    def data_file_entries(self, table: Table, snapshot_id: int | None = None) -> list[DataFile]:
        """The Iceberg data files of a table (at a snapshot), as planned by PyIceberg."""
        if table.current_snapshot() is None:
            return []
        return [task.file for task in table.scan(snapshot_id=snapshot_id).plan_files()]

    def drop(self, full_name: str) -> None:
        if self.exists(full_name):
            self.iceberg.drop_table(split_name(full_name))


def _portable(schema: pa.Schema) -> pa.Schema:
    """The schema without field metadata, all fields nullable (what Parquet files carry)."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, f.type, nullable=True) for f in schema])


def pa_with_ids(schema: pa.Schema) -> pa.Schema:
    """The schema with Parquet field ids 1..n, as PyIceberg numbers a new table's columns."""
    import pyarrow as pa

    return pa.schema(
        [
            field.with_metadata({b"PARQUET:field_id": str(position).encode()})
            for position, field in enumerate(schema, start=1)
        ]
    )


def _ensure_name_mapping(tx: Any) -> None:
    """Files written without field ids (DuckDB, Spark) are read by name."""
    from pyiceberg.table import TableProperties

    if tx.table_metadata.name_mapping() is None:
        mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
        tx.set_properties(**{TableProperties.DEFAULT_NAME_MAPPING: mapping})


def _evolve_spec(tx: Any, table: Table, wanted: list[PartitionField]) -> None:
    """Make the table's partition spec `wanted` inside the transaction (new files use it)."""
    current = fields_of(table.spec(), table.schema())
    if current == wanted:
        return
    with tx.update_spec() as update:
        for old in table.spec().fields:
            update.remove_field(old.name)
        for new in wanted:
            update.add_field(new.column, transform_of(new), new.name)


def _evolve_schema(tx: Any, table: Table, schema: pa.Schema) -> None:
    """Make the table's schema match `schema` inside the transaction (add/drop/widen)."""
    current = {f.name for f in table.schema().fields}
    wanted = {f.name for f in schema}
    try:
        with tx.update_schema(allow_incompatible_changes=True) as update:
            update.union_by_name(_portable(schema))
            for name in sorted(current - wanted):
                update.delete_column(name)
    except (ValueError, TypeError) as exc:
        raise ModelError(
            f"the new result of {'.'.join(table.name()[1:])} has an incompatible schema ({exc}); "
            "run again with --full-refresh to recreate the table"
        ) from exc
