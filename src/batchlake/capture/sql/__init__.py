"""Relational sources (`type = "sql"`): SQLite, PostgreSQL, MySQL/MariaDB and any SQLAlchemy URL.

`scanner` reads the databases DuckDB has scanners for (the fast Arrow path, exact
decimals); `sqlalchemy_reader` reads every other SQLAlchemy URL. `sql_source` picks one
by the URL's scheme and the `reader` setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchlake.capture.sql.scanner import SqlSource

if TYPE_CHECKING:
    from batchlake.config import Project, SqlSourceSettings

__all__ = ["SqlSource", "sql_source"]


def sql_source(name: str, settings: SqlSourceSettings, project: Project) -> SqlSource:
    """The relational source for a URL: DuckDB's scanners where they exist, else SQLAlchemy."""
    scheme = settings.url.split("://", 1)[0].split("+", 1)[0].lower()
    scanned = scheme in ("sqlite", "postgresql", "postgres", "mysql", "mariadb")
    if settings.reader == "sqlalchemy" or (settings.reader == "auto" and not scanned):
        from batchlake.capture.sql.sqlalchemy_reader import SqlAlchemySource

        return SqlAlchemySource(name, settings, project)
    return SqlSource(name, settings, project)
