"""Relational databases read by DuckDB's scanners: SQLite, PostgreSQL and MySQL/MariaDB.

Each is read by DuckDB's scanner for that database (measured fastest Arrow path with
exact decimals, see docs), attached read-only; the rows stream out as Arrow record
batches of `batch_rows`, so memory does not grow with the table.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from batchlake.capture import (
    Capture,
    DiffSpec,
    EntityState,
    redact_url,
    scrub_url_secret,
    snake_case,
)
from batchlake.config import SqlEntitySettings, SqlQuerySettings
from batchlake.engines import connection
from batchlake.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from batchlake.config import Project, SqlSourceSettings

_ALIAS = "src"
# Schemas of the database system itself, never captured by `tables = "*"`.
_SYSTEM_SCHEMAS = {
    "information_schema",
    "pg_catalog",
    "pg_toast",
    "mysql",
    "performance_schema",
    "sys",
}


class SqlSource:
    """A relational database read through a DuckDB scanner."""

    def __init__(self, name: str, settings: SqlSourceSettings, project: Project) -> None:
        self.name = name
        self.settings = settings
        self.url = project.resolve_url(settings.url)
        self.work_dir = project.state_dir / "tmp"
        self._con: duckdb.DuckDBPyConnection | None = None
        self._tables: dict[str, tuple[str, str]] | None = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = self._attach()
        return self._con

    def _attach(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        kind, target = _attach_target(self.url, self.name)
        con = connection.connect(check_signatures=False)  # the project's own SQL only
        try:
            con.execute(
                f"ATTACH {connection.quote_literal(target)} AS {_ALIAS} (TYPE {kind}, READ_ONLY)"
            )
        except duckdb.Error as exc:
            con.close()
            detail = scrub_url_secret(str(exc).splitlines()[0], self.url)
            raise SourceError(
                f"source '{self.name}': cannot connect to {redact_url(self.url)}: "
                f"{detail}; check sources.{self.name}.url"
            ) from None
        return con

    def _list_tables(self) -> tuple[list[tuple[str, str]], str]:
        """Every (schema, table) of the database, and the schema that needs no prefix."""
        # MySQL's schema is the database of the URL: its tables need no prefix either.
        database = urlsplit(self.url).path.lstrip("/")
        if _attach_target(self.url, self.name)[0] == "mysql" and database:
            # Asked of the server: DuckDB's catalog would load every database's tables.
            listing = (
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema = DATABASE() ORDER BY table_name"
            )
            sql = (
                f"SELECT * FROM mysql_query({connection.quote_literal(_ALIAS)}, "
                f"{connection.quote_literal(listing)})"
            )
        else:
            # Literals, not bound parameters: binding makes DuckDB import pandas (~0.4 s).
            sql = (
                "SELECT schema_name, table_name FROM duckdb_tables() "
                f"WHERE database_name = {connection.quote_literal(_ALIAS)} "
                "ORDER BY schema_name, table_name"
            )
        rows = self.con.execute(sql).fetchall()
        return [(r[0], r[1]) for r in rows], database

    def _discover(self) -> dict[str, tuple[str, str]]:
        if self._tables is None:
            rows, database = self._list_tables()
            default_schemas = {"main", "public", "", database}
            found: dict[str, tuple[str, str]] = {}
            for schema, table in rows:
                if schema in _SYSTEM_SCHEMAS or schema.startswith("pg_temp"):
                    continue
                label = table if schema in default_schemas else f"{schema}_{table}"
                entity = snake_case(label) if self.settings.naming == "snake_case" else label
                found[entity] = (schema, table)
            self._tables = found
        return self._tables

    def _lookup(self, wanted: str) -> str:
        tables = self._discover()
        if wanted in tables:
            return wanted
        for entity, (_, table) in tables.items():
            if wanted in (table, snake_case(table)):
                return entity
        raise SourceError(
            f"source '{self.name}' has no table '{wanted}' "
            f"(it has: {', '.join(tables) or 'none'}); "
            f"fix sources.{self.name}.tables"
        )

    def entities(self) -> list[str]:
        tables = self._discover()
        if self.settings.tables == "*":
            chosen = list(tables)
        else:
            chosen = [self._lookup(t) for t in self.settings.tables]
        excluded = {self._lookup(t) for t in self.settings.exclude}
        queries = [
            snake_case(q) if self.settings.naming == "snake_case" else q
            for q in self.settings.queries
        ]
        return [e for e in chosen if e not in excluded] + queries

    def _options(self, entity: str) -> SqlEntitySettings | SqlQuerySettings | None:
        """The per-entity options, found by entity name or by the source's table name."""
        found = self._find_options(entity)
        return found[1] if found else None

    def _find_options(self, entity: str) -> tuple[str, SqlEntitySettings | SqlQuerySettings] | None:
        """The entity's options and where they are in batchlake.toml."""
        for name, query in self.settings.queries.items():
            if entity in (name, snake_case(name)):
                return f"sources.{self.name}.queries.{name}", query
        for name, options in self.settings.entities.items():
            if name == entity or snake_case(name) == entity:
                return f"sources.{self.name}.entities.{name}", options
            if entity in self._discover() and self._discover()[entity][1] == name:
                return f"sources.{self.name}.entities.{name}", options
        return None

    def _diff_spec(self, entity: str) -> DiffSpec | None:
        """How to compare a `mode = "diff"` entity (None for other modes)."""
        found = self._find_options(entity)
        if found is None or found[1].mode != "diff":
            return None
        where, options = found
        return DiffSpec(tuple(options.primary_key), f"{where}.primary_key", self.work_dir)

    def describe(self, entity: str) -> dict[str, str]:
        options = self._options(entity)
        if isinstance(options, SqlQuerySettings):
            what = "query"
        else:
            schema, table = self._discover()[self._lookup(entity)]
            what = f"{schema}.{table}" if schema not in ("main", "public") else table
        return {
            "reads": what,
            "mode": options.mode if options else "full",
            "cursor": (options.cursor or "") if options else "",
            "primary_key": ",".join(options.primary_key) if options else "",
        }

    def read(self, entity: str, state: EntityState) -> Capture:
        options = self._options(entity)
        located: tuple[str, str] | None = None  # (schema, table) of a table entity
        if isinstance(options, SqlQuerySettings):
            relation, columns = self._query_relation(options.sql)
        else:
            located = self._discover()[self._lookup(entity)]
            relation, columns = self._table_relation(*located)
        rename = {
            c: (snake_case(c) if self.settings.naming == "snake_case" else c) for c, _ in columns
        }
        sql = _select(relation, columns, rename)
        cursor_column = None
        if options is not None and options.mode == "incremental":
            assert options.cursor is not None
            cursor_column = self._cursor_column(options.cursor, columns, rename, entity)
            sql += _cursor_window(cursor_column, dict(columns)[cursor_column], state)
        read = None
        windowed = state.until is not None  # backfills take DuckDB's scanner
        if located is not None and not windowed and self._use_connectorx():
            since = state.cursor if cursor_column is not None else None
            split = _split_column(options, columns, rename)
            read = self._connectorx_read(sql, located, rename, cursor_column, since, split)
        reader, stream_of = read if read is not None else (self._execute(sql, entity), None)
        capture = Capture(format="arrow", schema=reader.schema, cursor=state.cursor)
        capture.stream_of = stream_of
        capture.diff = self._diff_spec(entity)
        if cursor_column is None:
            capture.batches = reader
        else:
            capture.batches = _tracking_max(reader, rename[cursor_column], capture)
        return capture

    def _table_relation(self, schema: str, table: str) -> tuple[str, list[tuple[str, str]]]:
        """A table of the attached database as a relation, and its (column, type) pairs."""
        relation = ".".join(connection.quote_ident(p) for p in (_ALIAS, schema, table))
        # DESCRIBE loads this table only; duckdb_columns() would load the whole catalog.
        described = self.con.execute(f"DESCRIBE {relation}").fetchall()
        return relation, [(row[0], row[1]) for row in described]

    def _connectorx_read(
        self,
        sql: str,
        located: tuple[str, str],
        rename: dict[str, str],
        cursor_column: str | None,
        since: str | None,
        split: str | None,
    ) -> tuple[pa.RecordBatchReader, Callable[[pa.RecordBatch], int] | None] | None:
        """The table read by ConnectorX as DuckDB's `sql` would type it, or None to use DuckDB."""
        target = self.con.execute(f"{sql} LIMIT 0").fetch_arrow_table().schema
        schema, table = located
        return _connectorx_reader(
            self.url,
            schema,
            table,
            rename,
            target,
            cursor_column,
            since,
            batch_rows=self.settings.batch_rows,
            split=split,
            partitions=self.settings.partitions,
        )

    def _use_connectorx(self) -> bool:
        """ConnectorX reads MySQL/MariaDB ~4× faster than DuckDB's scanner (see docs)."""
        if self.settings.reader not in ("auto", "connectorx"):
            return False
        if _attach_target(self.url, self.name)[0] != "mysql":
            return False
        try:
            import connectorx  # noqa: F401
        except ImportError:
            if self.settings.reader == "connectorx":
                raise ConfigError(
                    f"sources.{self.name}.reader = 'connectorx' needs pip install connectorx"
                ) from None
            return False
        return True

    def _query_relation(self, sql: str) -> tuple[str, list[tuple[str, str]]]:
        """A custom query as a relation: native SQL for PostgreSQL/MySQL, DuckDB's for SQLite."""
        kind = _attach_target(self.url, self.name)[0]
        if kind in ("postgres", "mysql"):
            relation = (
                f"{kind}_query({connection.quote_literal(_ALIAS)}, {connection.quote_literal(sql)})"
            )
        else:
            self.con.execute(f"USE {_ALIAS}")
            relation = f"({sql})"
        described = self.con.execute(f"DESCRIBE SELECT * FROM {relation} AS q").fetchall()
        return f"{relation} AS q", [(row[0], row[1]) for row in described]

    def _cursor_column(
        self, wanted: str, columns: list[tuple[str, str]], rename: dict[str, str], entity: str
    ) -> str:
        for column, _ in columns:
            if wanted in (column, rename[column]):
                return column
        raise ConfigError(
            f"source '{self.name}': cursor '{wanted}' is not a column of {entity} "
            f"(columns: {', '.join(rename.values())})"
        )

    def _execute(self, sql: str, entity: str) -> pa.RecordBatchReader:
        import duckdb

        try:
            return self.con.execute(sql).fetch_record_batch(self.settings.batch_rows)
        except duckdb.Error as exc:
            detail = scrub_url_secret(str(exc).splitlines()[0], self.url)
            raise SourceError(f"source '{self.name}': reading {entity} failed: {detail}") from None

    def windowed_entities(self) -> list[str] | None:
        """The incremental entities and queries: a cursor window can be re-read."""
        options = {**self.settings.entities, **self.settings.queries}
        return [name for name, o in options.items() if o.mode == "incremental"]

    def interrupt(self) -> None:
        """Stop a DuckDB scan running in another thread (a step past its timeout)."""
        if self._con is not None:
            self._con.interrupt()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def _tracking_max(
    reader: pa.RecordBatchReader, column: str, capture: Capture
) -> Iterator[pa.RecordBatch]:
    """Pass batches through, leaving the column's maximum (as text) in `capture.cursor`."""
    import pyarrow.compute as pc

    best = None
    for batch in reader:
        value = pc.max(batch.column(column)).as_py()
        if value is not None and (best is None or value > best):
            best = value
        yield batch
    if best is not None:
        capture.cursor = best.isoformat() if hasattr(best, "isoformat") else str(best)


def _select(relation: str, columns: list[tuple[str, str]], rename: dict[str, str]) -> str:
    """SELECT every column of `relation` under its captured name."""
    projections = ", ".join(
        f"{connection.quote_ident(c)} AS {connection.quote_ident(rename[c])}" for c, _ in columns
    )
    return f"SELECT {projections} FROM {relation}"


def _cursor_window(column: str, kind: str, state: EntityState) -> str:
    """The WHERE clause of an incremental read: past the cursor, or a backfill's [from, to]."""
    quoted = connection.quote_ident(column)
    conditions = []
    if state.cursor is not None:
        bound = connection.quote_literal(state.cursor)
        op = ">=" if state.until is not None else ">"
        conditions.append(f"{quoted} {op} CAST({bound} AS {kind})")
    if state.until is not None:
        conditions.append(f"{quoted} <= CAST({connection.quote_literal(state.until)} AS {kind})")
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT"}  # fmt: skip


def _split_column(
    options: SqlEntitySettings | SqlQuerySettings | None,
    columns: list[tuple[str, str]],
    rename: dict[str, str],
) -> str | None:
    """The column a read may be split on: a primary key of one integer column."""
    if options is None or len(options.primary_key) != 1:
        return None
    wanted = options.primary_key[0]
    for column, kind in columns:
        if wanted in (column, rename[column]) and kind.upper() in _INTEGER_TYPES:
            return column
    return None


def _connectorx_reader(
    url: str,
    database: str,
    table: str,
    rename: dict[str, str],
    target: pa.Schema,
    cursor_column: str | None,
    since: str | None,
    *,
    batch_rows: int,
    split: str | None = None,
    partitions: int = 1,
) -> tuple[pa.RecordBatchReader, Callable[[pa.RecordBatch], int] | None] | None:
    """Stream a MySQL table with ConnectorX, cast to the exact types DuckDB reports.

    ConnectorX widens DECIMAL to (38,10) and TINYINT(1) to int8: each batch is cast back
    (safely: a value that does not fit fails). MySQL TIMESTAMP columns depend on the
    session time zone, so tables with them are left to DuckDB's scanner (None).

    With a `split` column (an integer primary key) and `partitions` > 1 the table is read
    as that many ranges of the key in parallel. Each ConnectorX batch comes from one
    range, so the batch's first key tells its stream (the second value returned).
    """
    import connectorx as cx
    import pyarrow as pa

    if any(pa.types.is_timestamp(f.type) and f.type.tz for f in target):
        return None
    columns = ", ".join(f"{_my_ident(c)} AS {_my_ident(rename[c])}" for c in rename)
    source = f"{_my_ident(database)}.{_my_ident(table)}"
    select = f"SELECT {columns} FROM {source}"
    conditions = []
    if cursor_column is not None and since is not None:
        conditions.append(f"{_my_ident(cursor_column)} > {_my_literal(since.replace('T', ' '))}")
    parts = urlsplit(url)
    login = f"{unquote(parts.username or 'root')}:{unquote(parts.password or '')}"
    cx_url = f"mysql://{login}@{parts.hostname or 'localhost'}:{parts.port or 3306}{parts.path}"
    edges = _ranges(cx, cx_url, source, conditions, split, partitions) if split else []
    if len(edges) > 2:
        assert split is not None
        key = _my_ident(split)
        queries = [
            _where(select, [*conditions, f"{key} >= {low}", f"{key} < {high}"])
            for low, high in itertools.pairwise(edges)
        ]
    else:
        queries = [_where(select, conditions)]
    stream = cx.read_sql(
        cx_url,
        queries if len(queries) > 1 else queries[0],
        return_type="arrow_stream",
        batch_size=batch_rows,
    )

    def cast() -> Iterator[pa.RecordBatch]:
        for batch in stream:
            arrays = [batch.column(f.name).cast(f.type, safe=True) for f in target]
            yield pa.RecordBatch.from_arrays(arrays, schema=target)

    reader = pa.RecordBatchReader.from_batches(target, cast())
    if len(queries) == 1:
        return reader, None
    assert split is not None
    column = rename[split]

    def stream_of(batch: pa.RecordBatch) -> int:
        keys = batch.column(column)
        first, last = (bisect.bisect_right(edges, keys[i].as_py()) for i in (0, -1))
        if first != last:  # ConnectorX mixed two ranges in one batch: the hash would vary
            raise SourceError(
                f"a partitioned read of {table} returned rows of two ranges in one batch; "
                "set partitions = 1 on the source"
            )
        return first

    return reader, stream_of


def _my_ident(name: str) -> str:
    """A MySQL identifier, quoted (sqlglot would do it too, at 0.06 s of import per capture)."""
    return "`" + name.replace("`", "``") + "`"


def _my_literal(value: str) -> str:
    """A MySQL string literal; backslashes escaped for the default (non-ANSI) SQL mode."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _where(select: str, conditions: list[str]) -> str:
    return f"{select} WHERE {' AND '.join(conditions)}" if conditions else select


def _ranges(
    cx: Any, url: str, source: str, conditions: list[str], split: str, partitions: int
) -> list[int]:
    """Edges of `partitions` equal ranges of the key: [e0, e1), [e1, e2)...; [] if small."""
    if partitions < 2:
        return []
    key = _my_ident(split)
    bounds = _where(f"SELECT MIN({key}) AS lo, MAX({key}) AS hi FROM {source}", conditions)
    found = cx.read_sql(url, bounds, return_type="arrow")
    low, high = found.column("lo")[0].as_py(), found.column("hi")[0].as_py()
    if low is None or high - low + 1 < partitions * 10_000:  # small: one stream is quicker
        return []
    span = high - low + 1
    return [low + span * i // partitions for i in range(partitions)] + [high + 1]


def _attach_target(url: str, name: str) -> tuple[str, str]:
    """The DuckDB ATTACH type and target string for a database URL."""
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        if not Path(path).is_file():
            raise SourceError(
                f"source '{name}': the SQLite file {path} does not exist; "
                f"fix sources.{name}.url (or the variable it reads)"
            )
        return "sqlite", path
    if scheme in ("postgresql", "postgres"):
        return "postgres", "postgresql://" + url.split("://", 1)[1]
    if scheme in ("mysql", "mariadb"):
        parts = urlsplit(url)
        fields = {
            "host": parts.hostname or "localhost",
            "port": str(parts.port or 3306),
            "user": unquote(parts.username or "root"),
            "password": unquote(parts.password or ""),
            "database": parts.path.lstrip("/"),
        }
        return "mysql", " ".join(f"{k}={v}" for k, v in fields.items() if v)
    raise ConfigError(
        f"sources.{name}.url: scheme '{scheme}' is not supported; "
        "use sqlite:///, postgresql:// or mysql://"
    )
