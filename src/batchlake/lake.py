"""A lake project opened for use: settings, storage, metadata, catalog, and table lookup.

`Lake` is what commands and the runner share. It resolves any table name of the lake
(`raw.<source>.<entity>`, `trusted.<name>`, `refined.<name>`) to what an engine reads,
and answers SQL over all of them.
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
from batchlake.storage.s3 import S3Options

if TYPE_CHECKING:
    import pyarrow as pa


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


class Lake:
    """An opened lake project."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.settings = project.settings

    @classmethod
    def open(cls, path: Path | str = ".") -> Lake:
        return cls(load_project(path))

    @cached_property
    def s3(self) -> S3Options:
        return S3Options.from_settings(self.settings.storage)

    @cached_property
    def storage(self) -> Storage:
        return Storage(self.project.resolve_location(self.settings.storage.root), self.s3)

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
        uri = self.project.resolve_url(cat.uri)
        return LakeCatalog(cat, uri=uri, warehouse=warehouse, s3=self.s3, owned=self._inside(uri))

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
        )

    @property
    def uses_s3(self) -> bool:
        """Whether the storage root or the catalog warehouse is on S3."""
        warehouse = self.settings.catalog.warehouse or ""
        return self.storage.scheme in ("s3", "s3a") or warehouse.startswith(("s3://", "s3a://"))

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
        if name.startswith("raw."):
            return self.raw_source(name)
        table = self.catalog.load(name)
        return TableSource(name, self.catalog.data_files(table), table.schema().as_arrow())

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

    def query(self, sql: str, *, batch_rows: int = 100_000) -> tuple[Engine, pa.RecordBatchReader]:
        """Answer a SELECT over the lake's tables; the caller closes the returned engine."""
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
        wanted = referenced & known
        engine = self.engine()
        try:
            engine.register(self.table_source(name) for name in sorted(wanted))
            return engine, engine.query(sql, batch_rows=batch_rows)
        except QueryError as exc:
            engine.close()
            hint = zone_hint(str(exc), referenced, known)
            if hint is None:
                raise
            raise NotFoundError(hint) from exc
        except BaseException:
            engine.close()
            raise

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
