"""`engine.type = "auto"`: DuckDB for small models, Spark for large ones.

Each model runs on DuckDB unless the files of the tables it reads total at least
`engine.spark_above`; then it runs on Spark. Both engines give the same results and the
same content hashes (see engines/spark.py), so a table may move between them from one
run to the next without being rewritten. Spark starts only when a model needs it.
Python steps are routed by the same rule (their declared inputs): a step routed to
Spark sees `ctx.engine == "spark"` and may use `ctx.dataframe`. Interactive queries
always use DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from batchlake.config import parse_size
from batchlake.engines import Engine, Materialized, RowDigest, TableSource, no_dataframes
from batchlake.engines.duckdb import DuckDBEngine
from batchlake.storage import filesystem_for, path_of

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.catalog.partitioning import PartitionField
    from batchlake.config import EngineSettings
    from batchlake.storage.azure import AzureOptions
    from batchlake.storage.s3 import S3Options


class AutoEngine:
    """Chooses DuckDB or Spark per model by the size of its inputs."""

    name = "auto"
    dataframes = False  # the engine a step is routed to may have them

    def __init__(
        self,
        settings: EngineSettings,
        *,
        temp_directory: str | None = None,
        s3: S3Options | None = None,
        azure: AzureOptions | None = None,
    ) -> None:
        self.settings = settings
        self.temp_directory = temp_directory
        self.s3 = s3
        self.azure = azure
        self.threshold = parse_size(settings.spark_above)
        self.duckdb = DuckDBEngine(settings, temp_directory=temp_directory, s3=s3, azure=azure)
        self._spark: Engine | None = None
        self._tables: dict[str, TableSource] = {}
        self._sizes: dict[str, int] = {}

    def register(self, tables: Iterable[TableSource]) -> None:
        listed = list(tables)
        self.duckdb.register(listed)
        for table in listed:
            self._tables[table.name.lower()] = table
            self._sizes.pop(table.name.lower(), None)

    def query(self, sql: str, *, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        return self.duckdb.query(sql, batch_rows=batch_rows)

    def input_bytes(self, sql: str) -> int:
        """The total size of the files of the registered tables `sql` reads."""
        return sum(self._size(name) for name in _tables_read(sql) if name in self._tables)

    def route(self, names: Iterable[str]) -> tuple[Engine, str | None]:
        """The engine for a step reading the registered tables `names`, and why.

        Spark (with those tables registered) when their files total at least
        `spark_above`, else DuckDB. SQL models and Python steps are routed alike.
        """
        read = [n.lower() for n in names if n.lower() in self._tables]
        size = sum(self._size(name) for name in read)
        if size >= self.threshold:
            engine = self.spark
            engine.register(self._tables[name] for name in read)
            return engine, (
                f"ran on spark: input {_human(size)} ≥ spark_above {self.settings.spark_above}"
            )
        return self.duckdb, (
            f"ran on duckdb: input {_human(size)} < spark_above {self.settings.spark_above}"
        )

    def frame(self, table: TableSource) -> Any:
        raise no_dataframes(self)  # a step routed to Spark gets the Spark engine itself

    def write_frame(self, frame: Any, location: str) -> Materialized:
        raise no_dataframes(self)

    def interrupt(self) -> None:
        self.duckdb.interrupt()
        if self._spark is not None:
            self._spark.interrupt()

    def materialize(
        self, sql: str, location: str, partition_by: Sequence[PartitionField] = ()
    ) -> Materialized:
        engine, why = self.route(_tables_read(sql))
        written = engine.materialize(sql, location, partition_by)
        return replace(written, engine=engine.name, note=why)

    def content_hash(self, files: list[str], schema: pa.Schema) -> str:
        return self.duckdb.content_hash(files, schema)

    def row_digest(self, files: list[str], schema: pa.Schema) -> RowDigest:
        return self.duckdb.row_digest(files, schema)

    @property
    def spark(self) -> Engine:
        if self._spark is None:
            from batchlake.engines.spark import SparkEngine

            self._spark = SparkEngine(
                self.settings, temp_directory=self.temp_directory, s3=self.s3, azure=self.azure
            )
        return self._spark

    def _size(self, name: str) -> int:
        if name not in self._sizes:
            files = self._tables[name].files
            total = 0
            if files:
                fs = filesystem_for(files[0], self.s3, self.azure)
                total = sum(int(i.size or 0) for i in fs.get_file_info([path_of(f) for f in files]))
            self._sizes[name] = total
        return self._sizes[name]

    def close(self) -> None:
        self.duckdb.close()
        if self._spark is not None:
            self._spark.close()


def _tables_read(sql: str) -> set[str]:
    """Dotted names of the tables a SELECT reads (CTE names excluded), lower case."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = set()
    for table in tree.find_all(exp.Table):
        parts = [p for p in (table.catalog, table.db, table.name) if p]
        name = ".".join(parts).lower()
        if name and not (len(parts) == 1 and name in ctes):
            names.add(name)
    return names


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
