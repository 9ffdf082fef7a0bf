"""DuckDB connections with batchlake's settings: offline extensions, memory limit, spilling.

Each run opens its own short-lived, in-process connection; no DuckDB file is shared
between processes, so there are no single-writer lock fights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def connect(
    *, memory_limit: str | None = None, threads: int = 0, temp_directory: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that loads extensions from the installed wheels.

    Extensions come from the `duckdb-ext-*` packages (signed official binaries), so
    nothing is downloaded at run time.
    """
    import duckdb
    import duckdb_ext

    config: dict[str, str | bool | int | float | list[str]] = {
        "extension_directory": duckdb_ext.get_extension_dir(),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    if temp_directory:
        config["temp_directory"] = temp_directory
    return duckdb.connect(":memory:", config=config)


def quote_ident(name: str) -> str:
    """A DuckDB identifier, quoted (used for names batchlake itself reads from schemas)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
