"""Relational databases by URL: SQLite, PostgreSQL and MySQL/MariaDB.

Each is read by DuckDB's scanner for that database (measured fastest Arrow path with
exact decimals, see docs), attached read-only; the rows stream out as Arrow record
batches of `batch_rows`, so memory does not grow with the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from batchlake import duck
from batchlake.errors import ConfigError, SourceError
from batchlake.sources import snake_case

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
        con = duck.connect()
        try:
            con.execute(f"ATTACH {duck.quote_literal(target)} AS {_ALIAS} (TYPE {kind}, READ_ONLY)")
        except duckdb.Error as exc:
            con.close()
            detail = _scrub(str(exc).splitlines()[0], self.url)
            raise SourceError(
                f"source '{self.name}': cannot connect to {_redact(self.url)}: "
                f"{detail}; check sources.{self.name}.url"
            ) from None
        return con

    def _discover(self) -> dict[str, tuple[str, str]]:
        if self._tables is None:
            rows = self.con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                "WHERE database_name = ? ORDER BY schema_name, table_name",
                [_ALIAS],
            ).fetchall()
            # MySQL's schema is the database of the URL: its tables need no prefix either.
            default_schemas = {"main", "public", "", urlsplit(self.url).path.lstrip("/")}
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
        return [e for e in chosen if e not in excluded]

    def read(self, entity: str) -> pa.RecordBatchReader:
        import duckdb

        schema, table = self._discover()[self._lookup(entity)]
        relation = ".".join(duck.quote_ident(p) for p in (_ALIAS, schema, table))
        columns = self.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? "
            "AND schema_name = ? AND table_name = ? ORDER BY column_index",
            [_ALIAS, schema, table],
        ).fetchall()
        projections = []
        for (column,) in columns:
            alias = snake_case(column) if self.settings.naming == "snake_case" else column
            projections.append(f"{duck.quote_ident(column)} AS {duck.quote_ident(alias)}")
        try:
            return self.con.execute(
                f"SELECT {', '.join(projections)} FROM {relation}"
            ).fetch_record_batch(self.settings.batch_rows)
        except duckdb.Error as exc:
            raise SourceError(
                f"source '{self.name}': reading {table} failed: {str(exc).splitlines()[0]}"
            ) from exc

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


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


def _scrub(text: str, url: str) -> str:
    """`text` with the URL's password (as written and decoded) replaced by ***."""
    password = urlsplit(url).password
    if password:
        for secret in {password, unquote(password)}:
            text = text.replace(secret, "***")
    return text


def _redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
