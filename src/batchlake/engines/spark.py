"""The Spark engine (`[engine] type = "spark"`, extra `batchlake[spark]`).

Models are written in DuckDB SQL and transpiled (`spark_sql`). Tables are temp views
over their Parquet files (the data files PyIceberg planned, or raw batches); results are
written by Spark as Parquet (`outputTimestampType=TIMESTAMP_MICROS`, which PyIceberg's
`add_files` needs) under the location the runner gives, and the catalog commits them
with PyIceberg, exactly as for DuckDB. This is the path without the Iceberg Spark
runtime; docs/scale-out.md describes running on EMR or Databricks.

One SparkSession per process, started lazily on first use and shared by every engine
instance (`close` only drops this engine's views). The content hash of a result is
computed by DuckDB over the written files, so both engines give equal hashes for equal
results and switching engines does not rewrite unchanged tables. Python steps on Spark
read their inputs as DataFrames (`frame`) and may return DataFrames, written by `write`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from batchlake.engines import Engine, Materialized, RowDigest, TableSource, content_hash_of
from batchlake.engines.spark_sql import to_spark_sql, view_name
from batchlake.errors import ModelError, QueryError
from batchlake.storage import filesystem_for, path_of, scheme_of, to_engine_path
from batchlake.storage.azure import is_azure

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from batchlake.catalog.partitioning import PartitionField
    from batchlake.config import EngineSettings
    from batchlake.engines.duckdb import DuckDBEngine
    from batchlake.storage.azure import AzureOptions
    from batchlake.storage.s3 import S3Options

_log = logging.getLogger(__name__)
_SESSION: SparkSession | None = None
_SESSION_LOCK = threading.Lock()

# Settings that make Spark's answers and files match DuckDB's (STACK.md).
BASE_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # CAST(x AS TIMESTAMP) is a timestamp without time zone, as in DuckDB.
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    # PyIceberg add_files rejects INT96 timestamps.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "zstd",
    # DuckDB returns NULL for x // 0; Spark's ANSI mode would fail the model.
    "spark.sql.ansi.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.sql.sources.commitProtocolClass": (
        "org.apache.spark.sql.execution.datasources.SQLHadoopMapReduceCommitProtocol"
    ),
}


def spark_session(settings: EngineSettings, s3: S3Options | None = None) -> SparkSession:
    """The process's SparkSession, created on first call with the project's settings."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is not None:
            running = _SESSION.sparkContext.master
            if not settings.master or settings.master == running:
                return _SESSION
            # One SparkContext per JVM: a project that names another master (a test
            # suite, a server opening two projects) gets a new application, not
            # silently the old one's executors.
            _log.warning(
                "stopping the Spark session on %s to start one on %s", running, settings.master
            )
            _SESSION.stop()
            _SESSION = None
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - create_engine reports it first
            raise ModelError("pyspark is not installed; pip install 'batchlake[spark]'") from exc
        builder = SparkSession.builder.appName("batchlake")
        if settings.master:  # empty: the master spark-submit, EMR or Databricks gives
            builder = builder.master(settings.master)
        conf: dict[str, Any] = dict(BASE_CONF)
        if settings.master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            conf["spark.driver.host"] = "127.0.0.1"
            conf["spark.driver.bindAddress"] = "127.0.0.1"
        if s3 is not None:
            conf.update(s3.spark_conf())
        conf.update(settings.conf)
        for key, value in conf.items():
            builder = builder.config(key, str(value).lower() if isinstance(value, bool) else value)
        _SESSION = builder.getOrCreate()
        _SESSION.sparkContext.setLogLevel("ERROR")
        named = conf.get("spark.pyspark.python")
        if named or (settings.master.startswith("local") and "PYSPARK_PYTHON" not in os.environ):
            # The Python the executors start (bucket partitions run PyIceberg there).
            # PySpark takes it from PYSPARK_PYTHON only when a session is built in-process,
            # as here, so `spark.pyspark.python` in [engine] conf is applied explicitly;
            # locally the default is this interpreter (it has batchlake's dependencies),
            # not the first `python3` on PATH.
            _SESSION.sparkContext.pythonExec = str(named or sys.executable)
        return _SESSION


def stop_session() -> None:
    """Stop the process's SparkSession (tests and long-lived servers)."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is not None:
            _SESSION.stop()
            _SESSION = None


def spark_path(location: str) -> str:
    """What Spark's Hadoop filesystems take: plain local paths, `s3a://` for S3."""
    path = to_engine_path(location)
    if path.startswith("s3://"):
        return "s3a://" + path[len("s3://") :]
    return path


class SparkEngine:
    """Runs DuckDB-dialect model SQL on Spark."""

    name = "spark"
    dataframes = True

    def __init__(
        self,
        settings: EngineSettings,
        *,
        temp_directory: str | None = None,
        s3: S3Options | None = None,
        azure: AzureOptions | None = None,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.azure = azure
        self.temp_directory = temp_directory
        self._views: dict[str, str] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._duck: DuckDBEngine | None = None
        # The same files read once per engine: a model's inputs are often earlier inputs.
        self._frames: dict[tuple[str, tuple[str, ...]], DataFrame] = {}

    @property
    def spark(self) -> SparkSession:
        return spark_session(self.settings, self.s3)

    # -- reading -------------------------------------------------------------------------

    def register(self, tables: Iterable[TableSource]) -> None:
        for table in tables:
            if any(scheme_of(f) in ("s3", "s3a") for f in table.files):
                _require_s3a(self.spark)
            if any(is_azure(f) for f in table.files):
                _refuse_azure()
            view = view_name(table.name)
            key = (table.format, tuple(table.files))
            if key not in self._frames or not table.files:
                self._frames[key] = self.dataframe(table)
            self._frames[key].createOrReplaceTempView(view)
            self._views[table.name.lower()] = view
            self._schemas[table.name.lower()] = table.schema

    def frame(self, table: TableSource) -> DataFrame:
        """A table as a Spark DataFrame, registered and read once per engine.

        What a Python step on Spark gets from `ctx.dataframe(name)`.
        """
        self.register([table])
        return self._frames[(table.format, tuple(table.files))]

    def dataframe(self, table: TableSource) -> DataFrame:
        """A new Spark DataFrame over a table's files (planned Iceberg files or raw batches)."""
        from pyspark.sql import functions as F

        reader = self.spark.read
        paths = [spark_path(f) for f in table.files]
        if table.format == "jsonl":
            if not paths:
                return self.spark.createDataFrame([], "_batch_id string")
            frame = reader.json(paths)
            batch = F.regexp_extract(F.input_file_name(), r"([^/]+)\.jsonl\.gz$", 1)
            return frame.withColumn("_batch_id", batch)
        if not paths:
            return self.spark.createDataFrame(table.schema.empty_table())
        # Raw folders look like hive partitions (ingest_date=...): they are not columns.
        # Batches captured at different times may differ in columns: merge their schemas.
        reader = reader.option("recursiveFileLookup", "true")
        if len(paths) > 1:
            reader = reader.option("mergeSchema", "true")
        return reader.parquet(*paths)

    def _sql(self, sql: str) -> DataFrame:
        spark_sql = to_spark_sql(sql, self._views, self._schemas)
        try:
            return self.spark.sql(spark_sql)
        except Exception as exc:
            raise ModelError(f"Spark rejected the model: {_spark_message(exc)}") from exc

    def query(self, sql: str, *, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        try:
            table = self._sql(sql).toArrow()
        except ModelError as exc:
            raise QueryError(str(exc)) from exc
        except Exception as exc:
            raise QueryError(_spark_message(exc)) from exc
        return table.to_reader(max_chunksize=batch_rows)

    # -- writing -------------------------------------------------------------------------

    def materialize(
        self, sql: str, location: str, partition_by: Sequence[PartitionField] = ()
    ) -> Materialized:
        return self.write_frame(self._sql(sql), location, partition_by)

    def write_frame(
        self, frame: DataFrame, location: str, partition_by: Sequence[PartitionField] = ()
    ) -> Materialized:
        """Write a DataFrame as Parquet files under `location` (which must not exist yet).

        Used for SQL results and for the Spark DataFrames Python steps return: portable
        types, TIMESTAMP_MICROS, no Spark metadata in the schema, DuckDB's content hash.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyarrow.fs import FileSelector

        frame = _portable(frame)
        if scheme_of(location) in ("s3", "s3a"):
            _require_s3a(self.spark)
        if is_azure(location):
            _refuse_azure()
        names = []
        for position, field in enumerate(partition_by):
            names.append(f"__part{position}")
            frame = frame.withColumn(names[-1], _partition_column(frame, field))
        try:
            writer = frame.write.mode("errorifexists")
            if names:
                writer = writer.partitionBy(*names)
            writer.parquet(spark_path(location))
        except Exception as exc:
            raise ModelError(_spark_message(exc)) from exc
        fs = filesystem_for(location, self.s3, self.azure)
        infos = fs.get_file_info(
            FileSelector(path_of(location), recursive=True, allow_not_found=True)
        )
        for info in infos:  # Hadoop's checksums beside local files are not table data
            if info.base_name.endswith(".crc"):
                fs.delete_file(info.path)
        parquet = [i for i in infos if i.base_name.endswith(".parquet")]
        prefix = location.split("://")[0] + "://" if "://" in location else ""
        files = sorted(prefix + i.path for i in parquet)
        size = sum(int(i.size or 0) for i in parquet)
        rows = 0
        schema: pa.Schema | None = None
        for i in parquet:
            meta = pq.read_metadata(i.path, filesystem=fs)
            rows += meta.num_rows
            schema = schema or meta.schema.to_arrow_schema()
        if schema is None:
            schema = frame.drop(*names).limit(0).toArrow().schema
        # What DuckDB's files carry: no Spark metadata, every column nullable.
        schema = pa.schema([pa.field(f.name, f.type, nullable=True) for f in schema])
        digest = self.row_digest(files, schema)
        return Materialized(
            files, schema, rows, size, content_hash_of(schema, digest), digest=digest
        )

    def content_hash(self, files: list[str], schema: pa.Schema) -> str:
        """DuckDB's fingerprint of the rows in `files`, so both engines agree."""
        return self._hasher().content_hash(files, schema)

    def row_digest(self, files: list[str], schema: pa.Schema) -> RowDigest:
        return self._hasher().row_digest(files, schema)

    def _hasher(self) -> DuckDBEngine:
        if self._duck is None:
            from batchlake.config import EngineSettings
            from batchlake.engines.duckdb import DuckDBEngine

            self._duck = DuckDBEngine(
                EngineSettings(memory_limit="1GB", threads=2),
                temp_directory=self.temp_directory,
                s3=self.s3,
                azure=self.azure,
            )
        return self._duck

    def route(self, names: Iterable[str]) -> tuple[Engine, str | None]:
        return self, None

    def interrupt(self) -> None:
        """Cancel the session's running jobs (a step past its timeout)."""
        if _SESSION is not None:
            _SESSION.sparkContext.cancelAllJobs()

    def close(self) -> None:
        if _SESSION is not None:
            for view in self._views.values():
                _SESSION.catalog.dropTempView(view)
        self._views.clear()
        self._schemas.clear()
        self._frames.clear()
        if self._duck is not None:
            self._duck.close()
            self._duck = None


def _partition_column(frame: DataFrame, field: PartitionField) -> Any:
    """A Spark column equal for exactly the rows of one Iceberg partition."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    column = F.col(f"`{field.column}`")
    kind = frame.schema[field.column].dataType
    if isinstance(kind, T.TimestampType):  # Spark's session time zone is UTC (see spark_session)
        column = column.cast("timestamp")
    if field.transform == "identity":
        return column
    if field.transform in ("year", "month", "hour"):
        return F.date_trunc(field.transform, column)
    if field.transform == "day":
        return F.to_date(column)
    width = field.param or 1
    if field.transform == "truncate":
        if isinstance(kind, T.StringType):
            return F.substring(column, 1, width)
        if isinstance(kind, T.IntegerType | T.LongType | T.ShortType | T.ByteType):
            return column - F.pmod(column, F.lit(width))
        raise ModelError(f"partition_by: {field.text} needs an integer or text column")
    return _bucket_column(column, kind, field)


def _bucket_column(column: Any, kind: Any, field: PartitionField) -> Any:
    """Iceberg's bucket of a column, computed by PyIceberg's own transform in an Arrow UDF.

    The same function DuckDB's writes use (murmur3 over Iceberg's byte layout of each
    type), so no file holds rows of two buckets; `catalog.partitioning.data_files` then
    reads each file's partition value from its rows. Spark's Python workers run it: they
    need pyiceberg with pyiceberg-core, as the driver has (docs/scale-out.md).
    """
    import pyarrow as pa
    from pyiceberg.io.pyarrow import pyarrow_to_schema
    from pyiceberg.transforms import BucketTransform
    from pyspark.sql.functions import arrow_udf
    from pyspark.sql.pandas.types import to_arrow_type

    arrow = to_arrow_type(kind, timezone="UTC")
    numbered = pa.field(field.column, arrow, metadata={b"PARQUET:field_id": b"1"})
    iceberg_type = pyarrow_to_schema(pa.schema([numbered])).find_field(field.column).field_type
    transform: BucketTransform[Any] = BucketTransform(field.param or 1)
    if not transform.can_transform(iceberg_type):
        raise ModelError(f"partition_by: {field.text} does not apply to {iceberg_type} columns")
    try:
        transform.pyarrow_transform(iceberg_type)
    except Exception as exc:  # PyIceberg computes it on Arrow arrays with pyiceberg-core
        raise ModelError(
            f"partition_by: {field.text} on Spark needs pyiceberg-core: "
            f"pip install 'pyiceberg[pyiceberg-core]' ({exc})"
        ) from exc
    count = field.param or 1

    def bucket(values):  # no hints: see below
        # Built on the worker: the Rust function inside cannot be pickled.
        from pyiceberg.transforms import BucketTransform

        return BucketTransform(count).pyarrow_transform(iceberg_type)(values)

    # PySpark's stubs know only UDFs with Arrow type hints, which it resolves in this
    # module's globals (where pyarrow is not imported): left out, the UDF is scalar.
    return arrow_udf(bucket, "int")(column)  # type: ignore[call-overload]


def _portable(frame: DataFrame) -> DataFrame:
    """Cast Spark types other readers (Iceberg, DuckDB) do not take the same way."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    casts = {
        T.ByteType: "int",
        T.ShortType: "int",
        T.NullType: "string",
        T.CharType: "string",
        T.VarcharType: "string",
    }
    columns = []
    changed = False
    for field in frame.schema.fields:
        target = casts.get(type(field.dataType))
        if target:
            changed = True
            columns.append(F.col(f"`{field.name}`").cast(target).alias(field.name))
        else:
            columns.append(F.col(f"`{field.name}`"))
    return frame.select(*columns) if changed else frame


def _require_s3a(spark: SparkSession) -> None:
    """Spark writes s3:// through hadoop-aws (s3a); fail clearly when it is missing."""
    jvm = spark.sparkContext._jvm
    try:
        jvm.java.lang.Class.forName("org.apache.hadoop.fs.s3a.S3AFileSystem")  # type: ignore[union-attr]
    except Exception as exc:
        raise ModelError(
            "Spark cannot read or write s3:// here: hadoop-aws is not on its classpath; add "
            "spark.jars.packages = 'org.apache.hadoop:hadoop-aws:<your Hadoop version>' to "
            "[engine.conf] (EMR and Databricks have it), or use engine type 'duckdb' for S3"
        ) from exc


def _refuse_azure() -> None:
    """Spark on abfs:// needs hadoop-azure and account-qualified URLs: not wired up yet."""
    raise ModelError(
        "the Spark engine does not read or write abfs:// lakes yet (docs/scale-out.md, "
        "'Azure Blob Storage'); use engine type 'duckdb' for a lake on Azure"
    )


def _spark_message(exc: Exception) -> str:
    """The first meaningful line of a Spark (JVM) error; a Python worker's own error."""
    import re

    text = str(exc).strip()
    if "Python worker" in text:
        # The worker's traceback ends with the Python error (JVM errors have dotted names).
        found = re.search(r"^([A-Z]\w*(?:Error|Exception): .*)$", text, re.MULTILINE)
        if found:
            message = f"Spark's Python worker failed: {found.group(1)[:400]}"
            if found.group(1).startswith("ModuleNotFoundError"):
                message += (
                    "; install batchlake's dependencies for the workers' Python and name it "
                    "with PYSPARK_PYTHON (or spark.pyspark.python)"
                )
            return message
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Traceback", "JVM stacktrace")):
            return line[:500]
    return type(exc).__name__
