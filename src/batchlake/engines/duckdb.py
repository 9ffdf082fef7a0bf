"""The default engine: an in-process DuckDB connection per run.

Tables are views over their Parquet files (`read_parquet([...], union_by_name)`), raw
entities live in an attached in-memory database so `raw.<source>.<entity>` resolves,
and results are written with `COPY ... TO` straight to Parquet (no Arrow round trip).
Types that Iceberg or other readers cannot take are cast on the way out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from batchlake.engines import (
    Engine,
    Materialized,
    RowDigest,
    TableSource,
    connection,
    content_hash_of,
    no_dataframes,
)
from batchlake.errors import ModelError, QueryError
from batchlake.storage import duckdb_path, filesystem_for, path_of

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from batchlake.catalog.partitioning import PartitionField
    from batchlake.config import EngineSettings
    from batchlake.storage.azure import AzureOptions
    from batchlake.storage.s3 import S3Options

# DuckDB types that Iceberg (or DuckDB's own iceberg reader) cannot take, and their casts.
# HUGEINT is written to Parquet as DOUBLE, so sums of integers are cast to DECIMAL(38,0).
_PORTABLE_CASTS = {
    "HUGEINT": "DECIMAL(38,0)",
    "UHUGEINT": "DECIMAL(38,0)",
    "UBIGINT": "DECIMAL(20,0)",
    "UINTEGER": "BIGINT",
    "USMALLINT": "INTEGER",
    "UTINYINT": "INTEGER",
    "TINYINT": "INTEGER",
    "SMALLINT": "INTEGER",
    "TIMESTAMP_NS": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP",
    "TIMESTAMP_S": "TIMESTAMP",
    "INTERVAL": "VARCHAR",
    "UUID": "VARCHAR",
    "JSON": "VARCHAR",
    "BIT": "VARCHAR",
}

_FILE_SIZE = "256MB"


class DuckDBEngine:
    """Runs DuckDB-dialect SQL in one in-memory connection."""

    name = "duckdb"
    dataframes = False

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
        self.con: duckdb.DuckDBPyConnection = connection.connect(
            memory_limit=settings.memory_limit,
            threads=settings.threads,
            temp_directory=temp_directory,
        )
        # Order of rows in a written table carries no meaning; dropping it saves memory.
        self.con.execute("SET preserve_insertion_order = false")
        if s3 is not None:
            # s3:// paths through httpfs (offline wheel), with the lake's one S3 setting.
            self.con.execute(connection.s3_secret_sql(s3))
        if azure is not None:
            # abfs:// paths as az:// through the azure extension (offline wheel).
            connection.create_azure_secret(self.con, azure)
        self._schemas: set[str] = set()
        self._counter = itertools.count()
        self._functions: set[str] = set()

    # -- reading -------------------------------------------------------------------------

    def register(self, tables: Iterable[TableSource]) -> None:
        for table in tables:
            parts = table.name.split(".")
            if len(parts) == 3:
                self._ensure_schema(parts[0], parts[1], attach=True)
            elif len(parts) == 2:
                self._ensure_schema(None, parts[0])
            else:
                raise QueryError(f"cannot register '{table.name}': use zone.table")
            target = ".".join(connection.quote_ident(p) for p in parts)
            self.con.execute(f"CREATE OR REPLACE VIEW {target} AS {self.scan_sql(table)}")

    def _ensure_schema(self, database: str | None, schema: str, attach: bool = False) -> None:
        key = f"{database}.{schema}"
        if key in self._schemas:
            return
        if attach and database is not None and database not in self._schemas:
            self.con.execute(f"ATTACH ':memory:' AS {connection.quote_ident(database)}")
            self._schemas.add(database)
        qualified = (
            f"{connection.quote_ident(database)}.{connection.quote_ident(schema)}"
            if database
            else connection.quote_ident(schema)
        )
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified}")
        self._schemas.add(key)

    def scan_sql(self, table: TableSource) -> str:
        if not table.files:
            # An empty table still has its columns: scan an empty Arrow table of that schema.
            holder = f"__empty_{next(self._counter)}"
            self.con.register(holder, table.schema.empty_table())
            return f"SELECT * FROM {connection.quote_ident(holder)}"
        files = exp.Array(expressions=[exp.Literal.string(duckdb_path(f)) for f in table.files])
        listed = files.sql(dialect="duckdb")
        if table.format == "jsonl":
            # Records as received; the batch id is the file's name.
            return (
                "SELECT * EXCLUDE (__file), "
                "regexp_extract(__file, '([^/]+)\\.jsonl\\.gz$', 1) AS _batch_id "
                f"FROM read_json({listed}, format = 'newline_delimited', union_by_name = true, "
                "hive_partitioning = false, "
                "filename = '__file')"
            )
        # Raw folders look like hive partitions (ingest_date=...): they are not columns.
        return (
            f"SELECT * FROM read_parquet({listed}, union_by_name = true, hive_partitioning = false)"
        )

    def query(self, sql: str, *, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        import duckdb

        try:
            return self.con.execute(sql).fetch_record_batch(batch_rows)
        except duckdb.Error as exc:
            raise QueryError(_first_line(exc)) from exc

    # -- writing -------------------------------------------------------------------------

    def materialize(
        self,
        sql: str,
        location: str,
        partition_by: Sequence[PartitionField] = (),
        *,
        digest: bool = True,
    ) -> Materialized:
        """`Engine.materialize`; `digest=False` skips reading the files back to hash their
        rows (for files whose digest nobody uses: the kept rows of a merge, its feed)."""
        import duckdb
        import pyarrow.parquet as pq

        options = "FILENAME_PATTERN 'part-{uuid}'"
        try:
            portable = self._portable_select(sql)
            written = portable
            if partition_by:  # DuckDB cannot also cap the file size of partitioned writes
                written, names = self._with_partitions(portable, partition_by)
                options += f", PARTITION_BY ({', '.join(names)})"
            else:
                options += f", FILE_SIZE_BYTES '{_FILE_SIZE}'"
            target = connection.quote_literal(duckdb_path(location))
            copied = self.con.execute(
                f"COPY ({written}) TO {target} (FORMAT parquet, COMPRESSION zstd, {options})"
            ).fetchone()
        except duckdb.Error as exc:
            raise ModelError(_first_line(exc)) from exc
        rows = int(copied[0]) if copied else 0
        fs = filesystem_for(location, self.s3, self.azure)
        from pyarrow.fs import FileSelector

        infos = [
            i
            for i in fs.get_file_info(
                FileSelector(path_of(location), recursive=True, allow_not_found=True)
            )
            if i.path.endswith(".parquet")
        ]
        prefix = location.split("://")[0] + "://" if "://" in location else ""
        files = sorted(prefix + i.path for i in infos)
        size = sum(int(i.size or 0) for i in infos)
        if files:
            schema = pq.read_schema(path_of(files[0]), filesystem=fs)
        else:
            schema = (
                self.con.execute(f"SELECT * FROM ({portable}) LIMIT 0").fetch_arrow_table().schema
            )
        if not digest:
            return Materialized(files, schema, rows, size, "")
        hashed = self.row_digest(files, schema)
        return Materialized(
            files, schema, rows, size, content_hash_of(schema, hashed), digest=hashed
        )

    def _with_partitions(
        self, select: str, fields: Sequence[PartitionField]
    ) -> tuple[str, list[str]]:
        """The SELECT with one column per partition field, to split the files by."""
        types = {
            str(row[0]): str(row[1]) for row in self.con.execute(f"DESCRIBE {select}").fetchall()
        }
        columns, names = [], []
        for position, field in enumerate(fields):
            if field.column not in types:
                raise ModelError(
                    f"partition_by: {field.text} names no column of the result ({', '.join(types)})"
                )
            name = f"__part{position}"
            expression = self._partition_expr(field, types[field.column])
            columns.append(f"{expression} AS {name}")
            names.append(name)
        return f"SELECT *, {', '.join(columns)} FROM ({select}) AS __result", names

    def _partition_expr(self, field: PartitionField, type_name: str) -> str:
        """A DuckDB expression equal for exactly the rows of one Iceberg partition."""
        column = connection.quote_ident(field.column)
        if "WITH TIME ZONE" in type_name:
            column = f"({column} AT TIME ZONE 'UTC')"  # Iceberg partitions timestamptz in UTC
        if field.transform == "identity":
            return column
        if field.transform in ("year", "month", "hour"):
            return f"date_trunc('{field.transform}', {column})"
        if field.transform == "day":
            return f"CAST({column} AS DATE)"
        width = field.param
        if field.transform == "truncate":
            if type_name in ("VARCHAR", "BLOB"):
                return f"left({column}, {width})"
            if type_name in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT"):
                return f"({column} - ((({column} % {width}) + {width}) % {width}))"
            raise ModelError(
                f"partition_by: {field.text} needs an integer or text column "
                f"({field.column} is {type_name})"
            )
        return f"{self._bucket_function(field, type_name)}({column})"

    def _bucket_function(self, field: PartitionField, type_name: str) -> str:
        """A DuckDB function computing Iceberg's bucket (murmur3) through PyIceberg."""
        import pyarrow as pa
        from pyiceberg.io.pyarrow import pyarrow_to_schema
        from pyiceberg.transforms import BucketTransform

        name = f"__iceberg_bucket_{field.param}_{abs(hash(type_name))}"
        if name in self._functions:
            return name
        arrow_type = self.con.execute(f"SELECT NULL::{type_name} AS x").fetch_arrow_table().schema
        iceberg_type = (
            pyarrow_to_schema(
                pa.schema(
                    [pa.field("x", arrow_type.field(0).type, metadata={b"PARQUET:field_id": b"1"})]
                )
            )
            .find_field("x")
            .field_type
        )
        compute = BucketTransform(field.param or 1).pyarrow_transform(iceberg_type)
        import duckdb

        self.con.create_function(
            name,
            lambda values: compute(values),
            [duckdb.sqltype(type_name)],
            duckdb.sqltype("INTEGER"),
            type="arrow",  # type: ignore[arg-type]
        )
        self._functions.add(name)
        return name

    def _portable_select(self, sql: str) -> str:
        """Wrap the model's SELECT with casts for types other readers cannot take."""
        described = self.con.execute(f"DESCRIBE {sql}").fetchall()
        projections: list[exp.Expr] = []
        needs_cast = False
        for name, type_name, *_ in described:
            column = exp.column(name, quoted=True)
            cast = _cast_for(str(type_name))
            if cast:
                needs_cast = True
                projections.append(
                    exp.alias_(
                        exp.cast(column, exp.DataType.build(cast, dialect="duckdb")),
                        name,
                        quoted=True,
                    )
                )
            else:
                projections.append(column)
        if not needs_cast:
            return sql
        parsed = sqlglot.parse_one(sql, read="duckdb")
        assert isinstance(parsed, exp.Query)
        subquery = parsed.subquery("__model")
        return exp.select(*projections).from_(subquery).sql(dialect="duckdb")

    def content_hash(self, files: list[str], schema: pa.Schema) -> str:
        """An order-independent fingerprint of the rows written (and their schema).

        The Spark engine computes its results' hash with this too, so both engines give
        equal hashes for equal results.
        """
        return content_hash_of(schema, self.row_digest(files, schema))

    def row_digest(self, files: list[str], schema: pa.Schema) -> RowDigest:
        if not files:
            return RowDigest()
        scan = self.scan_sql(TableSource("", files, schema))
        return self.digest_of(scan)

    def digest_of(self, select: str) -> RowDigest:
        """The `RowDigest` of the rows of a SELECT."""
        found = self.con.execute(
            f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM ({select}) AS t"
        ).fetchone()
        return RowDigest(int(found[0]), int(found[1])) if found else RowDigest()

    def route(self, names: Iterable[str]) -> tuple[Engine, str | None]:
        return self, None

    def frame(self, table: TableSource) -> Any:
        raise no_dataframes(self)

    def write_frame(self, frame: Any, location: str) -> Materialized:
        raise no_dataframes(self)

    def interrupt(self) -> None:
        """Stop the running query (from another thread), e.g. past a step's timeout."""
        self.con.interrupt()

    def close(self) -> None:
        self.con.close()


def portable_type(type_name: str) -> str:
    """The type a result column of this DuckDB type has once written (the casts above)."""
    return _cast_for(type_name) or type_name


def _cast_for(type_name: str) -> str | None:
    base = type_name.split("(")[0].strip().upper()
    if base.startswith("ENUM"):
        return "VARCHAR"
    return _PORTABLE_CASTS.get(base)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
