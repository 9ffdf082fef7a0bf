"""Relational databases read by DuckDB's scanners: SQLite, PostgreSQL and MySQL/MariaDB.

Each is read by DuckDB's scanner for that database (measured fastest Arrow path with
exact decimals, see docs), attached read-only; the rows stream out as Arrow record
batches of `batch_rows`, so memory does not grow with the table.

Types: PostgreSQL tables, and MySQL tables with decimals over 38 digits, are read through
the database's own SQL (`postgres_query`, `mysql_query`) with the columns DuckDB would not
read exactly cast (see `postgres`, `mysql`), and `capture.conform` makes every batch exact
Arrow with the source's NOT NULL, or refuses it naming the column. `tables = "*"` means
base tables: views only with `views = true`, inheritance children and partitions through
their parent. The mapping of every type: docs/types.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from batchlake.capture import (
    Capture,
    DiffSpec,
    EntityState,
    redact_url,
    scrub_url_secret,
    snake_case,
)
from batchlake.capture.conform import ColumnRule, Conformer
from batchlake.capture.sql import mysql, postgres
from batchlake.capture.sql.connectorx import connectorx_reader, split_column
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
# What a listed relation is: "*" takes tables and parents (views with `views = true`);
# children (inheritance, partitions) are read through their parent.
TABLE, PARENT, VIEW, CHILD = "table", "parent", "view", "child"


@dataclass
class _Plan:
    """How one entity is read: a DuckDB relation, its columns as read, their rules."""

    relation: str
    columns: list[tuple[str, str]]  # (source column, DuckDB type)
    rules: dict[str, ColumnRule] = field(default_factory=dict)  # by source column
    native: bool = False  # read through the database's own SQL (cursor window included)


class SqlSource:
    """A relational database read through a DuckDB scanner."""

    def __init__(self, name: str, settings: SqlSourceSettings, project: Project) -> None:
        self.name = name
        self.settings = settings
        self.url = project.resolve_url(settings.url)
        self.work_dir = project.state_dir / "tmp"
        self._con: duckdb.DuckDBPyConnection | None = None
        self._tables: dict[str, tuple[str, str]] | None = None
        self._roles: dict[str, str] = {}  # entity -> TABLE, PARENT, VIEW or CHILD

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = self._attach()
        return self._con

    @property
    def kind(self) -> str:
        """DuckDB's scanner for the URL: sqlite, postgres or mysql."""
        return _attach_target(self.url, self.name)[0]

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

    def _native_rows(self, sql: str) -> list[tuple[object, ...]]:
        """Rows of `sql` run by the database itself (PostgreSQL or MySQL SQL)."""
        import duckdb

        relation = f"{self.kind}_query({connection.quote_literal(_ALIAS)}, " + (
            f"{connection.quote_literal(sql)})"
        )
        try:
            return self.con.execute(f"SELECT * FROM {relation}").fetchall()
        except duckdb.Error as exc:
            detail = scrub_url_secret(str(exc).splitlines()[0], self.url)
            raise SourceError(
                f"source '{self.name}': reading the catalog of {redact_url(self.url)} "
                f"failed: {detail}"
            ) from None

    def _list_tables(self) -> tuple[list[tuple[str, str, str]], str]:
        """Every (schema, relation, role) of the database, and the schema needing no prefix."""
        # MySQL's schema is the database of the URL: its tables need no prefix either.
        database = urlsplit(self.url).path.lstrip("/")
        if self.kind == "mysql" and database:
            # Asked of the server: DuckDB's catalog would load every database's tables.
            listed = []
            for schema, table, kind in self._native_rows(mysql.RELATIONS):
                role = (
                    TABLE if kind in mysql.TABLE_TYPES else VIEW if kind in mysql.VIEW_TYPES else ""
                )
                if role:
                    listed.append((str(schema), str(table), role))
            return listed, database
        if self.kind == "postgres":
            return [
                (
                    r.schema,
                    r.name,
                    CHILD if r.child else VIEW if r.view else PARENT if r.parent else TABLE,
                )
                for r in postgres.relations(self._native_rows)
            ], database
        # SQLite: literals, not bound parameters (binding makes DuckDB import pandas, 0.4 s).
        alias = connection.quote_literal(_ALIAS)
        sql = (
            f"SELECT schema_name, table_name, 'table' FROM duckdb_tables() "
            f"WHERE database_name = {alias} UNION ALL "
            f"SELECT schema_name, view_name, 'view' FROM duckdb_views() "
            f"WHERE database_name = {alias} AND NOT internal ORDER BY 1, 2"
        )
        return [(r[0], r[1], r[2]) for r in self.con.execute(sql).fetchall()], database

    def _discover(self) -> dict[str, tuple[str, str]]:
        if self._tables is None:
            rows, database = self._list_tables()
            default_schemas = {"main", "public", "", database}
            found: dict[str, tuple[str, str]] = {}
            for schema, table, role in rows:
                if schema in _SYSTEM_SCHEMAS or schema.startswith("pg_temp"):
                    continue
                label = table if schema in default_schemas else f"{schema}_{table}"
                entity = snake_case(label) if self.settings.naming == "snake_case" else label
                found[entity] = (schema, table)
                self._roles[entity] = role
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
            wanted = {TABLE, PARENT, VIEW} if self.settings.views else {TABLE, PARENT}
            chosen = [e for e in tables if self._roles.get(e, TABLE) in wanted]
        else:  # named relations are captured whatever they are (views, partitions)
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

    def _rename(self, column: str) -> str:
        return snake_case(column) if self.settings.naming == "snake_case" else column

    def read(self, entity: str, state: EntityState) -> Capture:
        options = self._options(entity)
        cursor = options.cursor if options is not None and options.mode == "incremental" else None
        located: tuple[str, str] | None = None  # (schema, table) of a table entity
        if isinstance(options, SqlQuerySettings):
            plan = self._query_plan(options.sql)
        else:
            located = self._discover()[self._lookup(entity)]
            plan = self._table_plan(*located, entity, cursor, state)
        columns = plan.columns
        rename = {c: self._rename(c) for c, _ in columns}
        sql = _select(plan.relation, columns, rename)
        cursor_column = None
        if cursor is not None:
            cursor_column = self._cursor_column(cursor, [c for c, _ in columns], entity)
            if not plan.native:
                sql += _cursor_window(cursor_column, dict(columns)[cursor_column], state)
        read = None
        windowed = state.until is not None  # backfills take DuckDB's scanner
        if (
            located is not None
            and not windowed
            and not plan.native
            and not any(r.declared.startswith("time") for r in plan.rules.values())
            and self._use_connectorx()
        ):  # ConnectorX cannot read MySQL TIME past 24 h (a duration): DuckDB does
            since = state.cursor if cursor_column is not None else None
            split = split_column(options, columns, rename)
            read = self._connectorx_read(sql, located, rename, cursor_column, since, split)
        reader, stream_of = read if read is not None else (self._execute(sql, entity, plan), None)
        conformer = Conformer(
            f"source '{self.name}', {entity}",
            reader.schema,
            {rename[c]: rule for c, rule in plan.rules.items() if c in rename},
            fix=f"capture {entity} with a custom query ([sources.{self.name}.queries.{entity}]) "
            "that casts the column",
        )
        batches: Iterator[pa.RecordBatch] = self._guarded(reader, entity, plan)
        if conformer.changes:
            batches = conformer.batches(batches)
        capture = Capture(format="arrow", schema=conformer.target, cursor=state.cursor)
        capture.stream_of = stream_of
        capture.diff = self._diff_spec(entity)
        if cursor_column is None:
            capture.batches = batches
        else:
            capture.batches = _tracking_max(batches, rename[cursor_column], capture)
        return capture

    def _table_plan(
        self, schema: str, table: str, entity: str, cursor: str | None, state: EntityState
    ) -> _Plan:
        """A table as DuckDB reads it, or through the database's SQL where that is not exact."""
        where = f"source '{self.name}', {entity}"
        rules: dict[str, ColumnRule] = {}
        if self.kind == "postgres":
            # Always PostgreSQL's own SELECT (see `postgres`): the same types whatever the
            # table's columns, and parents read with their children.
            planned = postgres.columns(self._native_rows, schema, table, where)
            window = ""
            if cursor is not None:
                column = self._cursor_column(cursor, [c.name for c in planned], entity)
                chosen = next(c for c in planned if c.name == column)
                window = postgres.cursor_window(chosen, state.cursor, state.until)
            sql = postgres.select(schema, table, planned, window)
            return self._native_plan(sql, {c.name: c.rule for c in planned})
        elif self.kind == "mysql":
            rules, read_as = mysql.columns(self._native_rows, schema, table, where)
            if read_as:
                names = list(rules)
                window = ""
                if cursor is not None:
                    column = self._cursor_column(cursor, names, entity)
                    window = mysql.cursor_window(column, state.cursor, state.until)
                plan = self._native_plan(
                    mysql.select(schema, table, names, read_as) + window, rules
                )
                # mysql_query reads JSON, UUID and INET6 as bytes where the attached scan
                # reads text: the same columns must keep the same types.
                attached = dict(self._describe(_attached(schema, table)))
                for column, kind in plan.columns:
                    if column not in read_as and kind != attached[column] == "VARCHAR":
                        read_as[column] = f"CAST({mysql.ident(column)} AS CHAR)"
                sql = mysql.select(schema, table, names, read_as) + window
                return self._native_plan(sql, rules)
        relation = _attached(schema, table)
        # DESCRIBE loads this table only; duckdb_columns() would load the whole catalog.
        described = self.con.execute(f"DESCRIBE {relation}").fetchall()
        columns = [(row[0], row[1]) for row in described]
        if self.kind == "sqlite":
            rules = {row[0]: ColumnRule(nullable=row[2] != "NO") for row in described}
        return _Plan(relation, columns, rules)

    def _describe(self, relation: str) -> list[tuple[str, str]]:
        return [(row[0], row[1]) for row in self.con.execute(f"DESCRIBE {relation}").fetchall()]

    def _native_plan(self, sql: str, rules: dict[str, ColumnRule]) -> _Plan:
        relation = (
            f"{self.kind}_query({connection.quote_literal(_ALIAS)}, "
            f"{connection.quote_literal(sql)}) AS q"
        )
        described = self.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        return _Plan(relation, [(row[0], row[1]) for row in described], rules, native=True)

    def _query_plan(self, sql: str) -> _Plan:
        """A custom query as a relation: native SQL for PostgreSQL/MySQL, DuckDB's for SQLite."""
        if self.kind in ("postgres", "mysql"):
            relation = (
                f"{self.kind}_query({connection.quote_literal(_ALIAS)}, "
                f"{connection.quote_literal(sql)})"
            )
        else:
            self.con.execute(f"USE {_ALIAS}")
            relation = f"({sql})"
        described = self.con.execute(f"DESCRIBE SELECT * FROM {relation} AS q").fetchall()
        return _Plan(f"{relation} AS q", [(row[0], row[1]) for row in described])

    def _guarded(
        self, reader: pa.RecordBatchReader, entity: str, plan: _Plan
    ) -> Iterator[pa.RecordBatch]:
        """The batches; a value the scanner cannot convert names its column and the fix."""
        import duckdb

        try:
            yield from reader
        except duckdb.Error as exc:
            raise self._read_failure(exc, entity, plan) from None

    def _read_failure(self, exc: Exception, entity: str, plan: _Plan | None) -> SourceError:
        detail = scrub_url_secret(str(exc).splitlines()[0], self.url)
        column = self._failing_column(plan) if plan is not None else None
        if column is None:
            return SourceError(f"source '{self.name}': reading {entity} failed: {detail}")
        name, kind = column
        fix = (
            f'set sources.{self.name}.reader = "sqlalchemy" (it reads SQLite\'s declared '
            "types as Python does), or leave the column out with a custom query"
            if self.kind == "sqlite"
            else f"capture {entity} with a custom query that casts the column"
        )
        return SourceError(
            f"source '{self.name}': reading {entity} failed at column '{name}' (read as "
            f"{kind}): {detail}; {fix}"
        )

    def _failing_column(self, plan: _Plan) -> tuple[str, str] | None:
        """The first column of `plan` that cannot be read on its own, if one is to blame."""
        import duckdb

        for column, kind in plan.columns:
            quoted = connection.quote_ident(column)
            try:
                self.con.execute(f"SELECT count({quoted}) FROM {plan.relation}").fetchall()
            except duckdb.Error:
                return column, kind
        return None

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
        return connectorx_reader(
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
        if self.kind != "mysql":
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

    def _cursor_column(self, wanted: str, columns: list[str], entity: str) -> str:
        for column in columns:
            if wanted in (column, self._rename(column)):
                return column
        raise ConfigError(
            f"source '{self.name}': cursor '{wanted}' is not a column of {entity} "
            f"(columns: {', '.join(self._rename(c) for c in columns)})"
        )

    def _execute(self, sql: str, entity: str, plan: _Plan | None = None) -> pa.RecordBatchReader:
        import duckdb

        try:
            return self.con.execute(sql).fetch_record_batch(self.settings.batch_rows)
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            raise self._read_failure(exc, entity, plan) from None  # a value: find its column
        except duckdb.Error as exc:
            raise self._read_failure(exc, entity, None) from None

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


def _attached(schema: str, table: str) -> str:
    """A table of the attached database, as DuckDB names it."""
    return ".".join(connection.quote_ident(p) for p in (_ALIAS, schema, table))


def _tracking_max(
    reader: Iterator[pa.RecordBatch], column: str, capture: Capture
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
    """SELECT every column of `relation` under its captured name.

    `TIME WITH TIME ZONE` becomes ISO text with its offset ('13:45:01.5+05:30'): Arrow's
    time types have no offset, and DuckDB's conversion would drop it.
    """

    def projection(column: str, kind: str) -> str:
        quoted = connection.quote_ident(column)
        value = f"CAST({quoted} AS VARCHAR)" if kind == "TIME WITH TIME ZONE" else quoted
        return f"{value} AS {connection.quote_ident(rename[column])}"

    return f"SELECT {', '.join(projection(c, k) for c, k in columns)} FROM {relation}"


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
