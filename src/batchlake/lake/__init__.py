"""A lake project opened for use: settings, storage, metadata, catalog, and table lookup.

`Lake` is what commands and the runner share. It resolves any table name of the lake
(`raw.<source>.<entity>`, `trusted.<name>`, `refined.<name>`) to what an engine reads,
and answers SQL over all of them. Reads are planned: an Iceberg table read under a
filter (a query's WHERE, see `batchlake.lake.pruning`; an API or Python filter, see
`batchlake.lake.predicates`) hands the engine only the data files PyIceberg plans for
it, pruned by partition values and column statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from batchlake.catalog import ZONES, LakeCatalog, TableInfo
from batchlake.catalog.references import table_references, zone_hint
from batchlake.catalog.relocation import claim, rebase_raw
from batchlake.config import Project, load_project
from batchlake.engines import Engine, TableSource, create_engine
from batchlake.errors import ModelError, NotFoundError, QueryError
from batchlake.metadata import MetadataStore
from batchlake.storage import Storage, path_of
from batchlake.storage.azure import AzureOptions, is_azure, normalize_location
from batchlake.storage.s3 import S3Options

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.schema import Schema
    from pyiceberg.table import FileScanTask, Table


@dataclass(frozen=True)
class RawEntityInfo:
    """A raw entity as the catalog lists it (built from the batch manifest)."""

    source: str
    entity: str
    rows: int
    batches: int
    last_batch_id: str
    updated_at: datetime
    columns: list[tuple[str, str]]

    @property
    def full_name(self) -> str:
        return f"raw.{self.source}.{self.entity}"


@dataclass(frozen=True)
class PlannedRead:
    """One table of a read: the files the engine is handed and how they were chosen."""

    source: TableSource
    row_filter: BooleanExpression | None  # None: no filter (every file of the snapshot)
    files_total: int  # data files of the table (at the snapshot read)
    file_bytes: int = 0  # size of the planned files (Iceberg tables)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def files_planned(self) -> int:
        return len(self.source.files)


class Lake:
    """An opened lake project."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.settings = project.settings
        # (table location, snapshot id) → whether its files' partition values can be
        # trusted to prune (`_trusted_partitions`); a snapshot never changes.
        self._trusted: dict[tuple[str, int], bool] = {}

    @classmethod
    def open(cls, path: Path | str = ".") -> Lake:
        return cls(load_project(path))

    @cached_property
    def s3(self) -> S3Options:
        return S3Options.from_settings(self.settings.storage)

    @cached_property
    def azure(self) -> AzureOptions:
        return AzureOptions.from_settings(self.settings.storage)

    @cached_property
    def storage(self) -> Storage:
        root = self.project.resolve_location(self.settings.storage.root)
        if is_azure(root):
            root = normalize_location(root)
        return Storage(root, self.s3, self.azure)

    @cached_property
    def metadata(self) -> MetadataStore:
        url = self.project.resolve_url(self.settings.metadata.url)
        store = MetadataStore(url)
        rebase_raw(store, self.storage, owned=self._inside(url))  # a moved or copied project
        claim(self.storage.root, url, kind="metadata database", key="[metadata] url")
        return store

    @cached_property
    def catalog(self) -> LakeCatalog:
        cat = self.settings.catalog
        warehouse = cat.warehouse or self.storage.warehouse
        if is_azure(warehouse):
            warehouse = normalize_location(warehouse)
        uri = self.project.resolve_url(cat.uri)
        return LakeCatalog(
            cat,
            uri=uri,
            warehouse=warehouse,
            s3=self.s3,
            azure=self.azure if self.uses_azure else None,
            owned=self._inside(uri),
        )

    def _inside(self, url: str) -> bool:
        """Whether a database URL is a SQLite file of this project (moved along with it)."""
        if not url.startswith("sqlite:///"):
            return False
        return Path(url[len("sqlite:///") :]).resolve().is_relative_to(self.project.root)

    def engine(self, temp_directory: str | None = None) -> Engine:
        return create_engine(
            self.settings.engine,
            temp_directory=temp_directory,
            s3=self.s3 if self.uses_s3 else None,
            azure=self.azure if self.uses_azure else None,
        )

    @property
    def uses_s3(self) -> bool:
        """Whether the storage root or the catalog warehouse is on S3."""
        warehouse = self.settings.catalog.warehouse or ""
        return self.storage.scheme in ("s3", "s3a") or warehouse.startswith(("s3://", "s3a://"))

    @property
    def uses_azure(self) -> bool:
        """Whether the storage root or the catalog warehouse is on Azure Blob Storage."""
        return is_azure(self.storage.root) or is_azure(self.settings.catalog.warehouse or "")

    # -- tables --------------------------------------------------------------------------

    def raw_source(self, name: str) -> TableSource:
        _, source, entity = name.split(".")
        batches = self.metadata.batches(source, entity)
        if not batches:
            raise NotFoundError(
                f"{name} has no captured data; run 'batchlake ingest {source}.{entity}'"
            )
        files = [b.path for b in batches if b.path]
        if batches[-1].format == "jsonl":
            import pyarrow as pa

            return TableSource(name, files, pa.schema([]), format="jsonl")
        import pyarrow.parquet as pq

        schema = pq.read_schema(path_of(files[-1]), filesystem=self.storage.filesystem)
        return TableSource(name, files, schema)

    def plan(self, name: str) -> tuple[str, TableSource]:
        """A table's current version token and what an engine reads for it.

        Raw entities: a digest of their batch files (each written batch is one file named
        by its batch id, so the list is the version); Iceberg tables: the snapshot id.
        """
        if name.startswith("raw."):
            source = self.raw_source(name)
            return raw_version(source.files), source
        table = self.catalog.load(name)
        snapshot = table.current_snapshot()
        source = TableSource(name, self.catalog.data_files(table), table.schema().as_arrow())
        return str(snapshot.snapshot_id if snapshot else None), source

    def table_source(self, name: str) -> TableSource:
        return self.plan_read(name).source

    def plan_read(
        self,
        name: str,
        row_filter: BooleanExpression | None = None,
        *,
        snapshot_id: int | None = None,
        table: Table | None = None,
    ) -> PlannedRead:
        """What an engine reads for a table: for an Iceberg table, the data files that
        PyIceberg plans under `row_filter` at a snapshot (the current one by default).

        Raw entities have no partitions or file statistics in a catalog: every batch.
        """
        if name.startswith("raw."):
            source = self.raw_source(name)
            return PlannedRead(source, None, len(source.files))
        table = table or self.catalog.load(name)
        snapshot = (
            table.snapshot_by_id(snapshot_id)
            if snapshot_id is not None
            else table.current_snapshot()
        )
        if snapshot is None:
            return PlannedRead(TableSource(name, [], table.schema().as_arrow()), row_filter, 0)
        schema = (
            table.schema()
            if snapshot_id is None
            else table.scan(snapshot_id=snapshot_id).projection()
        )
        tasks, used = self.planned_tasks(table, snapshot.snapshot_id, row_filter, schema)
        summary = snapshot.summary
        total = summary.get("total-data-files") if summary is not None else None
        source = TableSource(name, [t.file.file_path for t in tasks], schema.as_arrow())
        return PlannedRead(
            source,
            used,
            int(total) if total is not None else len(tasks),
            sum(t.file.file_size_in_bytes for t in tasks),
        )

    def planned_tasks(
        self,
        table: Table,
        snapshot_id: int,
        row_filter: BooleanExpression | None,
        schema: Schema | None = None,
    ) -> tuple[list[FileScanTask], BooleanExpression | None]:
        """PyIceberg's plan of a snapshot under a row filter, and the filter it used
        (None: every file is planned, because pruning would not be exact).

        Every file is planned when the filter does not bind (a column the snapshot does
        not have); when a column of the schema has values in some file of the snapshot
        but in none of the planned ones (an engine reading Parquet files by name would
        not see it); and when a file's partition values are missing although its rows
        have them (written from statistics a writer did not record), which would
        prune files that hold matching rows.
        """
        from pyiceberg.expressions import AlwaysTrue

        every = table.scan(snapshot_id=snapshot_id)
        if row_filter is None or row_filter == AlwaysTrue():
            return list(every.plan_files()), None
        try:
            tasks = list(table.scan(row_filter=row_filter, snapshot_id=snapshot_id).plan_files())
        except (ValueError, TypeError):
            return list(every.plan_files()), None
        schema = schema or table.schema()
        columns = {f.field_id for f in schema.fields if f.field_type.is_primitive}
        missing = columns - _counted(tasks) if tasks else set()
        all_tasks: list[FileScanTask] | None = None
        if missing:  # column statistics may be off: missing only if another file has them
            all_tasks = list(every.plan_files())
            if missing & _counted(all_tasks):
                return all_tasks, None
        key = (table.location(), snapshot_id)
        if key not in self._trusted:
            if len(self._trusted) > 4096:
                self._trusted.clear()
            self._trusted[key] = _trusted_partitions(table, snapshot_id, all_tasks)
        if not self._trusted[key]:
            return all_tasks if all_tasks is not None else list(every.plan_files()), None
        return tasks, row_filter

    def table_names(self) -> list[str]:
        raw = [f"raw.{s}.{e}" for s, e in self.metadata.raw_entities()]
        return raw + self.catalog.table_names()

    def table_info(self, name: str) -> TableInfo:
        return self.catalog.info(name)

    def raw_info(self) -> list[RawEntityInfo]:
        import json

        found = []
        for source, entity in self.metadata.raw_entities():
            batches = self.metadata.batches(source, entity)
            last = batches[-1]
            columns = [(c["name"], c["type"]) for c in json.loads(last.schema_json)]
            found.append(
                RawEntityInfo(
                    source,
                    entity,
                    sum(b.rows for b in batches),
                    len(batches),
                    last.batch_id,
                    last.finished_at,
                    columns,
                )
            )
        return found

    # -- SQL -----------------------------------------------------------------------------

    def plan_query(self, sql: str) -> list[PlannedRead]:
        """The tables a SELECT reads and, for each, the files it can need (its WHERE
        conditions on the table's columns prune by partition and file statistics)."""
        known = set(self.table_names())
        try:
            referenced = table_references(sql)
        except ModelError as exc:
            if "does not parse" not in str(exc):
                raise QueryError(str(exc).replace("query: ", "")) from exc
            referenced = known  # sqlglot cannot parse it: let the engine judge, with all tables
        unknown = sorted(
            name for name in referenced - known if name.split(".")[0] in ("raw", *ZONES)
        )
        if unknown:
            raise NotFoundError(
                f"no table {', '.join(unknown)} in the lake; "
                "run 'batchlake catalog' to list tables (or 'batchlake run' to build them)"
            )
        from batchlake.lake.pruning import sql_row_filters

        wanted = sorted(referenced & known)
        tables = {name: self.catalog.load(name) for name in wanted if not name.startswith("raw.")}
        filters = sql_row_filters(sql, {name: t.schema() for name, t in tables.items()})
        return [self.plan_read(name, filters.get(name), table=tables.get(name)) for name in wanted]

    def query(self, sql: str, *, batch_rows: int = 100_000) -> tuple[Engine, pa.RecordBatchReader]:
        """Answer a SELECT over the lake's tables; the caller closes the returned engine.

        Each Iceberg table is read from the files its WHERE conditions can need only
        (`plan_query`); the SQL is run unchanged, so the answer is the same.
        """
        planned = self.plan_query(sql)
        engine = self.engine()
        try:
            engine.register(read.source for read in planned)
            return engine, engine.query(sql, batch_rows=batch_rows)
        except QueryError as exc:
            engine.close()
            hint = self._zone_hint(str(exc), sql)
            if hint is None:
                raise
            raise NotFoundError(hint) from exc
        except BaseException:
            engine.close()
            raise

    def _zone_hint(self, error: str, sql: str) -> str | None:
        try:
            referenced = table_references(sql)
        except ModelError:
            return None
        return zone_hint(error, referenced, set(self.table_names()))

    def query_table(self, sql: str) -> pa.Table:
        """Answer a SELECT and return the whole result as an Arrow table."""
        engine, reader = self.query(sql)
        try:
            return reader.read_all()
        finally:
            engine.close()


def raw_version(files: list[str]) -> str:
    """The version token of a raw entity: a digest of its batch files, in order."""
    import hashlib

    return hashlib.sha256(",".join(files).encode()).hexdigest()


def _counted(tasks: list[FileScanTask]) -> set[int]:
    """The field ids some of the files have value or null counts for."""
    counted: set[int] = set()
    for task in tasks:
        counted.update(task.file.value_counts or {})
        counted.update(task.file.null_value_counts or {})
    return counted


def _trusted_partitions(table: Table, snapshot_id: int, tasks: list[FileScanTask] | None) -> bool:
    """Whether every NULL partition value of the snapshot's files is a true one: a file
    holds one partition, so its value is NULL only if the source column is NULL in all
    its rows. The manifest list says which manifests hold NULL partition values at all;
    only then are the files read."""
    snapshot = table.snapshot_by_id(snapshot_id)
    if snapshot is None:
        return True
    manifests = snapshot.manifests(table.io)
    if not any(s.contains_null for m in manifests for s in (m.partitions or [])):
        return True
    specs = table.specs()
    for task in tasks if tasks is not None else table.scan(snapshot_id=snapshot_id).plan_files():
        data_file = task.file
        nulls = data_file.null_value_counts or {}
        for position, field in enumerate(specs[data_file.spec_id].fields):
            dropped = str(field.transform) == "void"  # a field removed from a v1 spec
            all_null = nulls.get(field.source_id) == data_file.record_count
            if data_file.partition[position] is None and not dropped and not all_null:
                return False
    return True
