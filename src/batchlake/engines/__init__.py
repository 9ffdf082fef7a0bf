"""Compute engines: run a model's SQL (DuckDB dialect) over named tables, write the result.

An engine reads tables given as Parquet files plus an Arrow schema (`TableSource`) and
writes a query result as Parquet files into a storage location (`materialize`). The
catalog then commits those files. Callers never see which engine ran, so DuckDB (the
default) and Spark (`batchlake[spark]`) are interchangeable.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from batchlake.errors import ConfigError, ModelError

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.catalog.partitioning import PartitionField
    from batchlake.config import EngineSettings
    from batchlake.storage.azure import AzureOptions
    from batchlake.storage.s3 import S3Options


@dataclass(frozen=True)
class TableSource:
    """A table as an engine reads it: `name` is `zone.table` or `raw.source.entity`."""

    name: str
    files: list[str]
    schema: pa.Schema
    format: str = "parquet"  # or "jsonl": gzip JSON Lines of raw API/document captures


@dataclass(frozen=True)
class RowDigest:
    """An order-independent digest of rows: their count and the sum of their hashes.

    Digests add and subtract: a table's digest after a merge is its old digest minus the
    rows it replaced plus the rows it gained, so an incremental build and a full rebuild
    of the same rows end with the same `content_hash`.
    """

    rows: int = 0
    total: int = 0

    def __add__(self, other: RowDigest) -> RowDigest:
        return RowDigest(self.rows + other.rows, self.total + other.total)

    def __sub__(self, other: RowDigest) -> RowDigest:
        return RowDigest(self.rows - other.rows, self.total - other.total)

    @property
    def text(self) -> str:
        return f"{self.rows}:{self.total}"

    @classmethod
    def parse(cls, text: str) -> RowDigest:
        rows, total = text.split(":")
        return cls(int(rows), int(total))


def content_hash_of(schema: pa.Schema, digest: RowDigest) -> str:
    """The content hash of rows with this digest and schema (equal on every engine)."""
    import hashlib

    hashed = hashlib.sha256(str(schema).encode())
    if digest.rows:
        hashed.update(digest.text.encode())
    return hashed.hexdigest()


@dataclass(frozen=True)
class Materialized:
    """What `Engine.materialize` wrote."""

    files: list[str]
    schema: pa.Schema
    rows: int
    bytes: int
    content_hash: str
    engine: str = ""  # which engine wrote it (set by engine = "auto")
    note: str | None = None  # why that engine, for the run record
    digest: RowDigest | None = None  # the rows' digest (content_hash is made from it)


class Engine(Protocol):
    """What the runner needs of an engine. Capabilities are declared, not type-checked:

    - `dataframes`: Python steps may read inputs as DataFrames (`frame`) and return them
      (`write_frame`); only Spark has it.
    - `route`: the engine that runs a step reading some registered tables (an engine
      that does not choose answers itself; "auto" chooses by input size).
    - `interrupt`: stop the running query now (a step past its timeout).
    """

    name: str
    dataframes: bool

    def register(self, tables: Iterable[TableSource]) -> None:
        """Make tables readable by name in later SQL."""

    def query(self, sql: str, *, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        """Run a SELECT and stream its result."""

    def materialize(
        self, sql: str, location: str, partition_by: Sequence[PartitionField] = ()
    ) -> Materialized:
        """Write the result of a SELECT as Parquet files under `location`.

        With `partition_by`, each file holds rows of one partition only.
        """

    def content_hash(self, files: list[str], schema: pa.Schema) -> str:
        """An order-independent fingerprint of the rows in `files` (equal on every engine)."""

    def row_digest(self, files: list[str], schema: pa.Schema) -> RowDigest:
        """The `RowDigest` of the rows in `files` (what `content_hash` is made from)."""

    def route(self, names: Iterable[str]) -> tuple[Engine, str | None]:
        """The engine for a step reading the registered tables `names`, and why (or None)."""

    def frame(self, table: TableSource) -> Any:
        """A table as a DataFrame of the engine (engines with `dataframes` only)."""

    def write_frame(self, frame: Any, location: str) -> Materialized:
        """Write a DataFrame of the engine as Parquet files (engines with `dataframes` only)."""

    def interrupt(self) -> None:
        """Stop the query running now, from another thread."""

    def close(self) -> None: ...


def no_dataframes(engine: Engine) -> ModelError:
    """The error of a DataFrame capability asked of an engine without it."""
    return ModelError(
        f"engine {engine.name} has no DataFrames: use pyarrow tables, or run the step on "
        'Spark ([engine] type = "spark")'
    )


_ENGINES = {
    "duckdb": ("batchlake.engines.duckdb", "DuckDBEngine", None),
    "spark": ("batchlake.engines.spark", "SparkEngine", "spark"),
    "auto": ("batchlake.engines.auto", "AutoEngine", None),
}


def create_engine(
    settings: EngineSettings,
    *,
    temp_directory: str | None = None,
    s3: S3Options | None = None,
    azure: AzureOptions | None = None,
) -> Engine:
    """The engine named by `engine.type`, with a clear message when its extra is missing.

    `s3` and `azure` say how to reach `s3://` and `abfs://` locations (rendered as each
    engine's own settings).
    """
    module_name, class_name, extra = _ENGINES[settings.type]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'batchlake[{extra}]'" if extra else "reinstall batchlake"
        raise ConfigError(f"engine '{settings.type}' is not available ({exc}); run {hint}") from exc
    engine: Engine = getattr(module, class_name)(
        settings, temp_directory=temp_directory, s3=s3, azure=azure
    )
    return engine
